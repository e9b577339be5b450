package io.postern.proxy.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;

/**
 * First in a client pipeline: counts the bytes the client sent and was sent, as they are on the
 * wire (TLS included). The counts are plain fields: written and read on the channel's event loop
 * only.
 */
final class TrafficCounter extends ChannelDuplexHandler {

    private long in;
    private long out;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        in += size(msg);
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        out += size(msg);
        ctx.write(msg, promise);
    }

    private static long size(Object msg) {
        if (msg instanceof ByteBuf b) {
            return b.readableBytes();
        }
        return msg instanceof ByteBufHolder h ? h.content().readableBytes() : 0;
    }

    long in() {
        return in;
    }

    long out() {
        return out;
    }
}
