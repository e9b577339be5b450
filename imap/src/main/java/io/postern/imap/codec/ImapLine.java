package io.postern.imap.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;

/**
 * One CRLF-terminated line of a command or response, as it was on the wire (the line ending
 * included). A command or response that carries literals is several lines: the first one, then
 * after each literal a continuation line ({@link #first()} is {@code false}) that goes on with the
 * same logical command or response.
 *
 * <pre>
 *   a1 LOGIN {5}\r\n      first line, announces {5}
 *   alice                 LiteralChunk (last)
 *    {2}\r\n              continuation line, announces {2}
 *   pw                    LiteralChunk (last)
 *   \r\n                  continuation line, ends the command
 * </pre>
 *
 * The content is a retained slice of the decoder's input: release it, or pass it on.
 */
public final class ImapLine extends DefaultByteBufHolder implements ImapFrame {

    private final boolean first;
    private final LiteralAnnouncement literal;

    public ImapLine(ByteBuf content, boolean first, LiteralAnnouncement literal) {
        super(content);
        this.first = first;
        this.literal = literal;
    }

    /** {@code true} when this line starts a command or response, {@code false} after a literal. */
    public boolean first() {
        return first;
    }

    /** The literal that follows this line, or {@code null} when the command or response ends here. */
    public LiteralAnnouncement literal() {
        return literal;
    }

    /** {@code true} when this line ends its command or response (no literal follows). */
    public boolean last() {
        return literal == null;
    }

    /** The number of bytes before the line ending (CRLF or a lone LF). */
    public int textLength() {
        ByteBuf c = content();
        int n = c.readableBytes();
        if (n > 0 && c.getByte(c.readerIndex() + n - 1) == '\n') {
            n--;
            if (n > 0 && c.getByte(c.readerIndex() + n - 1) == '\r') {
                n--;
            }
        }
        return n;
    }

    @Override
    public ImapLine replace(ByteBuf content) {
        return new ImapLine(content, first, literal);
    }

    @Override
    public ImapLine retain() {
        super.retain();
        return this;
    }

    @Override
    public ImapLine retain(int increment) {
        super.retain(increment);
        return this;
    }

    @Override
    public ImapLine touch(Object hint) {
        super.touch(hint);
        return this;
    }

    /** Length and shape only: a line may carry a password. */
    @Override
    public String toString() {
        return "ImapLine(" + content().readableBytes() + " bytes, first=" + first
                + (literal == null ? "" : ", literal=" + literal) + ")";
    }
}
