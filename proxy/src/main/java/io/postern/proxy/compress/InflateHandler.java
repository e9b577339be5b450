package io.postern.proxy.compress;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.DecoderException;
import io.netty.util.ReferenceCountUtil;
import java.nio.ByteBuffer;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * Inflates what a peer sends with raw deflate, and passes the plain bytes on to the frame
 * decoder.
 *
 * <p>Deflate expands up to about a thousandfold, so one read must not become an unbounded burst:
 * each read passes on at most {@link #BUDGET} plain bytes, and the compressed input left over
 * waits for the next {@code read()}, which this handler answers from that input before asking
 * the socket for more. The connection's own backpressure (reads requested only while the other
 * side is writable) therefore holds for inflated data too.
 *
 * <p>Malformed input is a {@link DecoderException} fired down the pipeline. A stream that ends
 * (a final block, sent by a peer about to close) passes on what it held; bytes after its end are
 * dropped. One instance per channel; all calls on its
 * event loop.
 */
public final class InflateHandler extends ChannelDuplexHandler {

    /**
     * Plain bytes passed on per read at most: what one plain socket read brings (Netty reads at
     * most 64 KiB at a time). More would let one compressed read hold the event loop, and every
     * session on it, for as many pipelined commands as four plain reads.
     */
    static final int BUDGET = 64 * 1024;
    private static final int CHUNK = 16 * 1024;
    /** Plain bytes passed on at most when the peer closes with input left. */
    static final int MAX_AT_CLOSE = 64 * BUDGET;
    private static final byte[] NO_INPUT = new byte[0];

    private final Inflater inflater = new Inflater(true);
    /** Compressed input the inflater has not taken in full; retained until it has. */
    private ByteBuf input;
    private boolean failed;
    /** The peer's deflate stream ended with a final block. */
    private boolean ended;
    private long bytesIn;
    private long bytesOut;

    /** @param buffered compressed bytes that arrived before the handler was in place, or {@code null} */
    public InflateHandler(ByteBuf buffered) {
        if (buffered != null && buffered.isReadable()) {
            input = buffered;
            startInput(buffered);
            bytesIn += buffered.readableBytes();
        } else if (buffered != null) {
            buffered.release();
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf in)) {
            ctx.fireChannelRead(msg);
            return;
        }
        if (failed || ended) {
            in.release();
            return;
        }
        bytesIn += in.readableBytes();
        if (input == null) {
            input = in;
            startInput(in);
        } else {
            // only when the pipeline read more before the left-over input was used up
            input.skipBytes(input.readableBytes() - inflater.getRemaining());
            ByteBuf joined = ctx.alloc().buffer(input.readableBytes() + in.readableBytes());
            joined.writeBytes(input).writeBytes(in);
            in.release();
            input.release();
            input = joined;
            startInput(joined);
        }
        inflate(ctx);
    }

    private void startInput(ByteBuf in) {
        ByteBuffer b;
        if (in.nioBufferCount() == 1) {
            b = in.nioBuffer();
        } else {
            b = ByteBuffer.allocate(in.readableBytes());
            in.getBytes(in.readerIndex(), b);
            b.flip();
        }
        inflater.setInput(b);
    }

    /** Passes on plain bytes until the input is used up or the budget for this read is spent. */
    private void inflate(ChannelHandlerContext ctx) {
        int produced = 0;
        while (input != null && produced < BUDGET && !failed) {
            ByteBuf out = ctx.alloc().buffer(CHUNK);
            int n;
            try {
                n = inflater.inflate(out.nioBuffer(out.writerIndex(), out.writableBytes()));
                if (n == 0 && inflater.needsDictionary()) {
                    throw new DataFormatException("a preset dictionary is not part of COMPRESS=DEFLATE");
                }
            } catch (DataFormatException e) {
                out.release();
                fail(ctx, e);
                return;
            }
            if (inflater.finished()) {
                // a final block: the peer ended its stream, as Dovecot does when it closes after
                // LOGOUT; anything after it is not IMAP and is dropped
                ended = true;
                releaseInput();
            } else if (inflater.needsInput() && n < CHUNK) {
                // all input taken and all output out; with the buffer full, zlib may still hold
                // output of what it took (a match across the buffer's end): the next call gets it
                inflater.setInput(NO_INPUT);
                input.release();
                input = null;
            }
            if (n == 0) {
                out.release();
                continue;
            }
            out.writerIndex(out.writerIndex() + n);
            produced += n;
            bytesOut += n;
            ctx.fireChannelRead(out);
        }
    }

    private void fail(ChannelHandlerContext ctx, DataFormatException e) {
        failed = true;
        releaseInput();
        ctx.fireExceptionCaught(new DecoderException("COMPRESS=DEFLATE: " + e.getMessage(), e));
    }

    /**
     * The peer closed: what it sent before is passed on first, as the frame decoder behind passes
     * on what it holds before the close (a backend that answers a pipelined FETCH and LOGOUT and
     * closes has sent the whole FETCH). Bounded by {@link #MAX_AT_CLOSE}: a stream that inflates
     * further is cut there.
     */
    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (input != null && !failed) {
            int passed = 0;
            while (input != null && !failed && passed < MAX_AT_CLOSE) {
                long before = bytesOut;
                inflate(ctx);
                passed += (int) (bytesOut - before);
            }
            releaseInput();
            ctx.fireChannelReadComplete();
        }
        super.channelInactive(ctx);
    }

    /** Serves a read from the left-over input first; the socket is read only when none is left. */
    @Override
    public void read(ChannelHandlerContext ctx) {
        if (input == null || failed) {
            ctx.read();
            return;
        }
        // not inside the caller's stack: it may be in the middle of handling the last chunk
        ctx.executor().execute(() -> {
            if (input == null || failed) {
                ctx.read();
                return;
            }
            long before = bytesOut;
            inflate(ctx);
            if (bytesOut == before && input == null && !failed) {
                ctx.read(); // the input held nothing more after all (see inflate): the socket then
                return;
            }
            ctx.fireChannelReadComplete();
        });
    }

    /** Compressed bytes received so far. */
    public long bytesIn() {
        return bytesIn;
    }

    /** Plain bytes passed on so far. */
    public long bytesOut() {
        return bytesOut;
    }

    private void releaseInput() {
        if (input != null) {
            ReferenceCountUtil.release(input);
            input = null;
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releaseInput();
        inflater.end();
    }
}
