package io.postern.proxy.server;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.ssl.SniHandler;
import io.postern.imap.codec.Direction;
import io.postern.imap.codec.ImapFrameDecoder;
import io.postern.proxy.config.ListenerConfig;
import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.routing.BackendPool;
import io.postern.proxy.routing.Router;
import io.postern.proxy.session.ClientSession;
import io.postern.proxy.session.LoginThrottle;
import io.postern.proxy.session.SessionLimits;

/** The client pipeline: TLS (implicit listeners), IMAP framing, the session. */
final class ClientChannelInitializer extends ChannelInitializer<SocketChannel> {

    private final PosternConfig config;
    private final ListenerConfig listener;
    private final Router router;
    private final Transport transport;
    private final TlsRuntime tls;
    private final LoginThrottle throttle;
    private final BackendPool pool;
    private final SessionLimits limits;
    private final ChannelGroup channels;

    ClientChannelInitializer(
            PosternConfig config,
            ListenerConfig listener,
            Router router,
            Transport transport,
            TlsRuntime tls,
            LoginThrottle throttle,
            BackendPool pool,
            SessionLimits limits,
            ChannelGroup channels) {
        this.config = config;
        this.listener = listener;
        this.router = router;
        this.transport = transport;
        this.tls = tls;
        this.throttle = throttle;
        this.pool = pool;
        this.limits = limits;
        this.channels = channels;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        channels.add(ch);
        ChannelPipeline p = ch.pipeline();
        addProxyProtocol(p);
        addTls(p);
        addCodec(p);
        addSession(p);
    }

    /** A load balancer in front: its PROXY header comes before anything else, TLS included. */
    private void addProxyProtocol(ChannelPipeline p) {
        if (listener.proxyProtocol()) {
            p.addLast(HandlerNames.PROXY_PROTOCOL_DECODER, new HAProxyMessageDecoder());
            p.addLast(HandlerNames.PROXY_PROTOCOL, new ProxyProtocolHandler(listener.proxyTrusted()));
        }
    }

    /** Implicit TLS (993): the handshake comes first; the certificate is chosen by SNI. STARTTLS adds it later. */
    private void addTls(ChannelPipeline p) {
        if (listener.tls().equals("implicit")) {
            p.addLast(HandlerNames.TLS, new SniHandler(tls.forListener(listener.name()).mapping()));
        }
    }

    private void addCodec(ChannelPipeline p) {
        p.addLast(HandlerNames.FRAME_DECODER, new ImapFrameDecoder(Direction.COMMAND, config.limits().commands()));
    }

    private void addSession(ChannelPipeline p) {
        p.addLast(HandlerNames.CLIENT_SESSION, new ClientSession(config, listener, router, transport, tls, throttle, pool, limits));
    }
}
