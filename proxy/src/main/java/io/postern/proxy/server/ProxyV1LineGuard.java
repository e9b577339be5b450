package io.postern.proxy.server;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds a PROXY protocol v1 header line to the 107 bytes, CRLF included, that the protocol allows,
 * however the line arrives. Netty's decoder checks a line's length only against what it holds at
 * each read, so a line of 108 characters passed when it came in one read and was refused when it
 * came byte by byte (found by {@code ProxyProtocolFuzzTest}); here it is refused both ways, before
 * the decoder sees it. Lets a v2 header (or anything not starting with {@code P}) through untouched,
 * and leaves the pipeline at the end of the line.
 */
final class ProxyV1LineGuard extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(ProxyV1LineGuard.class);

    /** The longest v1 line, CRLF included (an UNKNOWN line; TCP4 and TCP6 lines are shorter). */
    static final int MAX_LINE = 107;

    private int seen;
    private boolean cr;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf in) || !in.isReadable()) {
            ctx.fireChannelRead(msg);
            return;
        }
        if (seen == 0 && in.getByte(in.readerIndex()) != 'P') {
            ctx.pipeline().remove(this); // a v2 header (or no header: the decoder refuses it)
            ctx.fireChannelRead(msg);
            return;
        }
        for (int i = in.readerIndex(); i < in.writerIndex(); i++) {
            byte b = in.getByte(i);
            seen++;
            if (cr && b == '\n') {
                ctx.pipeline().remove(this);
                ctx.fireChannelRead(msg);
                return;
            }
            cr = b == '\r';
            if (seen >= MAX_LINE) {
                in.release();
                log.debug("PROXY v1 header from {} longer than {} bytes: connection closed",
                        ctx.channel().remoteAddress(), MAX_LINE);
                ctx.close();
                return;
            }
        }
        ctx.fireChannelRead(msg);
    }
}
