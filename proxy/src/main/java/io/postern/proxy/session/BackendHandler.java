package io.postern.proxy.session;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.postern.imap.codec.ImapFrame;

/** The end of a backend pipeline: hands every event to the session that owns the connection. */
final class BackendHandler extends ChannelInboundHandlerAdapter {

    private final ClientSession session;

    BackendHandler(ClientSession session) {
        this.session = session;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        session.onBackendFrame((ImapFrame) msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        session.onBackendReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        session.onBackendWritabilityChanged(ctx.channel().isWritable());
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof SslHandshakeCompletionEvent handshake) {
            session.onBackendHandshake(ctx.channel(), handshake);
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        session.onBackendClosed(ctx.channel());
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        session.onBackendException(ctx.channel(), cause);
    }
}
