package io.postern.bench.client;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;

/**
 * The driver's event loops (epoll where it loads; a few threads, never one per connection) and
 * how it connects: TCP_NODELAY, TLS through OpenSSL where it loads, STARTTLS.
 */
public final class ClientRuntime implements AutoCloseable {

    private final EventLoopGroup group;
    private final Bootstrap bootstrap;
    private final String transport;
    private SslContext verifying;
    private SslContext trustAll;
    private final WireCounter wire = new WireCounter();

    public ClientRuntime(int threads) {
        if (Epoll.isAvailable()) {
            group = new MultiThreadIoEventLoopGroup(threads, EpollIoHandler.newFactory());
            bootstrap = new Bootstrap().group(group).channel(EpollSocketChannel.class);
            transport = "epoll";
        } else {
            group = new MultiThreadIoEventLoopGroup(threads, NioIoHandler.newFactory());
            bootstrap = new Bootstrap().group(group).channel(NioSocketChannel.class);
            transport = "nio";
        }
        bootstrap.option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        // replaced per connection in open()
                    }
                });
    }

    /** Runs a task on one of the event loops (a fresh stack for the next step of a loop of sessions). */
    public void execute(Runnable task) {
        group.next().execute(task);
    }

    public String transport() {
        return transport;
    }

    public String tlsProvider() {
        return OpenSsl.isAvailable() ? "openssl" : "jdk";
    }

    /**
     * Connects, reads the greeting, and for STARTTLS upgrades the connection; completes on the
     * connection's event loop with the connection ready for LOGIN.
     */
    public CompletableFuture<ImapConnection> open(Target target) {
        CompletableFuture<ImapConnection> result = new CompletableFuture<>();
        ImapConnection connection = new ImapConnection();
        SslContext ssl;
        try {
            ssl = target.security() == Target.Security.PLAIN ? null : sslContext(target.trustAll());
        } catch (SSLException e) {
            result.completeExceptionally(e);
            return result;
        }
        Bootstrap b = bootstrap.clone().handler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast("wire", wire);
                if (target.security() == Target.Security.IMPLICIT) {
                    ch.pipeline().addLast("tls", ssl.newHandler(ch.alloc(), target.host(), target.port()));
                }
                ch.pipeline().addLast("imap", connection);
            }
        });
        b.connect(target.host(), target.port()).addListener(f -> {
            if (!f.isSuccess()) {
                result.completeExceptionally(f.cause());
                return;
            }
            connection.greeting().whenComplete((greeting, e) -> {
                if (e != null) {
                    result.completeExceptionally(e);
                } else if (!greeting.text().regionMatches(true, 0, "* OK", 0, 4)) {
                    connection.close();
                    result.completeExceptionally(new IOException("greeting: " + greeting));
                } else if (target.security() == Target.Security.STARTTLS) {
                    startTls(connection, ssl, target, result);
                } else {
                    result.complete(connection);
                }
            });
        });
        return result;
    }

    private static void startTls(ImapConnection connection, SslContext ssl, Target target, CompletableFuture<ImapConnection> result) {
        connection.command("STARTTLS").whenComplete((r, e) -> {
            if (e != null || !r.ok()) {
                connection.close();
                result.completeExceptionally(e != null ? e : new IOException("STARTTLS refused: " + r));
                return;
            }
            Channel ch = connection.channel();
            SslHandler handler = ssl.newHandler(ch.alloc(), target.host(), target.port());
            ch.pipeline().addAfter("wire", "tls", handler);
            handler.handshakeFuture().addListener(h -> {
                if (h.isSuccess()) {
                    result.complete(connection);
                } else {
                    connection.close();
                    result.completeExceptionally(h.cause());
                }
            });
        });
    }

    /** Bytes received at the sockets so far, all connections (compressed and encrypted as they came). */
    public long wireBytesIn() {
        return wire.in.sum();
    }

    /** Bytes sent at the sockets so far, all connections. */
    public long wireBytesOut() {
        return wire.out.sum();
    }

    /**
     * {@code COMPRESS DEFLATE} on a logged-in connection; fails unless the server says OK.
     * Completes on the connection's event loop with compression on both ways.
     */
    public static CompletableFuture<ImapConnection> compress(ImapConnection connection) {
        return connection.command("COMPRESS DEFLATE").thenApply(r -> {
            if (!r.ok()) {
                connection.close();
                throw new java.util.concurrent.CompletionException(new IOException("COMPRESS refused: " + r.text()));
            }
            Deflate.install(connection); // the OK was the last uncompressed byte
            return connection;
        });
    }

    private synchronized SslContext sslContext(boolean insecure) throws SSLException {
        SslProvider provider = OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;
        if (insecure) {
            if (trustAll == null) {
                trustAll = SslContextBuilder.forClient().sslProvider(provider)
                        .trustManager(InsecureTrustManagerFactory.INSTANCE).build();
            }
            return trustAll;
        }
        if (verifying == null) {
            verifying = SslContextBuilder.forClient().sslProvider(provider).build();
        }
        return verifying;
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
