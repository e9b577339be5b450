package io.postern.proxy.session;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.postern.imap.codec.Direction;
import io.postern.imap.codec.ImapDecoderConfig;
import io.postern.imap.codec.ImapFrameDecoder;
import io.postern.imap.codec.ImapLine;
import io.postern.imap.parse.ImapParseException;
import io.postern.imap.parse.ResponseHead;
import io.postern.proxy.config.BackendConfig;
import io.postern.proxy.metrics.PosternMetrics;
import io.postern.proxy.routing.BackendPool;
import io.postern.proxy.server.HandlerNames;
import io.postern.proxy.server.TlsRuntime;
import io.postern.proxy.server.Transport;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Backend connections made ahead of logins ({@code backends[i].warm_connections}): connected,
 * past an implicit-TLS handshake, greeted, and waiting, so that a LOGIN finds one ready and only
 * the login itself is left to wait for. Kept per event loop (a session's backend connection lives
 * on the session's loop), at most {@code warm_connections} per backend per loop, each closed
 * unused after {@code warm_idle_timeout}. A login that takes one starts the connects that fill
 * the loop's set up again; expired ones are not replaced, so an idle Postern holds none. Never
 * used for a backend that wants a PROXY header (it names the client, unknown in advance).
 *
 * <p>Each loop's sets are touched only on that loop.
 */
public final class WarmConnections {

    private final Transport transport;
    private final BackendPool pool;
    private final PosternMetrics metrics;
    private final Map<EventLoop, Map<String, Stock>> byLoop = new ConcurrentHashMap<>();
    /** Greeted connections waiting, over all loops and backends. */
    private final AtomicInteger ready = new AtomicInteger();

    public WarmConnections(Transport transport, BackendPool pool, PosternMetrics metrics) {
        this.transport = transport;
        this.pool = pool;
        this.metrics = metrics;
    }

    /** A greeted connection, handed over once. */
    record Warm(Channel channel, List<String> capabilities) {}

    /** One loop's connections to one backend, as configured when they were made. */
    private static final class Stock {
        final ArrayDeque<Entry> ready = new ArrayDeque<>();
        int connecting;
    }

    private static final class Entry {
        final Channel channel;
        final BackendConfig target;
        final TlsRuntime tls;
        final ImapDecoderConfig limits;
        List<String> capabilities;
        ScheduledFuture<?> expiry;

        Entry(Channel channel, BackendConfig target, TlsRuntime tls, ImapDecoderConfig limits) {
            this.channel = channel;
            this.target = target;
            this.tls = tls;
            this.limits = limits;
        }

        boolean fits(BackendConfig t, TlsRuntime r, ImapDecoderConfig l) {
            return target.equals(t) && tls == r && limits == l;
        }
    }

    /**
     * On {@code loop}: a greeted connection to {@code target} made with the same settings, or
     * {@code null}; either way the loop's set is filled up again in the background. The caller
     * replaces the handler named {@link HandlerNames#BACKEND_HANDLER} and reads on.
     */
    Warm take(EventLoop loop, BackendConfig target, TlsRuntime tls, ImapDecoderConfig limits, WriteBufferWaterMark waterMark) {
        if (target.warmConnections() == 0 || !target.proxyProtocol().equals("none")) {
            return null;
        }
        Stock set = byLoop.computeIfAbsent(loop, l -> new HashMap<>()).computeIfAbsent(target.name(), n -> new Stock());
        Warm found = null;
        Entry e;
        while (found == null && (e = set.ready.poll()) != null) {
            ready.decrementAndGet();
            e.expiry.cancel(false);
            if (e.channel.isActive() && e.fits(target, tls, limits)) {
                found = new Warm(e.channel, e.capabilities);
            } else {
                e.channel.close(); // dead, or made before a reload changed the backend
            }
        }
        for (int n = set.ready.size() + set.connecting; n < target.warmConnections(); n++) {
            connect(loop, set, target, tls, limits, waterMark);
        }
        return found;
    }

    private void connect(EventLoop loop, Stock set, BackendConfig target, TlsRuntime tls, ImapDecoderConfig limits,
            WriteBufferWaterMark waterMark) {
        set.connecting++;
        Entry[] made = new Entry[1];
        Bootstrap b = bootstrap(loop, transport, target, waterMark).handler(new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(HandlerNames.BYTES, metrics.backendBytes());
                if (target.tls().equals("implicit")) {
                    ch.pipeline().addLast(HandlerNames.TLS, tls.newBackendHandler(target.name(), ch.alloc()));
                }
                ch.pipeline()
                        .addLast(HandlerNames.FRAME_DECODER, new ImapFrameDecoder(Direction.RESPONSE, limits))
                        .addLast(HandlerNames.BACKEND_HANDLER, new Greeting(set, made, ready));
            }
        });
        long connectStart = System.nanoTime();
        var connect = b.connect(target.address().toUnresolved());
        made[0] = new Entry(connect.channel(), target, tls, limits);
        // bounded like a login's: no greeting within login_timeout, and the attempt is given up
        ScheduledFuture<?> deadline = loop.schedule(() -> {
            connect.channel().close();
        }, target.loginTimeout().toMillis(), TimeUnit.MILLISECONDS);
        made[0].expiry = deadline;
        connect.channel().closeFuture().addListener(f -> {
            made[0].expiry.cancel(false);
            if (made[0].capabilities == null) {
                set.connecting--; // never greeted
            } else if (set.ready.remove(made[0])) {
                ready.decrementAndGet();
            }
        });
        connect.addListener((ChannelFutureListener) f -> {
            metrics.backendConnect(target.name(), System.nanoTime() - connectStart, f.isSuccess());
            if (f.isSuccess()) {
                f.channel().read();
            } else {
                pool.connectFailed(target.name(), f.cause().getMessage());
            }
        });
    }

    /** Greeted connections waiting for a login now, over all loops and backends. */
    public int ready() {
        return ready.get();
    }

    /** Reads the greeting of a connection being made; afterwards, anything unasked closes it. */
    private static final class Greeting extends ChannelInboundHandlerAdapter {
        private final Stock set;
        private final Entry[] made;
        private final AtomicInteger ready;

        Greeting(Stock set, Entry[] made, AtomicInteger ready) {
            this.set = set;
            this.made = made;
            this.ready = ready;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                Entry e = made[0];
                if (e.capabilities != null || !(msg instanceof ImapLine line) || !line.first() || !line.last()) {
                    ctx.close(); // a BYE or other unasked data while waiting, or a greeting in pieces
                    return;
                }
                ResponseHead head = ResponseHead.parse(line.content());
                if (!head.isUntagged() || !"OK".equals(head.keyword())) {
                    ctx.close();
                    return;
                }
                e.capabilities = head.capabilities(line.content());
                e.expiry.cancel(false);
                set.connecting--;
                set.ready.add(e);
                ready.incrementAndGet();
                e.expiry = ctx.channel().eventLoop().schedule(() -> {
                    if (set.ready.remove(e)) {
                        ready.decrementAndGet();
                        e.channel.close();
                    }
                }, e.target.warmIdleTimeout().toMillis(), TimeUnit.MILLISECONDS);
                ctx.read(); // notices a close (or a BYE) while it waits
            } catch (ImapParseException ex) {
                ctx.close();
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** The options every backend connection is made with, on the session's loop. */
    static Bootstrap bootstrap(EventLoop loop, Transport transport, BackendConfig target, WriteBufferWaterMark waterMark) {
        return new Bootstrap()
                .group(loop)
                .channel(transport.socketChannel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) target.connectTimeout().toMillis())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark)
                .option(ChannelOption.RCVBUF_ALLOCATOR, new RelayReadAllocator());
    }

    /** Closes every waiting connection (on their loops). */
    public void close() {
        for (Map.Entry<EventLoop, Map<String, Stock>> loop : byLoop.entrySet()) {
            loop.getKey().execute(() -> {
                for (Stock set : loop.getValue().values()) {
                    for (Entry e : set.ready) {
                        e.channel.close();
                    }
                }
            });
        }
    }
}
