package io.postern.proxy.server;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.postern.proxy.config.IoConfig;
import io.postern.proxy.config.ListenerConfig;
import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.routing.Router;
import io.postern.proxy.routing.BackendPool;
import io.postern.proxy.routing.Routers;
import io.postern.proxy.session.LoginThrottle;
import io.postern.proxy.session.PolicyRegistry;
import io.postern.proxy.session.SessionLimits;
import io.postern.proxy.session.SessionServices;
import io.postern.proxy.session.WarmConnections;
import io.postern.proxy.admin.AdminServer;
import io.postern.proxy.config.ConfigException;
import io.postern.proxy.routing.OverridingRouter;
import io.postern.proxy.session.DenialLog;
import io.postern.proxy.metrics.PosternMeter;
import io.postern.proxy.metrics.PosternMetrics;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
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


    private volatile PosternConfig config;
    private final Transport transport;
    private final EventLoopGroup acceptGroup;
    private final EventLoopGroup workerGroup;
    private final ChannelGroup channels = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private final Map<String, InetSocketAddress> bound = new LinkedHashMap<>();
    private final List<Channel> listenerChannels = new ArrayList<>();
    private volatile TlsRuntime tls;
    private final BackendPool pool;
    /** The router of the running configuration (wrapped with the overrides); replaced by a reload. */
    private volatile Router router;
    private final SessionRegistry sessions = new SessionRegistry();
    private final OverridingRouter.Overrides overrides = new OverridingRouter.Overrides();
    private final DenialLog denials = new DenialLog(50);
    private final java.time.Instant started = java.time.Instant.now();
    /** What new sessions are built from; replaced by a reload. */
    private volatile SessionServices services;
    private volatile Path configFile;
    private volatile boolean shuttingDown;
    private AdminServer admin;
    private final PolicyRegistry policies;
    /** The meters: one registry per server, kept across reloads. */
    private final PosternMetrics metrics = new PosternMetrics();
    private final WarmConnections warm;
    /** The event loops and water marks the server started with: a reload does not change them. */
    private final IoConfig ioConfig;

    private PosternServer(PosternConfig config, TlsRuntime tls, Transport transport, int workerThreads) {
        this.config = config;
        this.tls = tls;
        this.transport = transport;
        this.acceptGroup = transport.newGroup(1);
        this.ioConfig = config.io();
        this.workerGroup = transport.newGroup(workerThreads > 0 ? workerThreads : ioConfig.threads());
        this.pool = new BackendPool(config.backends(), config.routing(), workerGroup, transport.socketChannel());
        this.router = new OverridingRouter(Routers.of(config), overrides, config.backends()::containsKey);
        this.policies = new PolicyRegistry(config.policies());
        this.warm = new WarmConnections(transport, pool, metrics);
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

    /** @param workerThreads 0 for the configuration's {@code io.event_loop_threads} */
    public static PosternServer start(PosternConfig config, Transport transport, int workerThreads)
            throws InterruptedException, TlsConfigException {
        return start(config, null, transport, workerThreads);
    }

    /**
     * Loads {@code file} as {@code check-config} does and starts; {@link #reload()} re-reads it.
     *
     * @throws ConfigException a bad configuration, with the file name and key path in the message
     */
    public static PosternServer start(Path file) throws InterruptedException, TlsConfigException, ConfigException {
        return start(ConfigFile.load(file), file, Transport.best(), 0);
    }

    private static PosternServer start(PosternConfig config, Path file, Transport transport, int workerThreads)
            throws InterruptedException, TlsConfigException {
        TlsRuntime tls = TlsRuntime.create(config);
        PosternServer server = new PosternServer(config, tls, transport, workerThreads);
        server.configFile = file;
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
        services = new SessionServices(config, router, transport, tls, throttle, pool, limits, denials, policies, metrics, warm);
        bindMeters(config);
        for (ListenerConfig listener : config.listeners()) {
            ServerBootstrap b = new ServerBootstrap()
                    .group(acceptGroup, workerGroup)
                    .channel(transport.serverChannel())
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, ioConfig.waterMark())
                    .childHandler(new ClientChannelInitializer(listener, () -> services, channels, sessions));
            Channel ch = b.bind(listener.bind().toResolved()).sync().channel();
            channels.add(ch);
            listenerChannels.add(ch);
            InetSocketAddress address = (InetSocketAddress) ch.localAddress();
            bound.put(listener.name(), address);
            log.info("listener {} on {} (tls: {}, transport: {})", listener.name(), address, listener.tls(), transport.name());
        }
        if (config.admin() != null) {
            admin = AdminServer.start(this, config.admin(), transport);
            admin.addEndpoint("/metrics", request -> {
                PosternMetrics.Scrape scrape = metrics.scrape(request.headers().get("Accept"));
                return new AdminServer.Reply(200, scrape.contentType(), scrape.body());
            });
        }
    }

    /**
     * The gauges of the configuration's backends and certificates, and the router's caches; at
     * start and after each reload (meters already there stay, with their counts).
     */
    private synchronized void bindMeters(PosternConfig c) {
        List<List<String>> gauges = new ArrayList<>();
        for (String backend : c.backends().keySet()) {
            metrics.gauge(PosternMeter.BACKEND_UP, () -> pool.has(backend) && pool.isUp(backend) ? 1 : 0, backend);
            metrics.gauge(PosternMeter.BACKEND_SESSIONS, () -> pool.has(backend) ? pool.sessions(backend) : 0, backend);
            gauges.add(List.of(backend));
        }
        for (ListenerConfig listener : c.listeners()) {
            if (!listener.usesTls() || c.tls() == null) {
                continue;
            }
            for (int i = 0; i < c.tls().certificates().size(); i++) {
                int index = i;
                String name = c.tls().certificates().get(i).cert().getFileName().toString();
                metrics.gauge(PosternMeter.CERTIFICATE_EXPIRY, () -> daysLeft(listener.name(), index), listener.name(), name);
                gauges.add(List.of(listener.name(), name));
            }
        }
        // what the previous configuration had and this one has not: a removed backend is not a down one
        for (List<String> old : boundGauges) {
            if (!gauges.contains(old)) {
                String[] tags = old.toArray(String[]::new);
                if (tags.length == 1) {
                    metrics.remove(PosternMeter.BACKEND_UP, tags);
                    metrics.remove(PosternMeter.BACKEND_SESSIONS, tags);
                } else {
                    metrics.remove(PosternMeter.CERTIFICATE_EXPIRY, tags);
                }
            }
        }
        boundGauges = gauges;
        metrics.bindCaches(router.caches());
    }

    /** The tag values of the backend gauges (one value) and certificate gauges (two) bound now. */
    private List<List<String>> boundGauges = List.of();

    /** Days until the {@code index}th certificate of a listener expires, as loaded now; NaN when there is none. */
    private double daysLeft(String listener, int index) {
        try {
            var pairs = tls.forListener(listener).keyPairs();
            if (index >= pairs.size()) {
                return Double.NaN;
            }
            return java.time.Duration.between(java.time.Instant.now(), pairs.get(index).notAfter()).toSeconds() / 86400.0;
        } catch (IllegalArgumentException e) { // the listener has no TLS any more
            return Double.NaN;
        }
    }

    /** The meters of this server (the registry {@code /metrics} shows). */
    public PosternMetrics metrics() {
        return metrics;
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

    /** The threads that serve the sessions ({@code io.event_loop_threads}, or the start call's). */
    public int eventLoopThreads() {
        return ((io.netty.util.concurrent.MultithreadEventExecutorGroup) workerGroup).executorCount();
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
                WriteBufferWaterMark marks = ch.config().getWriteBufferWaterMark();
                total += ch.isWritable()
                        ? marks.high() - ch.bytesBeforeUnwritable()
                        : marks.low() + ch.bytesBeforeWritable();
            }
        }
        return total;
    }

    /** Backend connections made ahead of logins and waiting for one ({@code backends[i].warm_connections}). */
    public int warmConnectionsReady() {
        return warm.ready();
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

    /**
     * Takes only the policies and groups of {@code newConfig} (a configuration in memory; {@link
     * #reload()} does this, and the rest, from the file): sessions that log in from now on choose
     * their chain from them; sessions already logged in keep theirs.
     */
    public void reloadPolicies(PosternConfig newConfig) {
        policies.replace(newConfig.policies());
        log.info("policies reloaded: {} entries", newConfig.policies().entries().size());
    }

    /** Whether health checks (and failed connects) currently count a backend as up. */
    public boolean backendUp(String backend) {
        return pool.isUp(backend);
    }

    /** Sessions (and logins in progress) that hold a slot of a backend now. */
    public int backendSessions(String backend) {
        return pool.sessions(backend);
    }

    /** The admin listener, or {@code null} when there is none: e.g. to add {@code /metrics}. */
    public AdminServer admin() {
        return admin;
    }

    /** The admin listener's address, or {@code null} when there is none. */
    public InetSocketAddress adminAddress() {
        return admin == null ? null : admin.address();
    }

    /** The configuration new sessions get. */
    public PosternConfig config() {
        return config;
    }

    public java.time.Instant started() {
        return started;
    }

    public SessionRegistry sessions() {
        return sessions;
    }

    public DenialLog denials() {
        return denials;
    }

    public BackendPool pool() {
        return pool;
    }

    /**
     * Ready: every listener bound, not shutting down, and at least one backend up (and not
     * drained).
     */
    public boolean ready() {
        return !shuttingDown && bound.size() == config.listeners().size()
                && pool.names().stream().anyMatch(b -> pool.isUp(b) && !pool.isDrained(b));
    }

    public boolean shuttingDown() {
        return shuttingDown;
    }

    /** The route overrides set by {@link #move}, routing key to backend. */
    public Map<String, String> overrides() {
        return overrides.snapshot();
    }

    /** The routing key of a login name, as the configured router normalises it. */
    public String routingKey(String user) {
        return config.routing().normalize().apply(user);
    }

    /**
     * Ends the sessions of a user (matched by routing key) with {@code * BYE [UNAVAILABLE]} after
     * their running commands; completes with how many.
     */
    public CompletableFuture<Integer> kick(String user) {
        String key = routingKey(user);
        log.warn("admin: ending the sessions of {}", key);
        return sessions.end(v -> key.equals(v.routeKey()) || user.equals(v.user()),
                "[UNAVAILABLE] session ended by the administrator", config.timeouts().shutdownGrace());
    }

    /**
     * Drains a backend: no new sessions go there (its users take its fallback, if any, or get
     * {@code NO [UNAVAILABLE]}), and its sessions get {@code * BYE [UNAVAILABLE]} after their
     * running commands. {@code drained = false} undrains it.
     *
     * @return how many sessions were told to end; {@code null} when there is no such backend
     */
    public CompletableFuture<Integer> drain(String backend, boolean drained) {
        if (!pool.has(backend)) {
            return null;
        }
        pool.setDrained(backend, drained);
        if (!drained) {
            return CompletableFuture.completedFuture(0);
        }
        return sessions.end(v -> backend.equals(v.backend()), "[UNAVAILABLE] backend draining, reconnect",
                config.timeouts().shutdownGrace());
    }

    /**
     * Moves a user to another backend: a route override (in memory only) sends their new
     * sessions there, and the sessions they have elsewhere get {@code * BYE [UNAVAILABLE] mailbox
     * moved} after their running commands, so the clients reconnect and land on {@code backend}.
     *
     * @return how many sessions were told to end; {@code null} when there is no such backend
     */
    public CompletableFuture<Integer> move(String user, String backend) {
        if (!pool.has(backend) || !config.backends().containsKey(backend)) {
            return null;
        }
        String key = routingKey(user);
        overrides.put(key, backend);
        log.warn("admin: user {} moved to backend {} (a runtime override; the configured route stays as it is)",
                key, backend);
        return sessions.end(v -> key.equals(v.routeKey()) && !backend.equals(v.backend()),
                "[UNAVAILABLE] mailbox moved", config.timeouts().shutdownGrace());
    }

    /** Forgets a user's override; returns the backend it named, or {@code null}. */
    public String unmove(String user) {
        String previous = overrides.remove(routingKey(user));
        if (previous != null) {
            log.warn("admin: override of {} to {} removed", routingKey(user), previous);
        }
        return previous;
    }

    /**
     * Re-reads the configuration file (SIGHUP, the admin API). A bad file is refused with the
     * message {@code check-config} prints, and the running configuration stays. A good one
     * applies to new sessions: routes, backends, certificates and TLS settings, limits,
     * timeouts. Listeners and the admin listener keep the addresses they are bound to.
     * Blocking (it reads files): never call it on an event loop.
     *
     * @return what the reload did, for the log and the admin API
     * @throws ReloadRefused the configuration is bad; the message is check-config's
     */
    public synchronized String reload() throws ReloadRefused {
        Path file = configFile;
        if (file == null) {
            throw new ReloadRefused("nothing to reload: this Postern was started from a configuration in memory");
        }
        ConfigFile.Checked checked;
        try {
            checked = ConfigFile.check(file);
        } catch (ConfigException | TlsConfigException e) {
            metrics.reloaded(false);
            log.error("reload of {} refused, the running configuration stays: {}", file, e.getMessage());
            throw new ReloadRefused(ConfigFile.problem(e));
        }
        PosternConfig next = checked.config();
        List<String> notes = new ArrayList<>();
        if (!next.listeners().stream().map(l -> l.name() + "@" + l.bind()).toList()
                .equals(config.listeners().stream().map(l -> l.name() + "@" + l.bind()).toList())) {
            notes.add("listeners added, removed or re-bound need a restart (the bound ones keep running)");
        }
        if (!java.util.Objects.equals(next.admin(), config.admin())) {
            notes.add("admin changes need a restart");
        }
        if (!next.io().equals(ioConfig)) {
            notes.add("io changes need a restart");
        }
        pool.reconfigure(next.backends(), next.routing());
        SessionServices old = services;
        old.limits().setMaxima(next.limits().maxSessionsPerUser(), next.limits().maxConnectionsPerAddress(),
                next.limits().maxConnections());
        Router previousRouter = router;
        router = new OverridingRouter(Routers.of(next), overrides, next.backends()::containsKey);
        services = new SessionServices(next, router, transport, checked.tls(), old.throttle(), pool,
                old.limits(), denials, policies, metrics, warm);
        policies.replace(next.policies()); // new chains for logins from now on; logged-in sessions keep theirs
        TlsRuntime previousTls = tls;
        tls = checked.tls();
        config = next;
        previousTls.close(); // stops its polling; sessions that use its contexts keep them
        previousRouter.close(); // a lookup still running on it (LDAP) fails: that login gets NO [UNAVAILABLE]
        bindMeters(next);
        metrics.reloaded(true);
        String summary = "reloaded " + file + ": " + next.listeners().size() + " listener(s), " + next.backends().size()
                + " backend(s), routing " + next.routing().strategy()
                + (notes.isEmpty() ? "" : "; " + String.join("; ", notes));
        log.warn("{}", summary);
        return summary;
    }

    /** A reload that was refused; the running configuration stays. */
    public static final class ReloadRefused extends Exception {
        private static final long serialVersionUID = 1L;

        public ReloadRefused(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * Stops accepting, ends every session with {@code * BYE [UNAVAILABLE] server shutting down}
     * after its running commands (an APPEND being sent completes), waits up to {@code grace} for
     * the sessions to end, then closes everything.
     */
    public void shutdownGracefully(Duration grace) {
        shuttingDown = true;
        log.warn("shutting down: no new connections; sessions end after their running commands (at most {} ms)",
                grace.toMillis());
        for (Channel ch : listenerChannels) {
            ch.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        sessions.end(v -> true, "[UNAVAILABLE] server shutting down", grace);
        long deadline = System.nanoTime() + grace.toNanos();
        while (sessions.size() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (sessions.size() > 0) {
            log.warn("{} session(s) still open after the grace period: closing them", sessions.size());
        }
        close();
    }

    @Override
    public void close() {
        shuttingDown = true;
        if (admin != null) {
            admin.close();
        }
        pool.close();
        warm.close();
        tls.close();
        channels.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        acceptGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        workerGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        router.close();
        io.postern.policies.audit.AuditSinks.closeAll(); // what the audit sinks accepted is written and forced
        metrics.close();
    }
}
