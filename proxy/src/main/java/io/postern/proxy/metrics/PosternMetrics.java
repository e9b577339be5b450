package io.postern.proxy.metrics;

import com.github.benmanes.caffeine.cache.Cache;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.cache.CaffeineCacheMetrics;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyAllocatorMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.postern.policies.audit.AuditSink;
import io.postern.policies.audit.AuditSyslogSink;
import io.postern.policies.audit.AuditSinks;
import io.postern.policies.scan.ScanVerdict;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * The meters of one Postern: a Prometheus registry of its own (no global registry), the JVM,
 * process and Netty allocator binders, and handles that sessions keep so that counting a command
 * is a few field reads and an adder, with no registry lookup and no tag building. It outlives
 * reloads: a reload keeps every meter and its counts.
 *
 * <p>Thread-safe: sessions on every event loop count through it; scrapes run on the admin loop.
 */
public final class PosternMetrics implements AutoCloseable {

    /** The buckets of the latency histograms ({@code postern.command.duration}, {@code postern.scan.duration}). */
    static final Duration[] LATENCY_BUCKETS = {
        Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50),
        Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1),
        Duration.ofMillis(2500), Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(30),
        Duration.ofSeconds(60)
    };

    /** Why a client connection ended: the {@code outcome} tag of {@code postern.sessions}. */
    public enum SessionOutcome {
        LOGOUT, CLIENT_CLOSED, BACKEND_CLOSED, POSTERN_CLOSED, REFUSED, TLS_FAILED;

        final String tag = name().toLowerCase(Locale.ROOT);
    }

    /** How a login was answered: the {@code result} tag of {@code postern.logins}. */
    public enum LoginResult {
        OK, FAILED, DENIED, LIMITED, UNAVAILABLE;

        final String tag = name().toLowerCase(Locale.ROOT);
    }

    /** The limit that refused something: the {@code limit} tag of {@code postern.limit.refusals}. */
    public enum Limit {
        MAX_CONNECTIONS, MAX_CONNECTIONS_PER_ADDRESS, MAX_SESSIONS_PER_USER, MAX_LOGIN_FAILURES, BACKEND_MAX_SESSIONS;

        final String tag = name().toLowerCase(Locale.ROOT);
    }

    /** Where a policy decided: the {@code stage} tag of {@code postern.policy.verdicts}. */
    public enum PolicyStage {
        LOGIN, COMMAND;

        final String tag = name().toLowerCase(Locale.ROOT);
    }

    /** What a policy decided: the {@code verdict} tag of {@code postern.policy.verdicts}. */
    public enum Verdict {
        ALLOW, REJECT, ANSWER, DISCONNECT, ERROR;

        final String tag = name().toLowerCase(Locale.ROOT);
    }

    /** The {@code policy} tag of the {@code allow} verdict: no single policy decides it. */
    public static final String WHOLE_CHAIN = "chain";

    private static final String[] AUDIT_SINK_KINDS = {"file", "syslog"};

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final List<AutoCloseable> binders = new ArrayList<>();
    private final Map<String, ListenerMeters> listeners = new ConcurrentHashMap<>();
    private final Map<String, Timer[]> commandTimers = new ConcurrentHashMap<>();
    private final Map<String, Timer[]> connectTimers = new ConcurrentHashMap<>();
    private final Map<String, Counter> handshakes = new ConcurrentHashMap<>();
    private final Map<String, Counter[]> verdicts = new ConcurrentHashMap<>();
    private final Counter[] limits = new Counter[Limit.values().length];
    private final Counter[] scans = new Counter[ScanVerdict.Outcome.values().length];
    private final Timer[] scanTimers = new Timer[ScanVerdict.Outcome.values().length];
    private final Counter reloadsOk;
    private final Counter reloadsRefused;
    final Counter clientCommandBytes;
    final Counter clientResponseBytes;
    final Counter backendCommandBytes;
    final Counter backendResponseBytes;
    private final List<Meter> cacheMeters = new ArrayList<>();
    private final List<Object> functionSources = new ArrayList<>();

    public PosternMetrics() {
        new ClassLoaderMetrics().bindTo(registry);
        new JvmMemoryMetrics().bindTo(registry);
        JvmGcMetrics gc = new JvmGcMetrics();
        gc.bindTo(registry);
        binders.add(gc);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        if (ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider provider) {
            new NettyAllocatorMetrics(provider).bindTo(registry);
        }
        for (Limit l : Limit.values()) {
            limits[l.ordinal()] = counter(PosternMeter.LIMIT_REFUSALS, l.tag);
        }
        for (ScanVerdict.Outcome o : ScanVerdict.Outcome.values()) {
            String tag = o.name().toLowerCase(Locale.ROOT);
            scans[o.ordinal()] = counter(PosternMeter.SCANS, tag);
            scanTimers[o.ordinal()] = timer(PosternMeter.SCAN_DURATION, tag);
        }
        reloadsOk = counter(PosternMeter.CONFIG_RELOADS, "ok");
        reloadsRefused = counter(PosternMeter.CONFIG_RELOADS, "refused");
        clientCommandBytes = counter(PosternMeter.BYTES, "client", "command");
        clientResponseBytes = counter(PosternMeter.BYTES, "client", "response");
        backendCommandBytes = counter(PosternMeter.BYTES, "backend", "command");
        backendResponseBytes = counter(PosternMeter.BYTES, "backend", "response");
        backendByteMeter = new ByteMeter(this);
        for (String kind : AUDIT_SINK_KINDS) {
            gauge(PosternMeter.AUDIT_QUEUE, () -> auditSum(kind, AuditSink::queued), kind);
            functionCounter(PosternMeter.AUDIT_DROPPED, () -> auditSum(kind, AuditSink::dropped), kind);
            functionCounter(PosternMeter.AUDIT_WRITE_FAILURES, () -> auditSum(kind, AuditSink::writeFailures), kind);
        }
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    // ---------------------------------------------------------------- handles for the sessions

    /** The meters of one listener, made once per listener name and kept. */
    public ListenerMeters listener(String name) {
        return listeners.computeIfAbsent(name, n -> new ListenerMeters(this, n));
    }

    /** The byte counter of client-side command bytes (what clients send), for the client pipeline. */
    public Counter clientCommandBytes() {
        return clientCommandBytes;
    }

    /** The byte counter of client-side response bytes (what clients are sent). */
    public Counter clientResponseBytes() {
        return clientResponseBytes;
    }

    /** A handler for a backend pipeline that counts its bytes ({@code side=backend}); shared by all. */
    public ByteMeter backendBytes() {
        return backendByteMeter;
    }

    private final ByteMeter backendByteMeter;

    /** The two stage timers of a command name (already normalised by {@link ListenerMeters}). */
    Timer[] commandTimers(String command) {
        return commandTimers.computeIfAbsent(command, c -> new Timer[] {
            timer(PosternMeter.COMMAND_DURATION, c, "postern"), timer(PosternMeter.COMMAND_DURATION, c, "backend")});
    }

    /** A TCP connect to a backend for a login ended, after {@code nanos}. */
    public void backendConnect(String backend, long nanos, boolean ok) {
        Timer[] t = connectTimers.computeIfAbsent(backend, b -> new Timer[] {
            timer(PosternMeter.BACKEND_CONNECT, b, "ok"), timer(PosternMeter.BACKEND_CONNECT, b, "failed")});
        t[ok ? 0 : 1].record(nanos, TimeUnit.NANOSECONDS);
    }

    /** A TLS handshake ended; {@code protocol} is the negotiated one, or {@code null} when it failed. */
    public void tlsHandshake(boolean client, boolean ok, String protocol) {
        String side = client ? "client" : "backend";
        String result = ok ? "ok" : "failed";
        String p = protocol == null || !protocol.startsWith("TLSv") || protocol.length() > 8 ? "unknown" : protocol;
        handshakes.computeIfAbsent(side + ' ' + result + ' ' + p, k -> counter(PosternMeter.TLS_HANDSHAKES, side, result, p))
                .increment();
    }

    /** A limit refused a connection, a login or a session. */
    public void limitRefused(Limit limit) {
        limits[limit.ordinal()].increment();
    }

    /** A policy verdict; {@code policy} is {@link #WHOLE_CHAIN} for {@link Verdict#ALLOW}. */
    public void policyVerdict(String policy, PolicyStage stage, Verdict verdict) {
        Counter[] byVerdict = verdicts.computeIfAbsent(policy, p -> new Counter[PolicyStage.values().length * Verdict.values().length]);
        int i = stage.ordinal() * Verdict.values().length + verdict.ordinal();
        Counter c = byVerdict[i];
        if (c == null) {
            c = counter(PosternMeter.POLICY_VERDICTS, policy, stage.tag, verdict.tag);
            byVerdict[i] = c; // a racing writer stores the same instance: the registry hands out one per id
        }
        c.increment();
    }

    /**
     * A content scan decided (the scan wiring calls this once per scanned message or part, on any
     * thread): counts {@code postern.scans} by the verdict's outcome.
     */
    public void scanned(ScanVerdict verdict) {
        scans[verdict.outcome().ordinal()].increment();
    }

    /** As {@link #scanned(ScanVerdict)}, and records how long the scan took in {@code postern.scan.duration}. */
    public void scanned(ScanVerdict verdict, Duration took) {
        scanned(verdict);
        scanTimers[verdict.outcome().ordinal()].record(took);
    }

    /** A configuration reload was done ({@code ok}) or refused. */
    public void reloaded(boolean ok) {
        (ok ? reloadsOk : reloadsRefused).increment();
    }

    // ---------------------------------------------------------------- server-wide gauges

    /** A gauge read at each scrape from {@code value} (which must be thread-safe and cheap). */
    public void gauge(PosternMeter meter, Supplier<Number> value, String... tagValues) {
        check(meter, Meter.Type.GAUGE);
        Gauge.builder(meter.meterName(), value).baseUnit(meter.baseUnit()).description(meter.description())
                .tags(meter.tags(tagValues)).strongReference(true).register(registry);
    }

    /** Removes the meter of {@code meter} with exactly these tag values, if there is one (a backend a reload removed). */
    public void remove(PosternMeter meter, String... tagValues) {
        Meter m = registry.find(meter.meterName()).tags(meter.tags(tagValues)).meter();
        if (m != null) {
            registry.remove(m);
        }
    }

    /**
     * Binds the routing caches of the current router (Caffeine's own binder: {@code cache.gets}
     * by {@code result} hit/miss, {@code cache.size}, {@code cache.evictions} ...), replacing the
     * meters of the caches an earlier router had.
     */
    public synchronized void bindCaches(Map<String, Cache<?, ?>> caches) {
        cacheMeters.forEach(registry::remove);
        cacheMeters.clear();
        List<Meter> before = registry.getMeters();
        caches.forEach((name, cache) -> new CaffeineCacheMetrics<>(cache, name, Tags.empty()).bindTo(registry));
        registry.getMeters().stream().filter(m -> !before.contains(m)).forEach(cacheMeters::add);
    }

    // ---------------------------------------------------------------- exposition

    /** The content types of the two formats (as the Prometheus client's writers name them). */
    public static final String OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    public static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

    /** A scrape: the content type chosen from the request's {@code Accept} header, and the body. */
    public record Scrape(String contentType, byte[] body) {}

    /** OpenMetrics when {@code accept} asks for {@code application/openmetrics-text}, else Prometheus text 0.0.4. */
    public Scrape scrape(String accept) {
        String type = accept != null && accept.toLowerCase(Locale.ROOT).contains("application/openmetrics-text")
                ? OPENMETRICS
                : PROMETHEUS_TEXT;
        return new Scrape(type, registry.scrape(type).getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public void close() {
        for (AutoCloseable c : binders) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing a meter binder", e);
            }
        }
        registry.close();
    }

    // ---------------------------------------------------------------- building meters from the catalogue

    Counter counter(PosternMeter meter, String... tagValues) {
        check(meter, Meter.Type.COUNTER);
        return Counter.builder(meter.meterName()).baseUnit(meter.baseUnit()).description(meter.description())
                .tags(meter.tags(tagValues)).register(registry);
    }

    Timer timer(PosternMeter meter, String... tagValues) {
        check(meter, Meter.Type.TIMER);
        return Timer.builder(meter.meterName()).description(meter.description()).tags(meter.tags(tagValues))
                .serviceLevelObjectives(LATENCY_BUCKETS).register(registry);
    }

    private void functionCounter(PosternMeter meter, Supplier<Number> value, String... tagValues) {
        check(meter, Meter.Type.COUNTER);
        functionSources.add(value); // a function counter holds its source weakly
        FunctionCounter.builder(meter.meterName(), value, v -> v.get().doubleValue()).baseUnit(meter.baseUnit())
                .description(meter.description()).tags(meter.tags(tagValues)).register(registry);
    }

    private static void check(PosternMeter meter, Meter.Type type) {
        if (meter.type() != type) {
            throw new IllegalArgumentException(meter.meterName() + " is a " + meter.type() + ", not a " + type);
        }
    }

    private static double auditSum(String kind, ToDoubleFunction<AuditSink> f) {
        double sum = 0;
        for (AuditSink s : AuditSinks.all()) {
            if (kind.equals(s instanceof AuditSyslogSink ? "syslog" : "file")) {
                sum += f.applyAsDouble(s);
            }
        }
        return sum;
    }
}
