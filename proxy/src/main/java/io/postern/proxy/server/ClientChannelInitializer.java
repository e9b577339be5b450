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
import io.postern.proxy.session.ClientSession;
import io.postern.proxy.session.SessionServices;
import java.util.function.Supplier;

/**
 * The client pipeline: traffic counts, PROXY header, TLS (implicit listeners), IMAP framing, the
 * session. Each connection is built from the services current when it arrives, so a reload
 * applies to new sessions; one instance serves every event loop, so it keeps no per-connection
 * state.
 */
final class ClientChannelInitializer extends ChannelInitializer<SocketChannel> {

    private final ListenerConfig bound;
    private final Supplier<SessionServices> currentServices;
    private final ChannelGroup channels;
    private final SessionRegistry registry;

    /** @param bound the listener as it was bound; a reload may change its settings, not its address */
    ClientChannelInitializer(ListenerConfig bound, Supplier<SessionServices> currentServices, ChannelGroup channels,
            SessionRegistry registry) {
        this.bound = bound;
        this.currentServices = currentServices;
        this.channels = channels;
        this.registry = registry;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        channels.add(ch);
        SessionServices services = currentServices.get();
        ListenerConfig listener = services.config().listeners().stream()
                .filter(l -> l.name().equals(bound.name()) && l.bind().equals(bound.bind()))
                .findFirst().orElse(bound);
        ChannelPipeline p = ch.pipeline();
        TrafficCounter traffic = new TrafficCounter(services.metrics().clientCommandBytes(), services.metrics().clientResponseBytes());
        p.addLast(HandlerNames.TRAFFIC, traffic);
        addProxyProtocol(p, listener);
        addTls(p, listener, services);
        addCodec(p, services);
        ClientSession session = new ClientSession(listener, services);
        p.addLast(HandlerNames.CLIENT_SESSION, session);
        registry.add(ch, session, traffic);
    }

    /** A load balancer in front: its PROXY header comes before anything else, TLS included. */
    private static void addProxyProtocol(ChannelPipeline p, ListenerConfig listener) {
        if (listener.proxyProtocol()) {
            p.addLast(HandlerNames.PROXY_PROTOCOL_GUARD, new ProxyV1LineGuard());
            p.addLast(HandlerNames.PROXY_PROTOCOL_DECODER, new HAProxyMessageDecoder());
            p.addLast(HandlerNames.PROXY_PROTOCOL, new ProxyProtocolHandler(listener.proxyTrusted()));
        }
    }

    /** Implicit TLS (993): the handshake comes first; the certificate is chosen by SNI. STARTTLS adds it later. */
    private static void addTls(ChannelPipeline p, ListenerConfig listener, SessionServices services) {
        if (listener.tls().equals("implicit")) {
            p.addLast(HandlerNames.TLS, new SniHandler(services.tls().forListener(listener.name()).mapping()));
        }
    }

    private static void addCodec(ChannelPipeline p, SessionServices services) {
        p.addLast(HandlerNames.FRAME_DECODER, new ImapFrameDecoder(Direction.COMMAND, services.config().limits().commands()));
    }
}
