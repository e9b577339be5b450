package io.postern.proxy.server;

import io.micrometer.core.instrument.Counter;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.postern.proxy.metrics.ByteMeter;

/**
 * First in a client pipeline: counts the bytes the client sent and was sent, as they are on the
 * wire (TLS included). The counts are plain fields: written and read on the channel's event loop
 * only.
 */
final class TrafficCounter extends ChannelDuplexHandler {

    private final Counter commandBytes;
    private final Counter responseBytes;
    private long in;
    private long out;

    /** Adds to the server-wide byte counters too ({@code postern.bytes}, {@code side=client}). */
    TrafficCounter(Counter commandBytes, Counter responseBytes) {
        this.commandBytes = commandBytes;
        this.responseBytes = responseBytes;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        in += ByteMeter.count(commandBytes, msg);
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        out += ByteMeter.count(responseBytes, msg);
        ctx.write(msg, promise);
    }

    long in() {
        return in;
    }

    long out() {
        return out;
    }
}
