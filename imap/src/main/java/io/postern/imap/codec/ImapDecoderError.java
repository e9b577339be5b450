package io.postern.imap.codec;

/**
 * Input the decoder refused. Nothing of the offending line or literal was buffered.
 *
 * <p>After {@link Kind#LINE_TOO_LONG}, {@link Kind#TOO_MANY_LITERALS} and a non-synchronizing
 * {@link Kind#LITERAL_TOO_LARGE} the stream cannot be resynchronised: the decoder discards
 * everything that follows, and the session answers and closes. After a synchronizing
 * {@link Kind#LITERAL_TOO_LARGE} in the first line of a command the sender has not sent the data
 * (it waits for a {@code +} that will not come); the decoder goes on with the next line.
 *
 * @param kind what was wrong
 * @param tag the tag of the command, when the first line started with one; {@code null} otherwise
 * @param firstLine {@code true} when the refused input was in the first line of its command, so
 *     nothing of that command has been passed on yet
 * @param literal the refused literal, for {@link Kind#LITERAL_TOO_LARGE}; otherwise {@code null}
 * @param recoverable {@code true} when the decoder goes on with the next command
 */
public record ImapDecoderError(
        Kind kind, String tag, boolean firstLine, LiteralAnnouncement literal, boolean recoverable)
        implements ImapFrame {

    public enum Kind {
        /** No line ending within {@link ImapDecoderConfig#maxLineLength()}. */
        LINE_TOO_LONG,
        /**
         * A literal larger than the limit that applies (before or after authentication), or one
         * whose size does not fit in RFC 9051's {@code number64}, whatever the limit.
         */
        LITERAL_TOO_LARGE,
        /** More literals in one command than {@link ImapDecoderConfig#maxLiteralsPerCommand()}. */
        TOO_MANY_LITERALS,
        /** The input ended inside a line, a literal, or a command that announced more. */
        TRUNCATED
    }
}
