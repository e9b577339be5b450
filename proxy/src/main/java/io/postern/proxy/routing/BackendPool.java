package io.postern.proxy.routing;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.util.concurrent.ScheduledFuture;
import io.postern.proxy.config.BackendConfig;
import io.postern.proxy.config.RoutingConfig;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The backends as Postern sees them at run time: up or down (by health probes, and by failed
 * connects of logins), how many sessions each carries, and so where a route really goes:
 * to its backend, to that backend's {@code fallback} while it is down, or nowhere
 * ({@code NO [UNAVAILABLE]}). Thread-safe: sessions on every event loop ask it.
 */
public final class BackendPool implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(BackendPool.class);

    /**
     * Where a login goes.
     *
     * @param backend the backend to connect to, or {@code null} when the login is refused
     * @param reason how it was chosen (or why it is refused), for logs and {@code route --why}
     */
    public record Selection(String backend, String reason) {
        public boolean refused() {
            return backend == null;
        }
    }

    /** One backend's state. Probe results arrive one at a time (one probe runs at once). */
    static final class State {
        /** Replaced by a reload; sessions and the up/down state carry over. */
        volatile BackendConfig config;
        volatile boolean up = true;
        /** Set by the admin API: no new sessions, as if down, while probes go on. */
        volatile boolean drained;
        private int failures;
        private int successes;
        final AtomicInteger sessions = new AtomicInteger();

        State(BackendConfig config) {
            this.config = config;
        }

        synchronized void result(boolean ok, String detail) {
            BackendConfig.HealthCheck h = config.healthCheck();
            if (ok) {
                failures = 0;
                if (!up && ++successes >= h.rise()) {
                    up = true;
                    log.warn("backend {} is up again", config.name());
                }
            } else {
                successes = 0;
                if (up && ++failures >= h.fall()) {
                    up = false;
                    log.warn("backend {} is down after {} failed probes: {}", config.name(), failures, detail);
                }
            }
        }
    }

    /** Replaced whole (never changed in place) by {@link #reconfigure}. */
    private volatile Map<String, State> backends = new LinkedHashMap<>();
    private volatile RoutingConfig routing;
    private final List<ScheduledFuture<?>> probes = new ArrayList<>();
    private final EventLoopGroup group;
    private final Class<? extends SocketChannel> channelType;

    public BackendPool(Map<String, BackendConfig> configs, RoutingConfig routing, EventLoopGroup group,
            Class<? extends SocketChannel> channelType) {
        Map<String, State> states = new LinkedHashMap<>();
        configs.values().forEach(c -> states.put(c.name(), new State(c)));
        this.backends = states;
        this.routing = routing;
        this.group = group;
        this.channelType = channelType;
    }

    /**
     * Applies a reloaded configuration: new backends are added (up until probed), changed ones
     * keep their sessions and up/down state, and the probes restart with the new settings. A
     * backend that is no longer configured stays known to the sessions that still use it, but
     * no route names it any more.
     */
    public synchronized void reconfigure(Map<String, BackendConfig> configs, RoutingConfig newRouting) {
        Map<String, State> states = new LinkedHashMap<>();
        for (BackendConfig c : configs.values()) {
            State s = backends.get(c.name());
            if (s == null) {
                s = new State(c);
            } else {
                s.config = c;
            }
            states.put(c.name(), s);
        }
        backends.forEach(states::putIfAbsent); // removed: kept for the slots their sessions give back
        probes.forEach(p -> p.cancel(false));
        probes.clear();
        this.routing = newRouting;
        this.backends = states;
        startProbes(configs.keySet());
    }

    /** Starts the periodic probes of every backend whose health check is enabled. */
    public synchronized void startProbes() {
        startProbes(backends.keySet());
    }

    private void startProbes(java.util.Set<String> names) {
        for (String name : names) {
            State s = backends.get(name);
            BackendConfig.HealthCheck h = s.config.healthCheck();
            if (h.enabled()) {
                long every = h.interval().toMillis();
                probes.add(group.next().scheduleWithFixedDelay(() -> probe(s), every, every, TimeUnit.MILLISECONDS));
            }
        }
    }

    /** Where a route goes now. */
    public Selection select(Router.Route route) {
        State s = backends.get(route.backend());
        if (s.up && !s.drained) {
            return new Selection(s.config.name(), route.reason());
        }
        String why = s.drained ? "drained" : "down";
        String fallback = s.config.fallback();
        if (!routing.failover() || fallback == null) {
            return new Selection(null, "backend " + s.config.name() + " is " + why);
        }
        State f = backends.get(fallback);
        if (!f.up || f.drained) {
            return new Selection(null, "backend " + s.config.name() + " is " + why + " and its fallback " + fallback
                    + " is " + (f.drained ? "drained" : "down"));
        }
        return new Selection(fallback, route.reason() + ", fallback for " + s.config.name() + " (" + why + ")");
    }

    /** Takes a session slot; {@code false} when the backend carries {@code max_sessions} already. */
    public boolean tryAcquire(String backend) {
        State s = backends.get(backend);
        int max = s.config.maxSessions();
        for (;;) {
            int n = s.sessions.get();
            if (max > 0 && n >= max) {
                return false;
            }
            if (s.sessions.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    public void release(String backend) {
        backends.get(backend).sessions.decrementAndGet();
    }

    public int sessions(String backend) {
        return backends.get(backend).sessions.get();
    }

    public boolean isUp(String backend) {
        return backends.get(backend).up;
    }

    /** Whether a backend exists under this name. */
    public boolean has(String backend) {
        return backends.containsKey(backend);
    }

    /** The backends' names, in configuration order (with any a reload removed at the end). */
    public List<String> names() {
        return List.copyOf(backends.keySet());
    }

    /** Drains a backend (no new sessions go there, its users take the fallback if any) or undrains it. */
    public void setDrained(String backend, boolean drained) {
        backends.get(backend).drained = drained;
        log.warn("backend {} {}", backend, drained ? "drained: no new sessions" : "undrained: takes new sessions again");
    }

    public boolean isDrained(String backend) {
        return backends.get(backend).drained;
    }

    /** A login could not connect: as good as a failed probe. */
    public void connectFailed(String backend, String detail) {
        backends.get(backend).result(false, detail);
    }

    /**
     * Connects, waits for a greeting that starts with {@code * OK}, closes. For implicit TLS a TCP
     * connect is the probe: the greeting would need the handshake.
     */
    private void probe(State s) {
        BackendConfig c = s.config;
        long timeout = c.healthCheck().timeout().toMillis();
        boolean greeting = !c.tls().equals("implicit");
        Bootstrap b = new Bootstrap()
                .group(group.next())
                .channel(channelType)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) timeout)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new LineBasedFrameDecoder(8192), new GreetingProbe(s, timeout, greeting));
                    }
                });
        b.connect(c.address().toUnresolved()).addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess()) {
                s.result(false, "connect: " + f.cause().getMessage());
                return;
            }
        });
    }

    /** Reads the greeting of one probe connection, and reports exactly once. */
    private static final class GreetingProbe extends SimpleChannelInboundHandler<ByteBuf> {
        private final State state;
        private final long timeoutMillis;
        private final boolean greeting;
        private ChannelHandlerContext ctx;
        private boolean answered;

        GreetingProbe(State state, long timeoutMillis, boolean greeting) {
            this.state = state;
            this.timeoutMillis = timeoutMillis;
            this.greeting = greeting;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            this.ctx = ctx;
            if (!greeting) {
                answer(true, "connected");
                return;
            }
            ctx.executor().schedule(() -> answer(false, "no greeting within " + timeoutMillis + " ms"),
                    timeoutMillis, TimeUnit.MILLISECONDS);
            ctx.fireChannelActive();
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, ByteBuf line) {
            String text = line.toString(StandardCharsets.US_ASCII);
            boolean ok = text.regionMatches(true, 0, "* OK", 0, 4);
            answer(ok, ok ? "greeting" : "greeting was: " + text);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            answer(false, "closed before the greeting");
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            answer(false, cause.toString());
        }

        void answer(boolean ok, String detail) {
            if (answered) {
                return;
            }
            answered = true;
            state.result(ok, detail);
            if (ctx != null) {
                ctx.close();
            }
        }
    }

    @Override
    public synchronized void close() {
        probes.forEach(p -> p.cancel(false));
    }
}
