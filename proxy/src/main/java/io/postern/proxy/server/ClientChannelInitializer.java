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
import io.postern.proxy.session.ClientSession;
import io.postern.proxy.session.SessionServices;

/** The client pipeline: TLS (implicit listeners), IMAP framing, the session. */
final class ClientChannelInitializer extends ChannelInitializer<SocketChannel> {

    private final PosternConfig config;
    private final ListenerConfig listener;
    private final SessionServices services;
    private final ChannelGroup channels;

    ClientChannelInitializer(ListenerConfig listener, SessionServices services, ChannelGroup channels) {
        this.config = services.config();
        this.listener = listener;
        this.services = services;
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
            p.addLast(HandlerNames.TLS, new SniHandler(services.tls().forListener(listener.name()).mapping()));
        }
    }

    private void addCodec(ChannelPipeline p) {
        p.addLast(HandlerNames.FRAME_DECODER, new ImapFrameDecoder(Direction.COMMAND, config.limits().commands()));
    }

    private void addSession(ChannelPipeline p) {
        p.addLast(HandlerNames.CLIENT_SESSION, new ClientSession(listener, services));
    }
}
