package io.postern.bench.client;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import java.util.concurrent.atomic.LongAdder;

/** Counts the bytes that cross the sockets (under TLS and COMPRESS), over all connections. */
@ChannelHandler.Sharable
final class WireCounter extends ChannelDuplexHandler {

    final LongAdder in = new LongAdder();
    final LongAdder out = new LongAdder();

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf b) {
            in.add(b.readableBytes());
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof ByteBuf b) {
            out.add(b.readableBytes());
        }
        ctx.write(msg, promise);
    }
}
