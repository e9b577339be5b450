package io.postern.proxy.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetric;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.util.ResourceLeakDetector;
import io.postern.proxy.server.PosternServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What an attack did to everyone else. While it runs, a well-behaved client on its own thread
 * does NOOP round trips through Postern and records how long each took, and a sampler records
 * the peak of the memory Postern's buffers hold: Netty's default allocator (used heap plus
 * direct memory, over the baseline taken before the attack) and
 * {@link PosternServer#pendingClientBytes()}.
 *
 * <pre>{@code
 * AttackWatch.during("case", postern, "watcher", "pw", () -> {
 *     ... the attack, and assertions on what the attacker was answered ...
 *     return "what the attacker got"; // for the report
 * }).assertOthersUnharmed();
 * }</pre>
 */
final class AttackWatch implements AutoCloseable {

    /** Growth of the allocator's used memory over the baseline that any attack here must stay under. */
    static final long MEMORY_BOUND = 16L << 20;
    /** Bytes queued toward clients, summed over all sessions: a few write-buffer high-water marks. */
    static final long PENDING_BOUND = 1L << 20;
    /** The slowest NOOP round trip accepted: a liveness check, not a benchmark. */
    static final Duration LATENCY_BOUND = Duration.ofSeconds(2);

    private static final ByteBufAllocatorMetric ALLOCATOR =
            ((ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT).metric();
    private static final List<Figures> REPORT = new ArrayList<>();

    /** An attack; returns what the attacker was answered, for the report. */
    @FunctionalInterface
    interface Attack {
        String run() throws Exception;
    }

    /**
     * @param memoryGrowth the peak of Netty's used heap and direct memory over the baseline, bytes
     * @param pendingClientBytes the peak of {@link PosternServer#pendingClientBytes()}
     * @param failure why the well-behaved session failed, or {@code null}
     */
    record Figures(
            String attack,
            String answer,
            long memoryGrowth,
            long pendingClientBytes,
            int noops,
            long worstNoopMillis,
            String failure) {

        /** The well-behaved session kept working, quickly enough, and Postern's memory stayed bounded. */
        Figures assertOthersUnharmed() {
            return assertOthersUnharmed(PENDING_BOUND);
        }

        /** @param pendingBound a bound of its own for bytes queued toward clients */
        Figures assertOthersUnharmed(long pendingBound) {
            assertThat(failure).as("%s: the concurrent session failed", attack).isNull();
            assertThat(noops).as("%s: NOOP round trips during the attack", attack).isGreaterThanOrEqualTo(3);
            assertThat(worstNoopMillis).as("%s: slowest concurrent NOOP, ms", attack)
                    .isLessThan(LATENCY_BOUND.toMillis());
            assertThat(memoryGrowth).as("%s: Netty used memory growth, bytes", attack).isLessThan(MEMORY_BOUND);
            assertThat(pendingClientBytes).as("%s: bytes pending toward clients", attack).isLessThan(pendingBound);
            return this;
        }
    }

    private final String attack;
    private final PosternServer server;
    private final long baseline;
    private final AtomicLong peakUsed = new AtomicLong();
    private final AtomicLong peakPending = new AtomicLong();
    private final AtomicLong worstNanos = new AtomicLong();
    private final AtomicLong noops = new AtomicLong();
    private final AtomicReference<String> failure = new AtomicReference<>();
    private final Thread sampler;
    private final Thread pinger;
    private volatile boolean running = true;

    private AttackWatch(String attack, PosternServer server, HostileSocket session) {
        this.attack = attack;
        this.server = server;
        this.baseline = used();
        this.peakUsed.set(baseline);
        this.sampler = new Thread(this::sample, "attack-watch-sampler");
        this.pinger = new Thread(() -> ping(session), "attack-watch-noop");
        sampler.setDaemon(true);
        pinger.setDaemon(true);
    }

    /** Runs {@code attack} while watching, and returns the figures, not yet checked. */
    static Figures during(String name, PosternServer server, String user, String password, Attack attack)
            throws Exception {
        AttackWatch watch = start(name, server, user, password);
        try {
            return watch.finish(attack.run());
        } finally {
            watch.close();
        }
    }

    /**
     * Logs the well-behaved session in, waits for its first NOOP, takes the memory baseline,
     * and starts watching.
     */
    private static AttackWatch start(String attack, PosternServer server, String user, String password)
            throws IOException {
        HostileSocket session = HostileSocket.greeted(server.address("imap"));
        session.send("w0 LOGIN " + user + " " + password + "\r\nw1 NOOP\r\n");
        String ok = session.tagged("w0");
        if (!ok.startsWith("w0 OK ")) {
            session.close();
            throw new IOException("the well-behaved session cannot log in: " + ok);
        }
        session.tagged("w1");
        AttackWatch watch = new AttackWatch(attack, server, session);
        watch.sampler.start();
        watch.pinger.start();
        return watch;
    }

    /**
     * Paranoid leak tracking (the test JVM's setting) records a stack trace for every buffer and
     * makes Postern some ten times slower: for the tests that are about volume, sampling will do.
     */
    static AutoCloseable simpleLeakDetection() {
        ResourceLeakDetector.Level level = ResourceLeakDetector.getLevel();
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.SIMPLE);
        return () -> ResourceLeakDetector.setLevel(level);
    }

    private static long used() {
        return ALLOCATOR.usedHeapMemory() + ALLOCATOR.usedDirectMemory();
    }

    private void sample() {
        while (running) {
            peakUsed.accumulateAndGet(used(), Math::max);
            peakPending.accumulateAndGet(server.pendingClientBytes(), Math::max);
            sleep(5);
        }
    }

    private void ping(HostileSocket session) {
        try (session) {
            for (int i = 2; running; i++) {
                long t0 = System.nanoTime();
                session.send("w" + i + " NOOP\r\n");
                String reply = session.tagged("w" + i);
                long took = System.nanoTime() - t0;
                if (!reply.startsWith("w" + i + " OK")) {
                    failure.set("NOOP answered " + reply);
                    return;
                }
                worstNanos.accumulateAndGet(took, Math::max);
                noops.incrementAndGet();
                sleep(20);
            }
            session.send("w LOGOUT\r\n");
        } catch (IOException | RuntimeException e) {
            failure.set(e.toString());
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Waits until the concurrent session has done at least {@code n} more round trips: makes sure
     * an attack that ends quickly still overlaps some traffic.
     */
    private void awaitNoops(int n) {
        long target = noops.get() + n;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (noops.get() < target && failure.get() == null && System.nanoTime() < deadline) {
            sleep(5);
        }
    }

    /** Stops watching, records the figures for the report, and returns them. */
    private Figures finish(String answer) {
        awaitNoops(3);
        close();
        Figures figures = new Figures(attack, answer, peakUsed.get() - baseline, peakPending.get(), (int) noops.get(),
                TimeUnit.NANOSECONDS.toMillis(worstNanos.get()), failure.get());
        synchronized (REPORT) {
            REPORT.add(figures);
        }
        return figures;
    }

    @Override
    public void close() {
        if (!running) {
            return;
        }
        running = false;
        try {
            sampler.join(5000);
            pinger.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Appends the figures recorded so far to {@code target/hostile-report.md} and clears them. */
    static void writeReport(String title) {
        StringBuilder table = new StringBuilder("\n## " + title + "\n\n"
                + "| attack | what the client gets | memory growth (KiB) | pending to clients (KiB) "
                + "| concurrent NOOPs | worst NOOP (ms) |\n|---|---|---|---|---|---|\n");
        synchronized (REPORT) {
            for (Figures f : REPORT) {
                table.append(String.format(Locale.ROOT, "| %s | %s | %d | %d | %d | %d |%n", f.attack(),
                        f.answer().replace("|", "\\|"), f.memoryGrowth() >> 10, f.pendingClientBytes() >> 10,
                        f.noops(), f.worstNoopMillis()));
            }
            REPORT.clear();
        }
        System.out.print(table);
        try {
            Path file = Path.of("target", "hostile-report.md");
            Files.createDirectories(file.getParent());
            Files.writeString(file, table, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
