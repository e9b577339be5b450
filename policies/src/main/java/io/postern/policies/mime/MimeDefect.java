package io.postern.policies.mime;

/**
 * Something malformed that a {@link MimeParser} met and got past. A defect never stops the
 * parser except {@link Kind#TOO_MANY_PARTS}; what a defect means for the message (deliver, block)
 * is the caller's decision.
 *
 * @param kind what was wrong
 * @param offset where it was noticed, in bytes from the start of the message
 * @param partIndex the {@link MimePart#index()} of the part it belongs to
 * @param detail a short human-readable explanation, never message content beyond a header name
 */
public record MimeDefect(Kind kind, long offset, int partIndex, String detail) {

    /** The kinds of defect. */
    public enum Kind {
        /** A header block longer than {@link MimeParserConfig#maxHeaderBytes()}. */
        HEADER_TOO_LONG,
        /** A header line that is neither {@code name: value} nor a continuation; it is ignored. */
        MALFORMED_HEADER,
        /** A part's header block ended by a boundary or the end of the message, not a blank line. */
        MISSING_HEADER_END,
        /** A {@code multipart/*} without a usable {@code boundary} parameter; treated as a leaf. */
        MISSING_BOUNDARY,
        /** A multipart whose boundary never appears: its body was not parsed into parts. */
        BOUNDARY_NEVER_FOUND,
        /** A multipart that ended (outer boundary or end of message) without its close delimiter. */
        MISSING_CLOSE_DELIMITER,
        /** Characters outside the base64 alphabet, or a truncated last group; they are skipped. */
        BAD_BASE64,
        /** An {@code =} not followed by two hex digits or a line end; it is kept as it is. */
        BAD_QUOTED_PRINTABLE,
        /** A {@code Content-Transfer-Encoding} the parser does not decode; the body is passed raw. */
        UNKNOWN_TRANSFER_ENCODING,
        /** Nesting deeper than {@link MimeParserConfig#maxDepth()}. */
        NESTING_TOO_DEEP,
        /** More parts than {@link MimeParserConfig#maxParts()}; the rest of the message is not parsed. */
        TOO_MANY_PARTS
    }
}
