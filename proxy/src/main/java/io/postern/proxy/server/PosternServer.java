package io.postern.proxy.server;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.postern.proxy.config.ListenerConfig;
import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.routing.Router;
import io.postern.proxy.routing.BackendPool;
import io.postern.proxy.routing.Routers;
import io.postern.proxy.session.LoginThrottle;
import io.postern.proxy.session.SessionLimits;
import io.postern.proxy.session.SessionServices;
import io.postern.tls.TlsConfigException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The listeners of one configuration, and the event loops they and their sessions run on. */
public final class PosternServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(PosternServer.class);

    /** Small enough that a slow peer stops the other side's reads early, large enough for full TCP windows. */
    static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(64 * 1024, 256 * 1024);

    private final PosternConfig config;
    private final Transport transport;
    private final EventLoopGroup acceptGroup;
    private final EventLoopGroup workerGroup;
    private final ChannelGroup channels = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private final Map<String, InetSocketAddress> bound = new LinkedHashMap<>();
    private final TlsRuntime tls;
    private final BackendPool pool;
    private final Router router;

    private PosternServer(PosternConfig config, TlsRuntime tls, Transport transport, int workerThreads) {
        this.config = config;
        this.tls = tls;
        this.transport = transport;
        this.acceptGroup = transport.newGroup(1);
        this.workerGroup = transport.newGroup(workerThreads);
        this.pool = new BackendPool(config.backends(), config.routing(), workerGroup, transport.socketChannel());
        this.router = Routers.of(config);
    }

    /**
     * Loads the TLS material, then binds every listener; on failure, releases what was bound and
     * rethrows.
     *
     * @throws TlsConfigException a certificate, key or CA file that cannot be used, named in the message
     */
    public static PosternServer start(PosternConfig config) throws InterruptedException, TlsConfigException {
        return start(config, Transport.best(), 0);
    }

    /** @param workerThreads 0 for Netty's default (two per core) */
    public static PosternServer start(PosternConfig config, Transport transport, int workerThreads)
            throws InterruptedException, TlsConfigException {
        TlsRuntime tls = TlsRuntime.create(config);
        PosternServer server = new PosternServer(config, tls, transport, workerThreads);
        try {
            server.bindAll();
        } catch (RuntimeException | InterruptedException e) {
            server.close();
            throw e;
        }
        return server;
    }

    private void bindAll() throws InterruptedException {
        pool.startProbes();
        SessionLimits limits = new SessionLimits(config.limits().maxSessionsPerUser(),
                config.limits().maxConnectionsPerAddress(), config.limits().maxConnections());
        LoginThrottle throttle = new LoginThrottle(
                config.limits().loginFailureDelay(), config.limits().loginFailureDelayMax());
        SessionServices services = new SessionServices(config, router, transport, tls, throttle, pool, limits);
        for (ListenerConfig listener : config.listeners()) {
            ServerBootstrap b = new ServerBootstrap()
                    .group(acceptGroup, workerGroup)
                    .channel(transport.serverChannel())
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                    .childHandler(new ClientChannelInitializer(listener, services, channels));
            Channel ch = b.bind(listener.bind().toResolved()).sync().channel();
            channels.add(ch);
            InetSocketAddress address = (InetSocketAddress) ch.localAddress();
            bound.put(listener.name(), address);
            log.info("listener {} on {} (tls: {}, transport: {})", listener.name(), address, listener.tls(), transport.name());
        }
    }

    /** The address each listener is bound to, by listener name (the real port when the config said 0). */
    public Map<String, InetSocketAddress> boundAddresses() {
        return Map.copyOf(bound);
    }

    public InetSocketAddress address(String listener) {
        InetSocketAddress a = bound.get(listener);
        if (a == null) {
            throw new IllegalArgumentException("no listener named " + listener);
        }
        return a;
    }

    /**
     * Bytes written toward clients that the sockets have not taken yet, over all sessions. With
     * backpressure working this stays near one write-buffer high-water mark per slow client,
     * whatever the size of the messages being fetched.
     */
    public long pendingClientBytes() {
        long total = 0;
        for (Channel ch : channels) {
            if (ch instanceof io.netty.channel.socket.SocketChannel) {
                total += ch.isWritable()
                        ? WATER_MARK.high() - ch.bytesBeforeUnwritable()
                        : WATER_MARK.low() + ch.bytesBeforeWritable();
            }
        }
        return total;
    }

    /** Client connections open now, over all listeners; a connection leaves the count once it has closed. */
    public int openClientConnections() {
        int open = 0;
        for (Channel ch : channels) {
            if (ch instanceof io.netty.channel.socket.SocketChannel) {
                open++;
            }
        }
        return open;
    }

    public List<String> listenerNames() {
        return new ArrayList<>(bound.keySet());
    }

    /** Re-reads the listeners' certificate files (SIGHUP); a failed reload keeps the old certificates. */
    public void reloadCertificates() {
        tls.reloadNow();
    }

    /** Stops accepting, closes every session, and waits for the event loops to end. */
    /** Whether health checks (and failed connects) currently count a backend as up. */
    public boolean backendUp(String backend) {
        return pool.isUp(backend);
    }

    /** Sessions (and logins in progress) that hold a slot of a backend now. */
    public int backendSessions(String backend) {
        return pool.sessions(backend);
    }

    @Override
    public void close() {
        pool.close();
        tls.close();
        channels.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        acceptGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        workerGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        router.close();
    }
}
