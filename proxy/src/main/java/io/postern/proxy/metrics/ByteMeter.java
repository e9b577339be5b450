package io.postern.proxy.metrics;

import io.micrometer.core.instrument.Counter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;

/**
 * First in a backend pipeline: counts the bytes read from and written to the backend as they are
 * on the wire ({@code postern.bytes}, {@code side=backend}). Keeps no state of its own, so one
 * instance serves every backend connection.
 */
@ChannelHandler.Sharable
public final class ByteMeter extends ChannelDuplexHandler {

    private final Counter commands;
    private final Counter responses;

    ByteMeter(PosternMetrics metrics) {
        this.commands = metrics.backendCommandBytes;
        this.responses = metrics.backendResponseBytes;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        count(responses, msg);
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        count(commands, msg);
        ctx.write(msg, promise);
    }

    /** Adds the readable bytes of {@code msg} to {@code counter}; returns them. */
    public static long count(Counter counter, Object msg) {
        long n = size(msg);
        if (n > 0) {
            counter.increment(n);
        }
        return n;
    }

    /** The readable bytes of a buffer or buffer holder; 0 for anything else. */
    public static long size(Object msg) {
        if (msg instanceof ByteBuf b) {
            return b.readableBytes();
        }
        return msg instanceof ByteBufHolder h ? h.content().readableBytes() : 0;
    }
}
