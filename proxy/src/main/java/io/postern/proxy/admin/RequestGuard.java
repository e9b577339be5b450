package io.postern.proxy.admin;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The request deadline of an admin connection: the whole request must be in within
 * {@code admin.request_timeout} of the connect, however the bytes trickle; otherwise the
 * connection gets 408 and is closed. Sits after the aggregator, so the first message it sees is
 * a whole request. One instance per connection, on its event loop.
 */
final class RequestGuard extends ChannelInboundHandlerAdapter {

    private final Duration timeout;
    private ScheduledFuture<?> deadline;

    RequestGuard(Duration timeout) {
        this.timeout = timeout;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        deadline = ctx.executor().schedule(() -> {
            if (ctx.channel().isActive()) {
                AdminHandler.reply(ctx, AdminServer.Reply.text(408, "request not received in time\n"));
            }
        }, timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof FullHttpRequest) {
            deadline.cancel(false);
            ctx.pipeline().remove(this);
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        deadline.cancel(false);
        ctx.fireChannelInactive();
    }

    /** For a connection over {@link AdminServer#MAX_CONNECTIONS}: 503 at once, and closed. */
    static final class Refusal extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            AdminHandler.reply(ctx, AdminServer.Reply.text(503, "too many admin connections\n"));
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            io.netty.util.ReferenceCountUtil.release(msg); // the request is not read
        }
    }
}
