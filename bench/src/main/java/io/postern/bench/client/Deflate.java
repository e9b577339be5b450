package io.postern.bench.client;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * The client's side of COMPRESS=DEFLATE (RFC 4978): raw deflate both ways, each write
 * sync-flushed so the server sees every command at once. Placed below the IMAP handler and above
 * TLS, so the byte counter under it sees what crosses the socket.
 */
final class Deflate extends ChannelDuplexHandler {

    private final Inflater inflater = new Inflater(true);
    private final Deflater deflater = new Deflater(6, true);
    private final byte[] chunk = new byte[64 * 1024];

    private ChannelHandlerContext context;

    /**
     * Installs it on a connection whose COMPRESS DEFLATE was just answered OK, from the response
     * callback (on its event loop): the bytes read with the OK and after it are inflated.
     */
    static void install(ImapConnection connection) {
        connection.channel().pipeline().addBefore("imap", "deflate", new Deflate());
        connection.parser().pauseAfterResponse();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        context = ctx;
    }

    /** Compressed bytes that arrived in the same read as the OK. */
    void inflateLeftover(ByteBuf rest) {
        try {
            channelRead(context, rest);
        } catch (DataFormatException e) {
            context.fireExceptionCaught(e);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws DataFormatException {
        ByteBuf in = (ByteBuf) msg;
        ByteBuf out = ctx.alloc().heapBuffer(Math.max(256, in.readableBytes() * 4));
        try {
            byte[] data = new byte[in.readableBytes()];
            in.readBytes(data);
            inflater.setInput(data);
            while (true) {
                int n = inflater.inflate(chunk);
                if (n == 0) {
                    if (inflater.needsInput() || inflater.finished()) {
                        break;
                    }
                    if (inflater.needsDictionary()) {
                        throw new DataFormatException("preset dictionary in a COMPRESS stream");
                    }
                }
                out.writeBytes(chunk, 0, n);
            }
        } catch (DataFormatException | RuntimeException e) {
            out.release();
            throw e;
        } finally {
            in.release();
        }
        ctx.fireChannelRead(out);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        ByteBuf in = (ByteBuf) msg;
        ByteBuf out = ctx.alloc().heapBuffer(in.readableBytes() / 2 + 64);
        try {
            byte[] data = new byte[in.readableBytes()];
            in.readBytes(data);
            deflater.setInput(data);
            int n;
            do {
                n = deflater.deflate(chunk, 0, chunk.length, Deflater.SYNC_FLUSH);
                out.writeBytes(chunk, 0, n);
            } while (n == chunk.length);
        } finally {
            in.release();
        }
        ctx.write(out, promise);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        inflater.end();
        deflater.end();
    }
}
