package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.postern.policies.audit.AuditChain;
import io.postern.policies.audit.AuditEvent;
import io.postern.policies.audit.AuditSink;
import io.postern.policies.audit.AuditSinks;
import io.postern.policies.audit.AuditSyslogSink;
import io.postern.policies.audit.AuditVerifier;
import io.postern.proxy.metrics.PrometheusText;
import io.postern.proxy.testing.DovecotFixture;
import io.postern.proxy.testing.RsyslogFixture;
import io.postern.tls.testing.TestCertificates;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The syslog audit sink against a real rsyslog: RFC 5424 messages, octet-counted over TCP and
 * over TLS, parsed by rsyslog as sent, the records verifying as a chain; the receiver stopped
 * and started again in each mode (block holds the producer, drop counts and leaves a gap
 * record, fail-closed refuses an audited user's commands through Postern against Dovecot), and
 * the sink coming back each time.
 */
class AuditSyslogIT {

    private static final byte[] KEY = "a-syslog-audit-key-0123456789".getBytes(StandardCharsets.US_ASCII);
    /** RFC 5424 as sent by the sink: PRI, version 1, timestamp, host, app, procid, msgid, no SD, the record. */
    private static final Pattern RFC5424 = Pattern.compile(
            "<(\\d{1,3})>1 (\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(?:\\.\\d{1,6})?Z) ([!-~]{1,255}) ([!-~]{1,48}) (\\d{1,128}) (audit) - (\\{.*\\})");
    private static final String PASSWORD = "Syslog-s3cret-6610";

    @TempDir
    Path dir;

    private final AtomicInteger events = new AtomicInteger();

    @AfterEach
    void closeSinks() {
        AuditSinks.closeAll();
    }

    private AuditSyslogSink.Settings settings(int port, boolean tls, Path ca, String serverName, int queue, AuditSink.WhenFull mode) {
        return new AuditSyslogSink.Settings("127.0.0.1", port, tls, ca, serverName, "postern-test", 10, "gw-1.test", KEY, queue,
                mode);
    }

    private AuditEvent event() {
        int n = events.incrementAndGet();
        return AuditEvent.of("command", Instant.now()).put("tag", "a" + n).put("command", "FETCH")
                .put("mailbox", "Zoë ✓ \"quoted\" {5}").put("seqs", "1:" + n);
    }

    /** Each raw message checked against RFC 5424 and its record taken out; the records verified as a chain. */
    private List<String> records(RsyslogFixture rsyslog, int count) throws Exception {
        List<String> raw = rsyslog.awaitRaw(count);
        assertThat(raw).hasSize(count);
        List<String> parsed = rsyslog.awaitParsed(count);
        assertThat(parsed).hasSize(count);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < raw.size(); i++) {
            Matcher m = RFC5424.matcher(raw.get(i));
            assertThat(m.matches()).as("RFC 5424: %s", raw.get(i)).isTrue();
            int pri = Integer.parseInt(m.group(1));
            String record = m.group(7);
            boolean gap = record.contains("\"type\":\"gap\"");
            assertThat(pri).isEqualTo(10 * 8 + (gap ? 4 : 6)); // authpriv, info (warning for a gap)
            assertThat(m.group(3)).isEqualTo("gw-1.test");
            assertThat(m.group(4)).isEqualTo("postern-test");
            assertThat(m.group(5)).isEqualTo(Long.toString(ProcessHandle.current().pid()));
            // what rsyslog made of it: the same fields, so the framing and header were read as meant
            String[] f = parsed.get(i).split("\\|", 9);
            assertThat(f[0]).isEqualTo(m.group(1));
            assertThat(f[1]).isEqualTo("1");
            assertThat(Instant.parse(f[2])).isEqualTo(Instant.parse(m.group(2)));
            assertThat(f[3]).isEqualTo("gw-1.test");
            assertThat(f[4]).isEqualTo("postern-test");
            assertThat(f[6]).isEqualTo("audit");
            assertThat(f[7]).isEqualTo("-");
            assertThat(f[8]).isEqualTo(record);
            out.add(record);
        }
        Path copy = dir.resolve("received-" + System.nanoTime() + ".log");
        Files.write(copy, out, StandardCharsets.UTF_8);
        AuditVerifier.Result r = AuditVerifier.verify(KEY, List.of(copy));
        int firstGap = 0;
        while (firstGap < out.size() && !out.get(firstGap).contains("\"type\":\"gap\"")) {
            firstGap++;
        }
        if (firstGap == out.size()) {
            assertThat(r.ok()).as(r.describe()).isTrue();
            assertThat(r.records()).isEqualTo(count);
        } else { // the chain holds up to the gap record, which verify reports
            assertThat(r.records()).isEqualTo(firstGap);
            assertThat(r.finding()).contains("record seq " + (firstGap + 1) + " is a gap record");
        }
        return out;
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        await(condition, () -> what);
    }

    /** Waits up to 30 s; {@code what} is asked for at the end, so it can tell the state then. */
    private static void await(BooleanSupplier condition, java.util.function.Supplier<String> what)
            throws InterruptedException {
        for (int i = 0; i < 1500 && !condition.getAsBoolean(); i++) {
            Thread.sleep(20);
        }
        assertThat(condition.getAsBoolean()).as(what.get()).isTrue();
    }

    /** Stops the receiver and waits until the sink knows (the receiver closed the connection). */
    private static void down(RsyslogFixture rsyslog, AuditSink sink) throws Exception {
        rsyslog.stop();
        await(() -> sink.state() == AuditSink.State.FAILING && sink.writeFailures() > 0, "the sink noticed the receiver left");
    }

    @Test
    void overTcpEveryRecordArrivesAsRfc5424AndVerifiesAfterClose() throws Exception {
        try (RsyslogFixture rsyslog = RsyslogFixture.plain(dir.resolve("rsyslog"))) {
            AuditSyslogSink sink = new AuditSyslogSink(settings(rsyslog.port(), false, null, null, 1000, AuditSink.WhenFull.BLOCK));
            assertThat(sink.state()).isEqualTo(AuditSink.State.OK);
            for (int i = 0; i < 200; i++) {
                assertThat(sink.offer(event())).isTrue();
            }
            sink.close(); // what was accepted is sent before close returns
            assertThat(sink.written()).isEqualTo(200);
            List<String> records = records(rsyslog, 200);
            assertThat(records.get(0)).contains("\"seq\":1,").contains("\"mailbox\":\"Zoë ✓ \\\"quoted\\\" {5}\"");
            assertThat(sink.connects()).isEqualTo(1);
        }
    }

    @Test
    void overTlsTheReceiverIsVerifiedAndGetsTheSameMessages() throws Exception {
        TestCertificates ca = TestCertificates.newCa(Files.createDirectories(dir.resolve("ca")));
        TestCertificates.Issued cert = ca.server("syslog.test", "127.0.0.1").keyType(TestCertificates.KeyType.RSA).issue();
        try (RsyslogFixture rsyslog = RsyslogFixture.tls(dir.resolve("rsyslog"), cert.cert(), cert.key(), ca.caFile())) {
            AuditSyslogSink sink = new AuditSyslogSink(
                    settings(rsyslog.port(), true, ca.caFile(), "syslog.test", 100, AuditSink.WhenFull.BLOCK));
            assertThat(sink.state()).isEqualTo(AuditSink.State.OK);
            for (int i = 0; i < 20; i++) {
                sink.offer(event());
            }
            sink.close();
            records(rsyslog, 20);

            // a name the certificate does not carry: no connection, nothing sent
            AuditSyslogSink wrong = new AuditSyslogSink(
                    settings(rsyslog.port(), true, ca.caFile(), "other.test", 100, AuditSink.WhenFull.DROP));
            assertThat(wrong.state()).isEqualTo(AuditSink.State.FAILING);
            assertThat(wrong.connects()).isZero();
            // another CA: no connection either
            TestCertificates otherCa = TestCertificates.newCa(Files.createDirectories(dir.resolve("other-ca")));
            AuditSyslogSink untrusted = new AuditSyslogSink(
                    settings(rsyslog.port(), true, otherCa.caFile(), "syslog.test", 100, AuditSink.WhenFull.DROP));
            assertThat(untrusted.state()).isEqualTo(AuditSink.State.FAILING);
            assertThat(untrusted.connects()).isZero();
            wrong.offer(event());
            untrusted.offer(event());
            wrong.close();
            untrusted.close();
            assertThat(rsyslog.raw()).hasSize(20);
        }
    }

    @Test
    void blockModeHoldsTheProducerWhileTheReceiverIsDownAndLosesNothing() throws Exception {
        try (RsyslogFixture rsyslog = RsyslogFixture.plain(dir.resolve("rsyslog"))) {
            AuditSyslogSink sink = new AuditSyslogSink(settings(rsyslog.port(), false, null, null, 3, AuditSink.WhenFull.BLOCK));
            sink.offer(event());
            await(() -> sink.written() == 1, "the first record was sent");
            down(rsyslog, sink);
            assertThat(sink.available()).isFalse();
            CompletableFuture<Void> producer = CompletableFuture.runAsync(() -> {
                for (int i = 0; i < 6; i++) {
                    sink.offer(event());
                }
            });
            await(() -> sink.queued() == 3, "the queue filled");
            Thread.sleep(300);
            assertThat(producer).isNotDone(); // held: the queue of 3 is full and the receiver is away
            rsyslog.start();
            producer.get(60, TimeUnit.SECONDS);
            sink.close();
            assertThat(sink.dropped()).isZero();
            assertThat(sink.connects()).isEqualTo(2);
            List<String> records = records(rsyslog, 7);
            assertThat(records).noneMatch(r -> r.contains("\"type\":\"gap\""));
        }
    }

    @Test
    void aCloseWhileTheReceiverStaysAwayGivesUpAfterAFewAttemptsAndLetsBlockedProducersGo() throws Exception {
        try (RsyslogFixture rsyslog = RsyslogFixture.plain(dir.resolve("rsyslog"))) {
            AuditSyslogSink sink = new AuditSyslogSink(settings(rsyslog.port(), false, null, null, 2, AuditSink.WhenFull.BLOCK));
            down(rsyslog, sink);
            CompletableFuture<List<Boolean>> producer = CompletableFuture.supplyAsync(() -> {
                List<Boolean> taken = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    taken.add(sink.offer(event()));
                }
                return taken;
            });
            await(() -> sink.queued() == 2, "the queue filled");
            assertThat(producer).isNotDone();
            CompletableFuture<Void> closing = CompletableFuture.runAsync(sink::close);
            closing.get(60, TimeUnit.SECONDS); // a few attempts with backoff, then what is left is given up
            assertThat(producer.get(60, TimeUnit.SECONDS)).containsExactly(true, true, false, false);
            assertThat(sink.state()).isEqualTo(AuditSink.State.CLOSED);
            assertThat(sink.dropped()).isEqualTo(4); // two refused at close, two given up
            assertThat(sink.written()).isZero();
            assertThat(rsyslog.raw()).isEmpty();
        }
    }

    @Test
    void dropModeCountsWhatItDroppedAndAGapRecordFollowsWhenTheReceiverReturns() throws Exception {
        try (RsyslogFixture rsyslog = RsyslogFixture.plain(dir.resolve("rsyslog"))) {
            AuditSyslogSink sink = new AuditSyslogSink(settings(rsyslog.port(), false, null, null, 2, AuditSink.WhenFull.DROP));
            sink.offer(event());
            await(() -> sink.written() == 1, "the first record was sent");
            down(rsyslog, sink);
            List<Boolean> taken = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                taken.add(sink.offer(event()));
            }
            assertThat(taken).containsExactly(true, true, false, false, false);
            assertThat(sink.dropped()).isEqualTo(3);
            assertThat(sink.state()).isEqualTo(AuditSink.State.FAILING);
            rsyslog.start();
            await(() -> sink.written() == 3 && sink.state() == AuditSink.State.OK, "the sink came back");
            sink.offer(event());
            sink.close();
            List<String> records = records(rsyslog, 5);
            assertThat(records.get(3)).contains("\"seq\":4,").contains("\"type\":\"gap\",\"dropped\":3");
            Path copy = dir.resolve("dropped.log");
            Files.write(copy, records, StandardCharsets.UTF_8);
            assertThat(AuditVerifier.verify(KEY, List.of(copy)).finding()).contains("gap record: 3 event(s) were dropped");
        }
    }

    private static PrometheusText scrape(PosternHarness postern) throws Exception {
        java.net.http.HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(
                java.net.http.HttpRequest.newBuilder(java.net.URI.create(
                        "http://127.0.0.1:" + postern.server().adminAddress().getPort() + "/metrics")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        return new PrometheusText(r.body());
    }

    @Test
    void dropModeThroughPosternLetsCommandsThroughAndMetricsCountTheDrops() throws Exception {
        DovecotFixture.assumeAvailable();
        Path key = dir.resolve("audit.key");
        Files.write(key, KEY);
        try (DovecotFixture dovecot = DovecotFixture.builder().name("syslogdrop").user("fin", PASSWORD).start();
                RsyslogFixture rsyslog = RsyslogFixture.plain(dir.resolve("rsyslog"));
                PosternHarness postern = PosternHarness.inFrontOf(dovecot.host(), dovecot.port(), """
                        policies:
                          - name: audit-syslog
                            order: -100
                            audit:
                              key_file: "%s"
                              when_full: drop
                              queue: 3
                              syslog: { host: 127.0.0.1, port: %d, app_name: postern-test, facility: authpriv, hostname: gw-1.test }
                        admin: { bind: "127.0.0.1:0" }
                        """.formatted(key, rsyslog.port()));
                RawImapClient c = new RawImapClient(postern.address())) {
            AuditSyslogSink sink = (AuditSyslogSink) AuditSinks.all().stream()
                    .filter(s -> s instanceof AuditSyslogSink && s.target().endsWith(":" + rsyslog.port()))
                    .findFirst().orElseThrow();
            assertThat(c.line()).startsWith("* OK");
            c.send("l0 LOGIN fin " + PASSWORD + "\r\n");
            assertThat(c.tagged("l0")).startsWith("l0 OK");
            await(() -> sink.written() == 2, "connect and login were sent");
            down(rsyslog, sink);
            for (int i = 0; i < 6; i++) {
                assertThat(PolicyDovecotIT.exchange(c, "n" + i, "NOOP")).last().asString().startsWith("n" + i + " OK");
            }
            assertThat(sink.dropped()).isEqualTo(3); // three wait in the queue
            PrometheusText down = scrape(postern);
            assertThat(down.sum("postern_audit_dropped_events_total", "sink", "syslog")).isEqualTo(3);
            assertThat(down.sum("postern_audit_queue_events", "sink", "syslog")).isEqualTo(3);
            assertThat(down.sum("postern_audit_write_failures_total", "sink", "syslog")).isGreaterThanOrEqualTo(1);
            assertThat(down.sum("postern_audit_dropped_events_total", "sink", "file")).isZero();
            rsyslog.start();
            await(() -> sink.written() == 5 && sink.state() == AuditSink.State.OK, "the sink came back");
            assertThat(PolicyDovecotIT.exchange(c, "o1", "LOGOUT")).last().asString().startsWith("o1 OK");
            // LOGOUT's three records come at once, each sent or (drop mode) counted as dropped
            await(() -> sink.written() + sink.dropped() == 11 && sink.queued() == 0,
                    () -> "LOGOUT, logout and close were sent or dropped: written " + sink.written() + ", dropped "
                            + sink.dropped() + ", queued " + sink.queued() + ", state " + sink.state());
            long laterDrops = sink.dropped() - 3;
            List<String> records = records(rsyslog, (int) sink.written() + 1 + (laterDrops > 0 ? 1 : 0));
            assertThat(records.get(5)).contains("\"type\":\"gap\",\"dropped\":3");
            if (laterDrops > 0) {
                assertThat(records.get(records.size() - 1)).contains("\"type\":\"gap\",\"dropped\":" + laterDrops);
            }
            assertThat(scrape(postern).sum("postern_audit_queue_events", "sink", "syslog")).isZero();
        }
    }

    /** Sends {@code command}, returns the lines up to its tagged answer. */
    private static List<String> exchange(java.io.BufferedReader in, java.io.OutputStream out, String tag, String command)
            throws Exception {
        out.write((tag + " " + command + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        List<String> lines = new ArrayList<>();
        String line;
        do {
            line = in.readLine();
            assertThat(line).as("an answer to " + tag).isNotNull();
            lines.add(line);
        } while (!line.startsWith(tag + " "));
        return lines;
    }

    @Test
    void aSessionThatTurnedOnStartTlsHasItsProtocolAndCipherInTheConnectRecord() throws Exception {
        DovecotFixture.assumeAvailable();
        Path key = dir.resolve("audit.key");
        Files.write(key, KEY);
        Path file = dir.resolve("tls-audit.log");
        TestCertificates ca = TestCertificates.newCa(Files.createDirectories(dir.resolve("ca")));
        TestCertificates.Issued cert = ca.server("mail.test", "127.0.0.1").issue();
        try (DovecotFixture dovecot = DovecotFixture.builder().name("syslogtls").user("fin", PASSWORD).start();
                io.postern.proxy.server.PosternServer postern = io.postern.proxy.server.PosternServer.start(
                        io.postern.proxy.config.PosternConfig.parse("""
                                listeners:
                                  - {name: starttls, bind: "127.0.0.1:0", tls: starttls}
                                tls:
                                  certificates:
                                    - {cert: "%s", key: "%s"}
                                backends:
                                  - {name: dovecot, address: "%s:%d"}
                                routing: {strategy: static, default: dovecot}
                                policies:
                                  - name: audit
                                    audit: { file: "%s", key_file: "%s", events: [login] }
                                """.formatted(cert.cert(), cert.key(), dovecot.host(), dovecot.port(), file, key)));
                java.net.Socket plain = new java.net.Socket(postern.address("starttls").getAddress(),
                        postern.address("starttls").getPort())) {
            java.io.BufferedReader in = new java.io.BufferedReader(
                    new java.io.InputStreamReader(plain.getInputStream(), StandardCharsets.US_ASCII));
            assertThat(in.readLine()).startsWith("* OK");
            assertThat(exchange(in, plain.getOutputStream(), "t0", "STARTTLS")).last().asString().startsWith("t0 OK");
            javax.net.ssl.SSLSocket tls = (javax.net.ssl.SSLSocket) ca.jdkClientContext(null).getSocketFactory()
                    .createSocket(plain, "mail.test", plain.getPort(), true);
            tls.startHandshake();
            in = new java.io.BufferedReader(new java.io.InputStreamReader(tls.getInputStream(), StandardCharsets.US_ASCII));
            assertThat(exchange(in, tls.getOutputStream(), "l0", "LOGIN fin " + PASSWORD)).last().asString().startsWith("l0 OK");
            assertThat(exchange(in, tls.getOutputStream(), "o1", "LOGOUT")).last().asString().startsWith("o1 OK");
            List<String> lines = List.of();
            for (int i = 0; i < 500 && lines.size() < 4; i++) {
                Thread.sleep(20);
                lines = Files.exists(file) ? Files.readAllLines(file, StandardCharsets.UTF_8) : List.of();
            }
            assertThat(lines).hasSize(4);
            assertThat(lines.get(0)).contains("\"type\":\"connect\"").contains("\"tls\":true")
                    .contains("\"tls_protocol\":\"" + tls.getSession().getProtocol() + "\"")
                    .contains("\"tls_cipher\":\"" + tls.getSession().getCipherSuite() + "\"");
            assertThat(lines.get(1)).contains("\"type\":\"login\"").contains("\"tls\":true");
            assertThat(lines.get(2)).contains("\"type\":\"logout\"").contains("\"status\":\"OK\"");
            assertThat(lines.get(3)).contains("\"type\":\"close\"").contains("\"reason\":\"logout\"");
            tls.close();
        }
    }

    @Test
    void failClosedRefusesAuditedCommandsThroughPosternUntilTheReceiverReturns() throws Exception {
        DovecotFixture.assumeAvailable();
        Path key = dir.resolve("audit.key");
        Files.write(key, KEY);
        try (DovecotFixture dovecot = DovecotFixture.builder().name("syslog").user("fin", PASSWORD).start();
                RsyslogFixture rsyslog = RsyslogFixture.plain(dir.resolve("rsyslog"));
                PosternHarness postern = PosternHarness.inFrontOf(dovecot.host(), dovecot.port(), """
                        policies:
                          - name: audit-syslog
                            order: -100
                            audit:
                              key_file: "%s"
                              when_full: fail-closed
                              syslog: { host: 127.0.0.1, port: %d, app_name: postern-test, facility: authpriv, hostname: gw-1.test }
                        admin: { bind: "127.0.0.1:0" }
                        """.formatted(key, rsyslog.port()));
                RawImapClient c = new RawImapClient(postern.address())) {
            AuditSyslogSink sink = (AuditSyslogSink) AuditSinks.all().stream()
                    .filter(s -> s instanceof AuditSyslogSink && s.target().endsWith(":" + rsyslog.port()))
                    .findFirst().orElseThrow();
            assertThat(c.line()).startsWith("* OK");
            c.send("l0 LOGIN fin " + PASSWORD + "\r\n");
            assertThat(c.tagged("l0")).startsWith("l0 OK");
            assertThat(PolicyDovecotIT.exchange(c, "s1", "SELECT INBOX")).last().asString().startsWith("s1 OK");
            await(() -> sink.written() == 3, "connect, login and SELECT were sent");
            down(rsyslog, sink);
            assertThat(PolicyDovecotIT.exchange(c, "n1", "NOOP")).last().asString()
                    .isEqualTo("n1 NO [UNAVAILABLE] The audit log is unavailable; try again later.");
            assertThat(sink.refusedCommands()).isEqualTo(1);
            PrometheusText down = scrape(postern);
            assertThat(down.sum("postern_audit_write_failures_total", "sink", "syslog")).isGreaterThanOrEqualTo(1);
            assertThat(down.sum("postern_audit_queue_events", "sink", "syslog")).isEqualTo(1); // n1's record waits
            assertThat(down.sum("postern_policy_verdicts_total", "policy", "audit-syslog", "stage", "command", "verdict", "reject"))
                    .isEqualTo(1);
            rsyslog.start();
            await(sink::available, "the sink came back");
            assertThat(PolicyDovecotIT.exchange(c, "n2", "NOOP")).last().asString().startsWith("n2 OK");
            assertThat(PolicyDovecotIT.exchange(c, "o1", "LOGOUT")).last().asString().startsWith("o1 OK");
            await(() -> sink.written() == 8, "every record was sent");
            List<String> records = records(rsyslog, 8);
            List<String> kinds = records.stream().map(r -> r.replaceAll(".*\"type\":\"([a-z_]+)\".*", "$1")
                    + (r.contains("\"command\":") ? ":" + r.replaceAll(".*\"command\":\"([A-Z ]+)\".*", "$1") : "")).toList();
            assertThat(kinds).containsExactly("connect", "login", "command:SELECT", "command:NOOP", "command:NOOP",
                    "command:LOGOUT", "logout", "close");
            assertThat(records.get(3)).contains("\"tag\":\"n1\"").contains("\"status\":\"NO\"").contains("\"code\":\"UNAVAILABLE\"")
                    .contains("\"by_postern\":true");
            assertThat(String.join("\n", records)).doesNotContain(PASSWORD);
        }
    }
}
