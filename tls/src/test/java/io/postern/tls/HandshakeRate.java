package io.postern.tls;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.postern.tls.ServerTlsContexts.CertificateSource;
import io.postern.tls.testing.TestCertificates;
import io.postern.tls.testing.TestCertificates.Issued;
import io.postern.tls.testing.TestCertificates.KeyType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Not a test: full TLS handshakes per second against a local Netty server, OpenSSL against JDK,
 * for an EC P-256 and an RSA 2048 certificate, one handshake at a time and eight at once.
 *
 * <p>Each run stops after {@code maxHandshakes} or {@code maxSeconds}, whichever comes first, after
 * a warm-up. The server has one event loop, so the concurrent figure is what one core serves. The
 * client is always OpenSSL (the cheaper side, four event loops) so the figures compare the server's
 * provider; it runs in the same JVM and shares the machine. Clients get handlers without a peer
 * host, so no session is cached and every handshake is full.
 *
 * <pre>
 * mvn -pl tls test-compile
 * java -cp tls/target/classes:tls/target/test-classes:$(cat cp.txt) io.postern.tls.HandshakeRate [maxHandshakes] [maxSeconds]
 * </pre>
 */
public final class HandshakeRate {

    private static final int WARM_UP = 300;

    private HandshakeRate() {}

    public static void main(String[] args) throws Exception {
        int maxHandshakes = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
        int maxSeconds = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        Path dir = Files.createTempDirectory("handshake-rate");
        TestCertificates ca = TestCertificates.newCa(dir);
        EventLoopGroup clients = new MultiThreadIoEventLoopGroup(4, NioIoHandler.newFactory());
        try {
            System.out.printf("%-8s %-4s %-9s %10s %8s %12s  %s%n",
                    "server", "key", "in flight", "handshakes", "seconds", "handshakes/s", "protocol, cipher");
            for (KeyType keyType : KeyType.values()) {
                Issued issued = ca.server("bench.test").keyType(keyType).issue();
                for (Provider provider : List.of(Provider.OPENSSL, Provider.JDK)) {
                    for (int inFlight : new int[] {1, 8}) {
                        run(provider, keyType, issued, inFlight, clients, maxHandshakes, maxSeconds);
                    }
                }
            }
        } finally {
            clients.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private static void run(Provider provider, KeyType keyType, Issued issued, int inFlight, EventLoopGroup clients,
            int maxHandshakes, int maxSeconds) throws Exception {
        ServerTlsContexts server = ServerTlsContexts.create(List.of(CertificateSource.of(issued.cert(), issued.key())),
                new ServerTlsSettings(null, null, null, null, provider));
        SslContext client =
                BackendTlsContexts.create(new BackendTlsSettings(null, null, null, true, null, Provider.OPENSSL));
        try (TlsTestServer listener = TlsTestServer.startUnrecorded(1,
                () -> server.defaultContext().newHandler(ByteBufAllocator.DEFAULT))) {
            handshakes(client, clients, listener.port(), inFlight, WARM_UP, maxSeconds, new AtomicReference<>());
            AtomicReference<String> negotiated = new AtomicReference<>();
            long start = System.nanoTime();
            int done = handshakes(client, clients, listener.port(), inFlight, maxHandshakes, maxSeconds, negotiated);
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.printf("%-8s %-4s %-9d %10d %8.2f %12.0f  %s%n",
                    server.providerName(), keyType, inFlight, done, seconds, done / seconds, negotiated.get());
        }
    }

    /** Runs up to {@code count} handshakes, {@code inFlight} at a time, for at most {@code maxSeconds}. */
    private static int handshakes(SslContext client, EventLoopGroup clients, int port, int inFlight, int count,
            int maxSeconds, AtomicReference<String> negotiated) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(maxSeconds);
        Semaphore slots = new Semaphore(inFlight);
        AtomicInteger done = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        // No peer host: the client caches no session, so every handshake is a full one.
        Bootstrap bootstrap = TlsTestServer.client(clients, ch -> client.newHandler(ch.alloc()));
        for (int started = 0; started < count && System.nanoTime() < deadline && failure.get() == null; started++) {
            slots.acquire();
            ChannelFuture connect = bootstrap.connect("127.0.0.1", port);
            connect.addListener((ChannelFuture f) -> {
                if (!f.isSuccess()) {
                    failure.compareAndSet(null, f.cause());
                    slots.release();
                    return;
                }
                SslHandler ssl = f.channel().pipeline().get(SslHandler.class);
                ssl.handshakeFuture().addListener(h -> {
                    if (h.isSuccess()) {
                        done.incrementAndGet();
                        negotiated.compareAndSet(null, ssl.engine().getSession().getProtocol() + ", "
                                + ssl.engine().getSession().getCipherSuite());
                    } else {
                        failure.compareAndSet(null, h.cause());
                    }
                    f.channel().close().addListener(c -> slots.release());
                });
            });
        }
        slots.acquire(inFlight);
        if (failure.get() != null) {
            throw new IllegalStateException("handshake failed", failure.get());
        }
        return done.get();
    }
}
