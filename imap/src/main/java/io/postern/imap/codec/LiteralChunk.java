package io.postern.imap.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;

/**
 * A piece of literal data: a retained slice of the decoder's input, never a copy. A literal
 * arrives as one or more chunks; the one with {@link #last()} ends it (a zero-length literal is a
 * single empty last chunk).
 */
public final class LiteralChunk extends DefaultByteBufHolder implements ImapFrame {

    private final boolean last;

    public LiteralChunk(ByteBuf content, boolean last) {
        super(content);
        this.last = last;
    }

    public boolean last() {
        return last;
    }

    @Override
    public LiteralChunk replace(ByteBuf content) {
        return new LiteralChunk(content, last);
    }

    @Override
    public LiteralChunk retain() {
        super.retain();
        return this;
    }

    @Override
    public LiteralChunk retain(int increment) {
        super.retain(increment);
        return this;
    }

    @Override
    public LiteralChunk touch(Object hint) {
        super.touch(hint);
        return this;
    }

    @Override
    public String toString() {
        return "LiteralChunk(" + content().readableBytes() + " bytes, last=" + last + ")";
    }
}
