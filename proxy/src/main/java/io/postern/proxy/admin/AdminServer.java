package io.postern.proxy.admin;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.ReadTimeoutHandler;
import io.postern.proxy.config.AdminConfig;
import io.postern.proxy.server.PosternServer;
import io.postern.proxy.server.Transport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin listener ({@code admin.bind}): health, readiness, the admin API and the status page,
 * over HTTP/1.1 on its own event loop. Work that blocks (a reload reads files) runs on a separate
 * thread, never on that loop.
 */
public final class AdminServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);

    /** The largest request body taken (the API needs none). */
    static final int MAX_REQUEST = 16 * 1024;

    /**
     * Admin connections at once; more are answered 503 and closed at once. A few scrapers and
     * people need far fewer, and connections that idle until their request deadline cannot
     * pile up: the process's file descriptors are the IMAP listeners' too.
     */
    public static final int MAX_CONNECTIONS = 64;

    /** Seconds a connection may go without reading or writing once its request is in (a client that reads no answer). */
    private static final int IDLE_SECONDS = 30;

    /**
     * An extra GET endpoint, such as {@code /metrics}: answers on the admin event loop, so it
     * must not block. The token rule applies to it as to every endpoint but health and readiness.
     */
    @FunctionalInterface
    public interface Endpoint {
        Reply get(Request request);
    }

    /**
     * A GET request to an extra endpoint.
     *
     * @param query the query parameters, decoded
     * @param headers the request's headers (e.g. {@code Accept}, to choose OpenMetrics or Prometheus text)
     */
    public record Request(String path, Map<String, java.util.List<String>> query, io.netty.handler.codec.http.HttpHeaders headers) {}

    /** An answer: status, content type, body. */
    public record Reply(int status, String contentType, byte[] body) {
        public static Reply text(int status, String text) {
            return new Reply(status, "text/plain; charset=utf-8", text.getBytes(StandardCharsets.UTF_8));
        }
    }

    private final EventLoopGroup group;
    private final ExecutorService blocking;
    private final Map<String, Endpoint> endpoints = new ConcurrentHashMap<>();
    /** Admin connections open now, not counting those refused. */
    private final AtomicInteger open = new AtomicInteger();
    private volatile Channel channel;

    private AdminServer(EventLoopGroup group, ExecutorService blocking) {
        this.group = group;
        this.blocking = blocking;
    }

    /** Binds {@code config.bind()}; reads the token file first, when there is one. */
    public static AdminServer start(PosternServer server, AdminConfig config, Transport transport)
            throws InterruptedException {
        byte[] token = null;
        if (config.requiresToken()) {
            try {
                token = AdminConfig.readToken(config.tokenFile()).getBytes(StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException("admin.token_file: cannot read " + config.tokenFile(), e);
            }
        }
        EventLoopGroup group = transport.newGroup(1);
        ExecutorService blocking = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "postern-admin");
            t.setDaemon(true);
            return t;
        });
        AdminServer self = new AdminServer(group, blocking);
        byte[] expected = token;
        try {
            ServerBootstrap b = new ServerBootstrap()
                    .group(group)
                    .channel(transport.serverChannel())
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            if (!self.takePlace()) {
                                // answered and closed at once: it holds no place
                                ch.pipeline().addLast(new HttpServerCodec(), new RequestGuard.Refusal());
                                return;
                            }
                            ch.pipeline()
                                    .addLast(new ReadTimeoutHandler(IDLE_SECONDS))
                                    .addLast(new HttpServerCodec())
                                    .addLast(new HttpObjectAggregator(MAX_REQUEST))
                                    .addLast(new RequestGuard(config.requestTimeout()))
                                    .addLast(new AdminHandler(server, self, expected));
                            ch.closeFuture().addListener(f -> self.open.decrementAndGet());
                        }
                    });
            Channel ch = b.bind(config.bind().toResolved()).sync().channel();
            self.channel = ch;
            log.info("admin listener on {} ({})", ch.localAddress(),
                    expected == null ? "loopback, no token" : "bearer token required");
            return self;
        } catch (RuntimeException | InterruptedException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            blocking.shutdownNow();
            throw e;
        }
    }

    /** Adds (or replaces) a GET endpoint, e.g. {@code /metrics}; the token rule applies to it. */
    public void addEndpoint(String path, Endpoint endpoint) {
        endpoints.put(path, endpoint);
    }

    Endpoint endpoint(String path) {
        return endpoints.get(path);
    }

    ExecutorService blocking() {
        return blocking;
    }

    /** Counts a new connection, unless {@link #MAX_CONNECTIONS} are open. */
    private boolean takePlace() {
        int n;
        do {
            n = open.get();
            if (n >= MAX_CONNECTIONS) {
                return false;
            }
        } while (!open.compareAndSet(n, n + 1));
        return true;
    }

    /** Admin connections open now. */
    public int openConnections() {
        return open.get();
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        if (channel != null) {
            channel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        blocking.shutdownNow();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
}
