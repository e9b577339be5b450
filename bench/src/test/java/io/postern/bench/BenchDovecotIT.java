package io.postern.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;

import io.postern.bench.client.ClientRuntime;
import io.postern.bench.client.Target;
import io.postern.bench.report.RunResult;
import io.postern.bench.seed.MessageGenerator;
import io.postern.bench.seed.SeedCommand;
import io.postern.bench.workload.AppendWorkload;
import io.postern.bench.workload.FetchWorkload;
import io.postern.bench.workload.IdleWorkload;
import io.postern.bench.workload.LoginWorkload;
import io.postern.bench.workload.MixedWorkload;
import io.postern.bench.workload.NoopWorkload;
import io.postern.bench.workload.WorkloadCommand;
import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.relay.PosternHarness;
import io.postern.proxy.server.PosternServer;
import io.postern.proxy.testing.DovecotFixture;
import io.postern.tls.SelfSignedCertificates;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Every workload of the driver, briefly, against a real Dovecot directly and through Postern:
 * the results must be sane (counts right, no errors) and the data the same both ways (checksums
 * equal to what was seeded). No timing is asserted.
 */
class BenchDovecotIT {

    private static final int MESSAGES = 150;
    private static final int BIG = 3 * 1024 * 1024;
    private static final long SEED = 42;

    private static DovecotFixture dovecot;
    private static PosternServer postern;
    /** With a STARTTLS and an implicit-TLS listener (self-signed certificate), for the TLS targets. */
    private static PosternServer posternTls;
    private static Path certificates;
    private static ClientRuntime runtime;
    private static Target direct;
    private static Target proxied;

    @BeforeAll
    static void start() throws Exception {
        dovecot = DovecotFixture.builder().name("bench")
                .user("bench", "bench").user("bench0", "bench").user("bench1", "bench").user("seeded", "bench").start();
        // "bench" is seeded by writing Maildir files, "seeded" over IMAP APPEND through Postern: both must read the same
        assertThat(seed("--maildir", dovecot.directory().resolve("mail/bench/Maildir").toString())).isZero();
        postern = PosternServer.start(PosternHarness.config(dovecot.host(), dovecot.port(), "limits:\n  max_sessions_per_user: 0\n"));
        runtime = new ClientRuntime(1);
        direct = Target.parse("imap://" + dovecot.host() + ":" + dovecot.port(), false);
        proxied = Target.parse("imap://127.0.0.1:" + postern.address("imap").getPort(), false);
        assertThat(seed("--target", proxied.toString(), "--user", "seeded")).isZero();
        certificates = Files.createTempDirectory("postern-bench-certs-");
        SelfSignedCertificates.Generated pair =
                SelfSignedCertificates.generate("localhost", List.of("127.0.0.1"), certificates, Duration.ofDays(1));
        posternTls = PosternServer.start(PosternConfig.parse("""
                listeners:
                  - name: starttls
                    bind: 127.0.0.1:0
                    tls: starttls
                  - name: imaps
                    bind: 127.0.0.1:0
                    tls: implicit
                tls:
                  certificates:
                    - cert: %s
                      key: %s
                backends:
                  - name: backend
                    address: %s:%d
                    tls: none
                routing:
                  strategy: static
                  default: backend
                limits:
                  max_sessions_per_user: 0
                """.formatted(pair.cert(), pair.key(), dovecot.host(), dovecot.port())));
    }

    private static int seed(String... where) {
        List<String> args = new ArrayList<>(List.of(where));
        args.addAll(List.of("--messages", Integer.toString(MESSAGES), "--big-size", Integer.toString(BIG), "--seed", Long.toString(SEED)));
        return new CommandLine(new SeedCommand()).execute(args.toArray(String[]::new));
    }

    @AfterAll
    static void stop() throws Exception {
        if (runtime != null) {
            runtime.close();
        }
        if (postern != null) {
            postern.close();
        }
        if (posternTls != null) {
            posternTls.close();
        }
        if (certificates != null) {
            try (var files = Files.list(certificates)) {
                for (Path file : files.toList()) {
                    Files.delete(file);
                }
            }
            Files.delete(certificates);
        }
        if (dovecot != null) {
            dovecot.close();
        }
    }

    /** Runs the workload with these options against both targets; both must be free of errors. */
    private static List<RunResult> both(WorkloadCommand workload, String... args) throws Exception {
        new CommandLine(workload).parseArgs(args);
        List<RunResult> results = new ArrayList<>();
        for (Target target : List.of(direct, proxied)) {
            RunResult result = workload.runOnce(runtime, target);
            assertThat(result.errors()).as("errors against %s: %s", target, result.toTable()).isEmpty();
            results.add(result);
        }
        return results;
    }

    private static String expectedChecksum(int count, java.util.function.IntFunction<byte[]> message) {
        CRC32C crc = new CRC32C();
        long bytes = 0;
        for (int i = 0; i < count; i++) {
            byte[] m = message.apply(i);
            crc.update(m);
            bytes += m.length;
        }
        return String.format("%08x/%d", crc.getValue(), bytes);
    }

    @Test
    void fetchReadsTheSeededBytesBothWays() throws Exception {
        MessageGenerator generator = new MessageGenerator(SEED);
        String mailbox = expectedChecksum(MESSAGES, generator::message);
        String big = expectedChecksum(1, i -> generator.message(1_000_000, BIG));
        for (String user : List.of("bench", "seeded")) {
            for (RunResult r : both(new FetchWorkload(), "--user", user, "--repeat", "2", "--big-repeat", "2")) {
                assertThat(r.metrics()).containsEntry("mailbox_messages", (double) MESSAGES)
                        .containsEntry("mailbox_passes", 2.0).containsEntry("big_messages", 1.0);
                assertThat(r.facts()).containsEntry("mailbox_crc32c", mailbox).containsEntry("big_crc32c", big);
                assertThat(r.metrics().get("mailbox_mb_per_s")).isPositive();
            }
        }
    }

    @Test
    void compressThroughPosternReadsTheSameBytesInFewerOnTheWire() throws Exception {
        MessageGenerator generator = new MessageGenerator(SEED);
        String mailbox = expectedChecksum(MESSAGES, generator::message);
        FetchWorkload fetch = new FetchWorkload();
        new CommandLine(fetch).parseArgs("--compress", "--repeat", "1", "--big-mailbox", "");
        RunResult r = fetch.runOnce(runtime, proxied); // Postern offers COMPRESS=DEFLATE itself
        assertThat(r.errors()).as(r.toTable()).isEmpty();
        assertThat(r.facts()).containsEntry("mailbox_crc32c", mailbox);
        long literals = Long.parseLong(mailbox.substring(mailbox.indexOf('/') + 1));
        assertThat(r.metrics().get("wire_bytes_in")).as("compressed bytes at the socket").isPositive().isLessThan(literals);
        MixedWorkload mixed = new MixedWorkload();
        new CommandLine(mixed).parseArgs("--compress", "--clients", "3", "--operations", "60");
        RunResult m = mixed.runOnce(runtime, proxied);
        assertThat(m.errors()).as(m.toTable()).isEmpty();
        assertThat(m.metrics()).containsEntry("operations", 60.0);
    }

    @Test
    void tlsTargetsStartTlsAndImplicitReadTheSameBytes() throws Exception {
        MessageGenerator generator = new MessageGenerator(SEED);
        String mailbox = expectedChecksum(MESSAGES, generator::message);
        for (String target : List.of(
                "imap+starttls://127.0.0.1:" + posternTls.address("starttls").getPort(),
                "imaps://127.0.0.1:" + posternTls.address("imaps").getPort())) {
            FetchWorkload fetch = new FetchWorkload();
            new CommandLine(fetch).parseArgs("--trust-all", "--repeat", "1", "--big-mailbox", "");
            RunResult r = fetch.runOnce(runtime, Target.parse(target, true));
            assertThat(r.errors()).as(r.toTable()).isEmpty();
            assertThat(r.facts()).containsEntry("mailbox_crc32c", mailbox);
            LoginWorkload login = new LoginWorkload();
            new CommandLine(login).parseArgs("--sessions", "6", "--concurrency", "3");
            RunResult logins = login.runOnce(runtime, Target.parse(target, true));
            assertThat(logins.metrics()).as(logins.toTable()).containsEntry("sessions", 6.0).containsEntry("failures", 0.0);
        }
    }

    @Test
    void tlsWithoutTrustAllRefusesTheSelfSignedCertificate() {
        LoginWorkload login = new LoginWorkload();
        new CommandLine(login).parseArgs("--sessions", "1", "--concurrency", "1");
        RunResult r = assertDoesNotThrow(() ->
                login.runOnce(runtime, Target.parse("imaps://127.0.0.1:" + posternTls.address("imaps").getPort(), false)));
        assertThat(r.metrics()).containsEntry("sessions", 0.0).containsEntry("failures", 1.0);
        assertThat(r.errors()).singleElement().asString().contains("SSLHandshakeException");
    }

    @Test
    void noopCountsEveryRoundTripAndPipelinedCommand() throws Exception {
        for (RunResult r : both(new NoopWorkload(), "--round-trips", "200", "--warmup", "20", "--bursts", "10", "--depth", "100")) {
            assertThat(r.metrics()).containsEntry("round_trips", 200.0).containsEntry("pipelined_commands", 1000.0)
                    .containsEntry("pipelined_failures", 0.0);
            assertThat(r.metrics().get("rtt_p50_us")).isPositive();
            assertThat(r.metrics().get("rtt_p99_us")).isGreaterThanOrEqualTo(r.metrics().get("rtt_p50_us"));
        }
    }

    @Test
    void loginStormCompletesEverySession() throws Exception {
        for (RunResult r : both(new LoginWorkload(), "--sessions", "24", "--concurrency", "4", "--user", "bench%d", "--user-count", "2")) {
            assertThat(r.metrics()).containsEntry("sessions", 24.0).containsEntry("failures", 0.0);
        }
    }

    @Test
    void appendStoresExactlyWhatWasSentWithBothKindsOfLiteral() throws Exception {
        for (RunResult r : both(new AppendWorkload(), "--count", "4", "--size", "300KiB", "--user", "bench1")) {
            assertThat(r.metrics()).containsEntry("sync_messages", 4.0).containsEntry("literal_plus_messages", 4.0);
            assertThat(r.facts()).containsEntry("read_back", "equal");
        }
    }

    @Test
    void idlersAllSeeEachAppend() throws Exception {
        String pid = Long.toString(ProcessHandle.current().pid());
        for (RunResult r : both(new IdleWorkload(), "--sessions", "12", "--user", "bench%d", "--user-count", "2",
                "--pid", pid, "--jcmd", "", "--warmup-rounds", "1", "--appends", "2", "--settle", "100ms")) {
            assertThat(r.metrics()).containsEntry("idling", 12.0).containsEntry("failures", 0.0)
                    .containsEntry("exists_idlers", 6.0).containsEntry("exists_missed", 0.0);
            assertThat(r.metrics()).containsKeys("rss_before_kib", "rss_idle_kib", "rss_per_session_kib", "exists_last_ms");
        }
    }

    @Test
    void mixedRunsTheWholeBudget() throws Exception {
        for (RunResult r : both(new MixedWorkload(), "--clients", "3", "--operations", "150")) {
            assertThat(r.metrics()).containsEntry("operations", 150.0);
        }
    }

    @Test
    void compareRunsInterleavedAndFindsTheSameContentBothWays() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream stdout = System.out;
        int exit;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            exit = new CommandLine(new BenchMain()).execute("compare", "--a", direct.toString(), "--b", proxied.toString(),
                    "--rounds", "2", "--pause", "10ms", "fetch", "--repeat", "1", "--big-repeat", "1");
        } finally {
            System.setOut(stdout);
        }
        String[] lines = out.toString(StandardCharsets.UTF_8).trim().split("\n");
        assertThat(exit).as(String.join("\n", lines)).isZero();
        // four runs (A B A B), then the summary
        assertThat(lines).hasSize(5);
        assertThat(lines[0]).contains("\"side\":\"direct\"").contains("\"round\":1");
        assertThat(lines[1]).contains("\"side\":\"postern\"");
        assertThat(lines[4]).startsWith("{\"compare\":\"fetch\"").contains("\"facts_equal\":true")
                .contains("\"mailbox_mb_per_s\":{\"a\":");
    }
}
