package io.postern.proxy.compress;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.util.ReferenceCountUtil;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.Deflater;

/**
 * Compresses what is written to a connection with raw deflate. Writes are deflated without a
 * flush, so that a batch of relayed lines compresses as one; a channel flush ends the batch with
 * a sync flush (RFC 4978 section 4: the peer must be able to decode everything sent so far), so
 * compression adds no waiting of its own.
 *
 * <p>A write's promise completes when the flush that carries its bytes has been written, which
 * keeps write listeners meaning what they meant without compression. One instance per channel;
 * all calls on the channel's event loop.
 */
public final class DeflateHandler extends ChannelOutboundHandlerAdapter {

    private static final int CHUNK = 16 * 1024;
    private static final byte[] NO_INPUT = new byte[0];

    private final Deflater deflater;
    private final List<ChannelPromise> unflushed = new ArrayList<>();
    private long bytesIn;
    private long bytesOut;

    /** @param level 1 (fastest) to 9 (smallest); 6 is zlib's default */
    public DeflateHandler(int level) {
        this.deflater = new Deflater(level, true);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (!(msg instanceof ByteBuf in)) {
            ctx.write(msg, promise);
            return;
        }
        try {
            if (deflater.finished()) {
                promise.setFailure(new IllegalStateException("the deflate stream has ended"));
                return;
            }
            bytesIn += in.readableBytes();
            ByteBuffer input = in.nioBufferCount() == 1 ? in.nioBuffer() : copy(in);
            deflater.setInput(input);
            while (!deflater.needsInput()) {
                drain(ctx, Deflater.NO_FLUSH);
            }
            deflater.setInput(NO_INPUT); // the buffer is released below: keep no reference to it
            if (!promise.isVoid()) {
                unflushed.add(promise);
            }
        } catch (RuntimeException e) {
            promise.tryFailure(e);
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    private static ByteBuffer copy(ByteBuf in) {
        ByteBuffer b = ByteBuffer.allocate(in.readableBytes());
        in.getBytes(in.readerIndex(), b);
        b.flip();
        return b;
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        if (!deflater.finished()) {
            // a sync flush is complete when it left room in the buffer it wrote to
            while (drain(ctx, Deflater.SYNC_FLUSH)) {
                // more output to take
            }
        }
        if (!unflushed.isEmpty()) {
            List<ChannelPromise> waiting = new ArrayList<>(unflushed);
            unflushed.clear();
            ctx.write(ctx.alloc().buffer(0)).addListener(f -> {
                for (ChannelPromise p : waiting) {
                    if (f.isSuccess()) {
                        p.trySuccess();
                    } else {
                        p.tryFailure(f.cause());
                    }
                }
            });
        }
        ctx.flush();
    }

    /** Writes what the deflater gives into one buffer; {@code true} when that buffer came back full. */
    private boolean drain(ChannelHandlerContext ctx, int flush) {
        ByteBuf out = ctx.alloc().directBuffer(CHUNK);
        int n;
        try {
            n = deflater.deflate(out.nioBuffer(out.writerIndex(), out.writableBytes()), flush);
        } catch (RuntimeException e) {
            out.release();
            throw e;
        }
        if (n == 0) {
            out.release();
            return false;
        }
        out.writerIndex(out.writerIndex() + n);
        bytesOut += n;
        ctx.write(out, ctx.voidPromise());
        return n == CHUNK;
    }

    /** Bytes given to the deflater so far. */
    public long bytesIn() {
        return bytesIn;
    }

    /** Compressed bytes written so far. */
    public long bytesOut() {
        return bytesOut;
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        deflater.end();
        for (ChannelPromise p : unflushed) {
            p.tryFailure(new IllegalStateException("the connection closed before the data was flushed"));
        }
        unflushed.clear();
    }
}
