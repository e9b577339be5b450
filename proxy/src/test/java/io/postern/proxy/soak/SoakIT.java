package io.postern.proxy.soak;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetric;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.util.ResourceLeakDetector;
import io.postern.imap.testing.LeakDetectionExtension;
import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.server.PosternServer;
import io.postern.proxy.testing.DovecotFixture;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Soak: thousands of sessions through one in-process Postern for minutes, against Dovecot; then
 * checks that nothing grew. Not part of the default build (Failsafe's default run excludes this
 * package); the {@code soak} profile runs it alone:
 *
 * <pre>
 * mvn -B -ntp -o verify -pl proxy -Psoak -Dsoak.minutes=12                       # 2000 sessions, 2 + 10 minutes
 * mvn -B -ntp -o verify -pl proxy -Psoak -Dsoak.sessions=500 -Dsoak.minutes=2    # a short try
 * </pre>
 *
 * <p>More knobs: {@code -Dsoak.thinkMillis=8000} (think time between commands, uniform from 0),
 * {@code -Dsoak.idleMillis=10000} (the longest IDLE), {@code -Dsoak.loginsPerSecond=20} (session
 * starts a second over all slots, at the start and afterwards), {@code -Dsoak.abruptPercent=10}
 * (sessions that end without LOGOUT), {@code -Dsoak.keepDovecot=true} (keep the shards'
 * directories, with their logs). Needs Dovecot (run as root, like the other Dovecot tests). The
 * sessions are spread over shards of at most {@value #SESSIONS_PER_SHARD}, each a Dovecot tuned
 * for load ({@link #DOVECOT_UNDER_LOAD}), and over {@code sessions / 5} users (Dovecot allows 1000
 * connections per user and address).
 *
 * <p>Each session is a Netty client on a shared two-thread event loop group: LOGIN, SELECT of a
 * folder of its own, then 15 to 50 of NOOP, FETCH of a whole message (checked against the
 * checksum it carries), APPEND (synchronizing and LITERAL+, 0.5 kB to 1 MB), IDLE/DONE, STORE and
 * EXPUNGE, and LOGOUT; or an abrupt close between commands, right after a FETCH, in the middle of
 * an APPEND literal, or during IDLE. A slot that ends waits for its turn to log in again: logins
 * are paced over all slots, as a backend sees them from a population of mail clients (a session
 * lasts some three minutes here), not as a storm that the backend's auth would have to queue.
 *
 * <p>Phases: a warm-up with the full workload (a fifth of the time, 20 s to 2 min), all sessions
 * ended, a baseline (heap after GC, open file descriptors of this process); the main run, all
 * sessions ended, the same figures again. It passes when no error came that the workload did not
 * provoke, the heap after GC is at most {@value #HEAP_SLACK_MB} MB above the baseline, the open
 * files at most {@value #FD_SLACK} above, Postern has no client or backend connection left, and
 * Netty's leak detector reports nothing: at ADVANCED here (one buffer in 128 tracked, with where
 * it was last touched), not at the PARANOID of the other tests, which records a stack trace for
 * every buffer and would make the soak measure the detector (some ten times Postern's own CPU
 * per command on two cores). A leak on a path that thousands of sessions take is still found;
 * the heap and file bounds catch the rest. The heap bound catches a leak
 * of about 10 kB a session in the short try (some 3,500 sessions), about 1 kB in the default run.
 */
class SoakIT {

    private static final org.slf4j.Logger log = LoggerFactory.getLogger(SoakIT.class);

    static final int SESSIONS_PER_SHARD = 500;

    /**
     * The shards' settings for hundreds of sessions and steady logins on a small machine, added to
     * the fixture's: an auth cache (a login looks the user up once an hour, not every time), two
     * login processes (one a core) that take every connection, and imap processes that are kept
     * and reused after a session instead of forked anew for each login. The limits leave room
     * above {@link #SESSIONS_PER_SHARD}: sessions that end and start overlap for a moment.
     */
    static final String DOVECOT_UNDER_LOAD = """
            auth_cache_size = 4M
            auth_cache_ttl = 1 hours
            auth_cache_negative_ttl = 0
            service auth {
              client_limit = 4000
            }
            service imap-login {
              service_count = 0
              process_min_avail = 2
              client_limit = 2000
            }
            service imap {
              service_count = 0
              client_limit = 1
              process_limit = 1024
              process_min_avail = 16
            }
            """;
    static final int HEAP_SLACK_MB = 32;
    static final int FD_SLACK = 10;

    /** What the process holds when no session runs. */
    private record Figures(long heapAfterGc, long openFiles, long nettyUsedMemory, int threads) {

        static Figures measure() throws IOException, InterruptedException {
            for (int i = 0; i < 3; i++) {
                System.gc();
                Thread.sleep(200);
            }
            long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
            long files;
            try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
                files = fds.count();
            }
            long netty = -1;
            if (ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider provider) {
                ByteBufAllocatorMetric metric = provider.metric();
                netty = metric.usedHeapMemory() + metric.usedDirectMemory();
            }
            return new Figures(heap, files, netty, Thread.activeCount());
        }

        @Override
        public String toString() {
            return String.format("heap after GC %d MB, open files %d, Netty allocator %d MB, threads %d",
                    heapAfterGc >> 20, openFiles, nettyUsedMemory >> 20, threads);
        }
    }

    @Test
    void thousandsOfSessionsLeaveNothingBehind() throws Exception {
        // 2000 at 20 logins a second: clean on this 2-core machine when nothing else runs; see the README
        int sessions = Integer.getInteger("soak.sessions", 2000);
        Duration total = Duration.ofSeconds(Math.round(Double.parseDouble(System.getProperty("soak.minutes", "10")) * 60));
        Duration warmUp = clamp(total.dividedBy(5), Duration.ofSeconds(20), Duration.ofMinutes(2));
        Duration main = total.minus(warmUp);
        assertThat(main).as("soak.minutes leaves no time after the warm-up").isPositive();
        SoakWorkload.Settings settings = new SoakWorkload.Settings(sessions, Math.max(1, sessions / 5),
                Integer.getInteger("soak.thinkMillis", 8000), 15, 50, Integer.getInteger("soak.abruptPercent", 10),
                Integer.getInteger("soak.loginsPerSecond", 20), Integer.getInteger("soak.idleMillis", 10_000));
        int shardCount = (sessions + SESSIONS_PER_SHARD - 1) / SESSIONS_PER_SHARD;
        log.info("soak: {} sessions, {} users, {} Dovecot shard(s), at most {} logins/s, warm-up {} s, main run {} s",
                sessions, settings.users(), shardCount, settings.loginsPerSecond(), warmUp.toSeconds(), main.toSeconds());

        List<DovecotFixture> shards = new ArrayList<>();
        PosternServer postern = null;
        Logger posternLog = (Logger) LoggerFactory.getLogger("io.postern.proxy");
        Logger soakLog = (Logger) LoggerFactory.getLogger(SoakIT.class.getPackageName());
        Level level = posternLog.getLevel();
        Level soakLevel = soakLog.getLevel();
        ResourceLeakDetector.Level leakLevel = ResourceLeakDetector.getLevel();
        try {
            for (int i = 0; i < shardCount; i++) {
                shards.add(DovecotFixture.builder().name("soak" + i).keepDirectory(Boolean.getBoolean("soak.keepDovecot"))
                        .setting(DOVECOT_UNDER_LOAD).start());
            }
            for (int u = 0; u < settings.users(); u++) {
                shards.get(u % shardCount).addUser(SoakWorkload.user(u), SoakWorkload.PASSWORD);
            }
            postern = PosternServer.start(config(shards, settings.users()));
            posternLog.setLevel(Level.WARN); // a line per login at INFO: hundreds a second
            ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.ADVANCED); // see the class comment
            soakLog.setLevel(Level.INFO);
            SoakWorkload workload = new SoakWorkload(postern.address("imap"), settings);

            SoakStats warm = new SoakStats();
            workload.run(warmUp, warm);
            awaitNoConnections(postern, shardCount);
            Figures baseline = Figures.measure();
            log.info("soak warm-up:\n{}\nbaseline: {}", warm.summary(), baseline);

            SoakStats stats = new SoakStats();
            workload.run(main, stats);
            awaitNoConnections(postern, shardCount);
            Figures end = Figures.measure();
            List<String> leaks = LeakDetectionExtension.collectLeaks();
            List<String> dovecotErrors = dovecotErrors(shards);
            log.info("soak main run ({} s):\n{}\nbaseline: {}\nend:      {}\nleak reports: {}\n"
                    + "Dovecot's log: {} error line(s){}",
                    main.toSeconds(), stats.summary(), baseline, end, leaks.size(), dovecotErrors.size(),
                    dovecotErrors.isEmpty() ? "" : ", first: " + dovecotErrors.get(0));

            // Postern's own footing first: these hold even when an overloaded backend refused logins
            assertThat(leaks).as("leaks reported by Netty").isEmpty();
            assertThat(end.heapAfterGc() >> 20).as("heap after GC (MB), baseline %s", baseline)
                    .isLessThanOrEqualTo((baseline.heapAfterGc() >> 20) + HEAP_SLACK_MB);
            assertThat(end.openFiles()).as("open files, baseline %s", baseline)
                    .isLessThanOrEqualTo(baseline.openFiles() + FD_SLACK);
            assertThat(postern.pendingClientBytes()).as("bytes queued for clients").isZero();
            assertThat(warm.errors() + stats.errors()).as("errors the workload did not provoke:\n%s\n%s",
                    warm.summary(), stats.summary()).isZero();
            // every slot ran, and sessions ended and started again (a session lasts minutes: a short try turns fewer over)
            assertThat(stats.sessionsStarted.get()).as("sessions of the main run").isGreaterThanOrEqualTo(sessions);
            assertThat(stats.sessionsLoggedOut.get()).as("sessions of the main run that logged out").isPositive();
            assertThat(dovecotErrors).as("Dovecot's log").noneMatch(l -> l.contains(" Fatal: ") || l.contains(" Panic: "));
        } finally {
            posternLog.setLevel(level);
            soakLog.setLevel(soakLevel);
            ResourceLeakDetector.setLevel(leakLevel);
            if (postern != null) {
                postern.close();
            }
            for (DovecotFixture shard : shards) {
                shard.close();
            }
        }
    }

    private static Duration clamp(Duration d, Duration min, Duration max) {
        return d.compareTo(min) < 0 ? min : d.compareTo(max) > 0 ? max : d;
    }

    /** User {@code u} is on shard {@code u % n}, where the test added it. */
    private static PosternConfig config(List<DovecotFixture> shards, int users) throws Exception {
        String backends = IntStream.range(0, shards.size())
                .mapToObj(i -> """
                          - name: shard%d
                            address: %s:%d
                            tls: none
                        """.formatted(i, shards.get(i).host(), shards.get(i).port()))
                .collect(Collectors.joining());
        String routes = IntStream.range(0, users)
                .mapToObj(u -> SoakWorkload.user(u) + ": shard" + (u % shards.size()))
                .collect(Collectors.joining(", "));
        return PosternConfig.parse("""
                listeners:
                  - name: imap
                    bind: 127.0.0.1:0
                    tls: none
                backends:
                %s
                routing:
                  strategy: static
                  static: { %s }
                  default: shard0
                """.formatted(backends.stripTrailing(), routes));
    }

    /** Waits until Postern holds no client connection and no backend session (the last LOGOUTs close). */
    private static void awaitNoConnections(PosternServer postern, int shards) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        int open;
        do {
            open = postern.openClientConnections();
            for (int i = 0; i < shards; i++) {
                open += postern.backendSessions("shard" + i);
            }
            if (open > 0) {
                Thread.sleep(100);
            }
        } while (open > 0 && System.nanoTime() < deadline);
        assertThat(open).as("client connections and backend sessions left in Postern").isZero();
    }

    /** The error lines of the shards' logs. */
    private static List<String> dovecotErrors(List<DovecotFixture> shards) throws IOException {
        List<String> errors = new ArrayList<>();
        for (DovecotFixture shard : shards) {
            try (Stream<String> lines = Files.lines(shard.logPath(), StandardCharsets.ISO_8859_1)) {
                lines.filter(l -> l.contains(" Error: ") || l.contains(" Fatal: ") || l.contains(" Panic: "))
                        .forEach(errors::add);
            }
        }
        return errors;
    }
}
