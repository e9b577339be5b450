package io.postern.proxy.hostile;

import static io.postern.proxy.hostile.HostileSocket.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.postern.proxy.admin.AdminServer;
import io.postern.proxy.server.PosternServer;
import io.postern.proxy.testing.DovecotFixture;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Hostile clients against the surfaces that came after the first hostile suite, with the same
 * watch ({@link AttackWatch}: exact answers, bounded memory, a concurrent session's NOOPs):
 * COMPRESS=DEFLATE on the client leg (streams that are not deflate, cut short, or inflate a
 * thousandfold), the policy gate's gathering of mailbox-name literals under an acl policy with
 * mailbox rules, and the admin HTTP listener (oversized requests, slowloris, tokens, idle
 * connections by the thousand). Against a real Dovecot, through a recording relay that shows
 * what reached it; the figures go to {@code target/hostile-report.md}.
 */
class HostileSurfacesIT {

    private static final String TOKEN = "hostile-admin-t0ken";
    /** Long enough for Dovecot to take a 48 MiB APPEND on a busy machine: Postern reads nothing meanwhile. */
    private static final Duration IDLE = Duration.ofSeconds(5);
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(1);
    private static final String IDLE_BYE = "* BYE Autologout; idle for too long.";

    private static DovecotFixture dovecot;
    private static WireTap tap;
    private static PosternServer postern;
    private static Path tokenFile;

    @BeforeAll
    static void start() throws Exception {
        DovecotFixture.assumeAvailable();
        dovecot = DovecotFixture.builder().name("surfaces").user("alice", "secret").user("watcher", "pw").start();
        byte[] note = "Subject: note\r\n\r\nhello\r\n".getBytes(StandardCharsets.US_ASCII);
        dovecot.seedMessage("alice", "INBOX", note);
        dovecot.seedMessage("alice", "Secret", note);
        dovecot.seedMessage("alice", "Hidden", note);
        tokenFile = Files.createTempFile("postern-admin", ".token");
        Files.writeString(tokenFile, TOKEN + "\n");
        tap = new WireTap(dovecot.host(), dovecot.port());
        postern = HostileSetup.postern("127.0.0.1", tap.port(), """
                timeouts:
                  pre_auth: 5s
                  idle: 5s
                limits:
                  max_line_length: 4096
                policies:
                  - name: rules
                    acl:
                      mailboxes:
                        - { pattern: "Secret", action: deny }
                        - { pattern: "Hidden", action: hide }
                admin:
                  bind: 127.0.0.1:0
                  token_file: %s
                  request_timeout: 1s
                """.formatted(tokenFile));
        HostileSetup.warmUp(postern, "watcher", "pw");
    }

    @AfterAll
    static void stop() throws IOException {
        AttackWatch.writeReport("HostileSurfacesIT (Dovecot): COMPRESS, gathered literals, admin listener");
        if (postern != null) {
            postern.close();
        }
        if (tap != null) {
            tap.close();
        }
        if (dovecot != null) {
            dovecot.close();
        }
        if (tokenFile != null) {
            Files.deleteIfExists(tokenFile);
        }
    }

    private static AttackWatch.Figures during(String name, AttackWatch.Attack attack) throws Exception {
        return AttackWatch.during(name, postern, "watcher", "pw", attack);
    }

    private static HostileSocket loggedIn() throws IOException {
        HostileSocket s = HostileSocket.greeted(postern.address("imap"));
        s.send("a0 LOGIN alice secret\r\n");
        assertThat(s.tagged("a0")).startsWith("a0 OK [CAPABILITY ").contains(" COMPRESS=DEFLATE");
        return s;
    }

    /** Logged in, COMPRESS DEFLATE answered, both directions compressed from here on. */
    private static HostileSocket compressed() throws IOException {
        HostileSocket s = loggedIn();
        s.send("c0 COMPRESS DEFLATE\r\n");
        assertThat(s.line()).isEqualTo("c0 OK DEFLATE active.");
        s.compress();
        return s;
    }

    private static String closedAfter(List<String> lines) {
        return String.join(" / ", lines) + " / closed";
    }

    // ---------------------------------------------------------------- COMPRESS=DEFLATE

    @Test
    void compressThenBytesThatAreNotDeflate() throws Exception {
        during("COMPRESS, then bytes that are not deflate", () -> {
            try (HostileSocket s = compressed()) {
                // 0xFF: a final block of type 3, which deflate does not have
                s.sendRaw(bytes("\u00ff".repeat(64)));
                List<String> lines = s.linesUntilClosed(Duration.ofSeconds(5));
                assertThat(lines).containsExactly("* BYE Malformed compressed data.");
                return "64 bytes 0xFF after c0 OK DEFLATE active.: " + closedAfter(lines) + " (deflated)";
            }
        }).assertOthersUnharmed();
    }

    @Test
    void compressedStreamsCutShort() throws Exception {
        during("COMPRESS, then a deflate stream cut short", () -> {
            byte[] whole = HostileSocket.deflated(bytes("t1 NOOP\r\n"));
            List<String> lines;
            try (HostileSocket s = compressed()) {
                s.sendRaw(Arrays.copyOf(whole, whole.length / 2));
                lines = s.linesUntilClosed(IDLE.plusSeconds(3));
                assertThat(lines).containsExactly(IDLE_BYE);
            }
            try (HostileSocket s = compressed()) {
                // a stored block that announces 65535 bytes and brings 10
                byte[] stored = {0, (byte) 0xFF, (byte) 0xFF, 0, 0, 't', '2', ' ', 'N', 'O', 'O', 'P', '\r', '\n', 'x'};
                s.sendRaw(stored);
                List<String> storedLines = s.linesUntilClosed(IDLE.plusSeconds(3));
                assertThat(storedLines).hasSize(2).last().isEqualTo(IDLE_BYE);
                assertThat(storedLines.get(0)).as("what the stored block held is a command").startsWith("t2 OK NOOP");
            }
            int open;
            try (HostileSocket s = compressed()) {
                // counted with this session in it (and the watcher's): the ones before may still be ending
                open = postern.openClientConnections();
                s.sendRaw(Arrays.copyOf(whole, whole.length - 1)); // and hangs up
            }
            awaitClientConnections(open - 1);
            return "half a deflated NOOP, then silence: " + closedAfter(lines) + " (deflated) after the idle timeout; "
                    + "a stored block of 65535 announced and 10 sent: its NOOP answered, then the same; cut short and "
                    + "closed: nothing, session ended";
        }).assertOthersUnharmed();
    }

    /**
     * Deflate streams that inflate a thousandfold: one line of 64 MiB (64 KiB deflated); an
     * APPEND of 48 MiB (some 48 KiB deflated) that goes to Dovecot as fast as Dovecot takes it;
     * and 1 MiB of lines Postern answers itself, whose answers the client does not read. Postern
     * inflates at most 64 KiB a read, so its memory stays bounded in all three. The bombs are
     * made before login (that takes longer than the idle timeout on a busy machine) and
     * deflated as they are sent, by the client's own deflater: a stream of their own, inserted in
     * the connection's, would make the client's later back-references point into them.
     */
    @Test
    void deflateBombs() throws Exception {
        byte[] lineBomb = new byte[64 << 20];
        Arrays.fill(lineBomb, (byte) 'x');
        System.arraycopy(bytes("b1 NOOP "), 0, lineBomb, 0, 8);
        assertThat(HostileSocket.deflated(lineBomb).length).as("the 64 MiB line, deflated").isLessThan(128 * 1024);
        int size = 48 << 20;
        byte[] head = bytes("b2 APPEND Bombed {" + size + "+}\r\nSubject: bomb\r\n\r\n");
        byte[] appendBomb = new byte[head.length + size - 17 + 2];
        Arrays.fill(appendBomb, (byte) 'A');
        System.arraycopy(head, 0, appendBomb, 0, head.length);
        appendBomb[appendBomb.length - 2] = '\r';
        appendBomb[appendBomb.length - 1] = '\n';
        byte[] refusedBomb = bytes("!\r\n".repeat(349_525));
        // volume: at the test JVM's paranoid leak level each of these would take minutes
        try (AutoCloseable leakLevel = AttackWatch.simpleLeakDetection()) {
            during("deflate bomb: one line of 64 MiB", () -> {
                try (HostileSocket s = compressed()) {
                    CompletableFuture<Long> sent = CompletableFuture.supplyAsync(() -> s.sendUntilRefused(lineBomb, 1));
                    List<String> lines = s.linesUntilClosed(Duration.ofSeconds(10));
                    assertThat(lines).containsExactly(
                            "b1 BAD [TOOBIG] Line too long (at most 4096 bytes).", "* BYE Too much input.");
                    sent.get(10, TimeUnit.SECONDS);
                    return closedAfter(lines) + " (deflated)";
                }
            }).assertOthersUnharmed();
            during("deflate bomb: APPEND of 48 MiB", () -> {
                try (HostileSocket s = compressed()) {
                    s.send("b1 CREATE Bombed\r\n");
                    assertThat(s.tagged("b1")).startsWith("b1 OK");
                    s.send(appendBomb);
                    s.timeout(Duration.ofSeconds(60));
                    String append = s.tagged("b2");
                    assertThat(append).startsWith("b2 OK [APPENDUID ");
                    s.send("b3 STATUS Bombed (MESSAGES SIZE)\r\n");
                    assertThat(s.until("b3").get(0)).isEqualTo("* STATUS Bombed (MESSAGES 1 SIZE " + size + ")");
                    return append.replaceAll("APPENDUID [0-9 ]+", "APPENDUID ...").replaceAll(" \\(.*secs\\)", "")
                            + " (Dovecot's); Dovecot holds all 50,331,648 bytes";
                }
            }).assertOthersUnharmed();
            during("deflate bomb: 349,525 lines Postern refuses, answers unread", () -> {
                try (HostileSocket s = compressed()) {
                    s.send(refusedBomb);
                    Thread.sleep(3000); // the answers pile up unread
                    for (int i = 0; i < 3; i++) {
                        assertThat(s.line()).isEqualTo("* BAD Missing or invalid tag.");
                    }
                    return "* BAD Missing or invalid tag. for each (deflated)";
                }
            }).assertOthersUnharmed();
        }
    }

    @Test
    void compressTwice() throws Exception {
        during("COMPRESS twice", () -> {
            try (HostileSocket s = compressed()) {
                s.send("c1 COMPRESS DEFLATE\r\n");
                assertThat(s.line()).isEqualTo("c1 NO [COMPRESSIONACTIVE] DEFLATE is already active.");
                s.send("c2 NOOP\r\n");
                assertThat(s.tagged("c2")).startsWith("c2 OK");
                return "c1 NO [COMPRESSIONACTIVE] DEFLATE is already active. (deflated); session goes on";
            }
        }).assertOthersUnharmed();
    }

    @Test
    void commandsPipelinedAroundCompress() throws Exception {
        during("commands pipelined behind and before COMPRESS", () -> {
            try (HostileSocket s = loggedIn()) {
                // deflated commands in the same write as COMPRESS: Postern inflates them
                byte[] behind = HostileSocket.deflated(bytes("c1 NOOP\r\nc2 EXAMINE INBOX\r\n"));
                byte[] write = new byte[21 + behind.length];
                System.arraycopy(bytes("c0 COMPRESS DEFLATE\r\n"), 0, write, 0, 21);
                System.arraycopy(behind, 0, write, 21, behind.length);
                s.sendRaw(write);
                assertThat(s.line()).isEqualTo("c0 OK DEFLATE active.");
                s.compress();
                assertThat(s.tagged("c1")).startsWith("c1 OK");
                assertThat(s.tagged("c2")).startsWith("c2 OK [READ-ONLY]");
            }
            List<String> plainBehind;
            try (HostileSocket s = loggedIn()) {
                // a client that goes on in plain text after COMPRESS: not deflate
                s.send("c0 COMPRESS DEFLATE\r\nc1 NOOP\r\n");
                assertThat(s.line()).isEqualTo("c0 OK DEFLATE active.");
                s.compress();
                plainBehind = s.linesUntilClosed(Duration.ofSeconds(5));
                assertThat(plainBehind).containsExactly("* BYE Malformed compressed data.");
            }
            try (HostileSocket s = loggedIn()) {
                // COMPRESS behind a command still running: refused, and the session stays uncompressed
                s.send("c1 NOOP\r\nc2 COMPRESS DEFLATE\r\nc3 NOOP\r\n");
                List<String> lines = s.until("c3");
                assertThat(lines).contains("c2 NO Commands are in progress; send COMPRESS when they have completed.");
                assertThat(lines.stream().filter(l -> l.startsWith("c1 OK") || l.startsWith("c3 OK"))).hasSize(2);
            }
            return "deflated commands in the same write as COMPRESS: answered (deflated); plain text after it: "
                    + closedAfter(plainBehind) + "; behind a running command: c2 NO Commands are in progress; send "
                    + "COMPRESS when they have completed., session goes on uncompressed";
        }).assertOthersUnharmed();
    }

    // ---------------------------------------------------------------- literals the policy gate gathers

    /**
     * Thousands of mailbox patterns as literals in one LIST: Postern gathers 8 KiB of them for the
     * policies (saying {@code +} to the synchronizing ones), sends on what it gathered, and the
     * literal count limit ends the command.
     */
    @Test
    void thousandsOfLiteralMailboxNamesInOneCommand() throws Exception {
        during("5000 literal mailbox names in one LIST, with and without waiting for +", () -> {
            StringBuilder flood = new StringBuilder("p1 LIST \"\" (");
            for (int i = 0; i < 5000; i++) {
                flood.append("{5+}\r\nbox").append(String.format("%02d", i % 100)).append(' ');
            }
            List<String> nonSynchronizing;
            try (HostileSocket s = loggedIn()) {
                s.send(flood + ")\r\n");
                nonSynchronizing = s.linesUntilClosed(Duration.ofSeconds(5));
                assertThat(nonSynchronizing).containsExactly(
                        "p1 BAD [LIMIT] Too many literals in one command.", "* BYE Too much input.");
            }
            int pluses = 0;
            List<String> end;
            try (HostileSocket s = loggedIn()) {
                s.send("p2 LIST \"\" ({5}\r\n");
                for (int i = 0; ; i++) {
                    String l = s.line();
                    if (!l.startsWith("+")) {
                        end = new ArrayList<>(List.of(l));
                        end.addAll(s.linesUntilClosed(Duration.ofSeconds(5)));
                        break;
                    }
                    pluses++;
                    s.send("box" + String.format("%02d", i % 100) + " {5}\r\n");
                }
                assertThat(end).containsExactly(
                        "p2 BAD [LIMIT] Too many literals in one command.", "* BYE Too much input.");
            }
            assertThat(pluses).as("continuations, Postern's then Dovecot's").isEqualTo(1000);
            List<String> streams = tap.commandStreamsWith("p2 LIST");
            assertThat(streams).hasSize(1);
            assertThat(streams.get(0).substring(streams.get(0).indexOf("p2 LIST")))
                    .as("what Postern gathered and sent on in one piece").startsWith("p2 LIST \"\" ({5+}\r\nbox00 {5+}\r\n");
            return "{5+} x 5000: " + closedAfter(nonSynchronizing) + "; {5} waiting for each +: 1000 +, then "
                    + closedAfter(end);
        }).assertOthersUnharmed();
    }

    @Test
    void neverFinishedGatheredLiteral() throws Exception {
        during("never-finished mailbox literal gathered by Postern", () -> {
            long t0 = System.nanoTime();
            try (HostileSocket s = loggedIn()) {
                s.send("p3 SELECT {10}\r\n");
                assertThat(s.line()).isEqualTo("+ Ready for literal data"); // Postern's, not Dovecot's
                s.send("Secr");
                List<String> lines = s.linesUntilClosed(IDLE.plusSeconds(3));
                assertThat(lines).containsExactly(IDLE_BYE);
                assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(IDLE);
                assertThat(tap.commandStreamsWith("p3 SELECT")).as("streams to Dovecot with it").isEmpty();
                return "+ Ready for literal data (Postern's); after 4 of 10 bytes and silence: " + closedAfter(lines)
                        + "; nothing of it reached Dovecot";
            }
        }).assertOthersUnharmed();
    }

    @Test
    void oversizedGatheredLiterals() throws Exception {
        during("mailbox literals over what Postern gathers (8 KiB)", () -> {
            String cannot = " NO [CANNOT] Arguments too long to check.";
            try (HostileSocket s = loggedIn()) {
                s.send("p4 SELECT {9000}\r\n");
                assertThat(s.line()).isEqualTo("p4" + cannot);
                s.send("p5 SELECT {9000+}\r\n" + "S".repeat(9000) + "\r\n");
                assertThat(s.line()).isEqualTo("p5" + cannot);
                // two literals that fit alone and not together
                s.send("p6 RENAME {5000+}\r\n" + "x".repeat(5000) + " {5000+}\r\n" + "y".repeat(5000) + "\r\n");
                assertThat(s.line()).isEqualTo("p6" + cannot);
                s.send("p7 NOOP\r\n");
                assertThat(s.tagged("p7")).startsWith("p7 OK");
            }
            for (String tag : List.of("p4 ", "p5 ", "p6 ")) {
                assertThat(tap.commandStreamsWith(tag)).as("streams to Dovecot with %s", tag).isEmpty();
            }
            return "{9000}, {9000+} and two {5000+}: tag" + cannot + ", session goes on; nothing reached Dovecot";
        }).assertOthersUnharmed();
    }

    // ---------------------------------------------------------------- the admin listener

    private static InetSocketAddress admin() {
        return postern.adminAddress();
    }

    /** Sends {@code request} to the admin listener and returns every line of the answer up to the close. */
    private static List<String> http(String request) throws IOException {
        try (HostileSocket s = HostileSocket.connect(admin())) {
            s.send(request);
            return s.linesUntilClosed(REQUEST_TIMEOUT.plusSeconds(4));
        }
    }

    @Test
    void oversizedAdminRequests() throws Exception {
        during("admin: oversized request line, headers, body", () -> {
            List<String> line = http("GET /" + "a".repeat(10_000) + " HTTP/1.1\r\nHost: x\r\n\r\n");
            assertThat(line.get(0)).isEqualTo("HTTP/1.1 400 Bad Request");
            assertThat(line).last().isEqualTo("bad request");
            List<String> headers = http("GET /healthz HTTP/1.1\r\n" + ("X-Pad: " + "p".repeat(100) + "\r\n").repeat(200) + "\r\n");
            assertThat(headers.get(0)).isEqualTo("HTTP/1.1 400 Bad Request");
            assertThat(headers).last().isEqualTo("bad request");
            String body;
            try (HostileSocket s = HostileSocket.connect(admin())) {
                s.send("POST /reload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN
                        + "\r\nContent-Length: 10737418240\r\n\r\n");
                byte[] chunk = new byte[64 * 1024];
                CompletableFuture<Long> sent = CompletableFuture.supplyAsync(() -> s.sendUntilRefused(chunk, 16 * 1024));
                long t0 = System.nanoTime();
                List<String> lines = s.linesUntilClosed(REQUEST_TIMEOUT.plusSeconds(4));
                long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                assertThat(lines.get(0)).isEqualTo("HTTP/1.1 413 Request Entity Too Large");
                long taken = sent.get(30, TimeUnit.SECONDS);
                assertThat(taken).as("bytes of the 10 GB body sent before the close").isLessThan(1L << 30);
                body = lines.get(0) + " at once, the rest of the body read and dropped until the request deadline: "
                        + "closed after " + took + " ms (" + (taken >> 20) + " MiB sent)";
            }
            return "10 kB request line: 400 bad request; 20 kB of headers: 400 bad request; 10 GB body: " + body;
        }).assertOthersUnharmed();
    }

    /** The request deadline: a byte every 200 ms does not keep an admin connection open. */
    @Test
    void slowlorisOnTheAdminPort() throws Exception {
        during("admin: slowloris", () -> {
            long t0 = System.nanoTime();
            try (HostileSocket s = HostileSocket.connect(admin())) {
                Thread trickle = s.trickle(bytes("GET /sessions HTTP/1.1\r\nAuthorization: Bearer " + TOKEN + "\r\nX-Slow: "
                        + "s".repeat(1000)), 200);
                List<String> lines = s.linesUntilClosed(REQUEST_TIMEOUT.plusSeconds(4));
                long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                trickle.interrupt();
                assertThat(lines.get(0)).isEqualTo("HTTP/1.1 408 Request Timeout");
                assertThat(lines).last().isEqualTo("request not received in time");
                assertThat(took).isGreaterThanOrEqualTo(REQUEST_TIMEOUT.toMillis());
                return lines.get(0) + " / request not received in time / closed after " + took + " ms";
            }
        }).assertOthersUnharmed();
    }

    @Test
    void missingOrWrongAdminToken() throws Exception {
        Logger handlerLog = (Logger) LoggerFactory.getLogger("io.postern.proxy.admin");
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        logged.start();
        handlerLog.addAppender(logged);
        try {
            during("admin: missing and wrong tokens", () -> {
                String wrong = TOKEN.substring(0, TOKEN.length() - 1) + "X";
                List<List<String>> answers = new ArrayList<>();
                for (String request : List.of(
                        "GET /sessions HTTP/1.1\r\n\r\n",
                        "GET /sessions HTTP/1.1\r\nAuthorization: Bearer " + wrong + "\r\n\r\n",
                        "GET /sessions HTTP/1.1\r\nAuthorization: Basic " + TOKEN + "\r\n\r\n",
                        "GET /sessions HTTP/1.1\r\nAuthorization: Bearer " + TOKEN + "x\r\n\r\n",
                        "POST /reload HTTP/1.1\r\nAuthorization: Bearer " + wrong + "\r\nContent-Length: 0\r\n\r\n",
                        "GET /no-such-endpoint HTTP/1.1\r\n\r\n",
                        "GET /metrics HTTP/1.1\r\nAuthorization: bearer\r\n\r\n")) {
                    answers.add(http(request));
                }
                for (List<String> a : answers) {
                    assertThat(a.get(0)).isEqualTo("HTTP/1.1 401 Unauthorized");
                    assertThat(a).contains("www-authenticate: Bearer realm=\"postern\"")
                            .last().isEqualTo("a bearer token is required (Authorization: Bearer TOKEN)");
                    assertThat(String.join("\n", a)).doesNotContain(TOKEN.substring(0, 8), "sessions", "reload",
                            "no-such", "alice", "watcher");
                }
                assertThat(answers).as("one answer whatever was wrong").allMatch(a -> a.equals(answers.get(0)));
                assertThat(http("GET /healthz HTTP/1.1\r\n\r\n").get(0)).isEqualTo("HTTP/1.1 200 OK");
                assertThat(http("GET /sessions HTTP/1.1\r\nAuthorization: Bearer " + TOKEN + "\r\n\r\n").get(0))
                        .isEqualTo("HTTP/1.1 200 OK");
                return "HTTP/1.1 401 Unauthorized, www-authenticate: Bearer realm=\"postern\", body \"a bearer token is "
                        + "required (Authorization: Bearer TOKEN)\": the same for no token, a wrong one, a prefix, Basic, "
                        + "and an unknown path; nothing of the token in the log";
            }).assertOthersUnharmed();
        } finally {
            handlerLog.detachAppender(logged);
        }
        assertThat(logged.list).isNotEmpty().noneMatch(e -> e.getFormattedMessage().contains(TOKEN.substring(0, 8)));
    }

    /**
     * 2000 admin connections that send nothing: at most {@link AdminServer#MAX_CONNECTIONS} are
     * held, until the request deadline; the others get 503 at once. A real request gets through
     * once they are gone.
     */
    @Test
    void thousandsOfIdleAdminConnections() throws Exception {
        List<HostileSocket> sockets = new ArrayList<>();
        try {
            during("admin: 2000 idle connections", () -> {
                AtomicInteger peak = new AtomicInteger();
                Thread sampler = new Thread(() -> {
                    while (!Thread.currentThread().isInterrupted()) {
                        peak.accumulateAndGet(postern.admin().openConnections(), Math::max);
                        Thread.onSpinWait();
                    }
                }, "admin-connections-sampler");
                sampler.setDaemon(true);
                sampler.start();
                long t0 = System.nanoTime();
                for (int i = 0; i < 2000; i++) {
                    sockets.add(HostileSocket.connect(admin()));
                }
                long opened = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                int refused = 0;
                int timedOut = 0;
                for (HostileSocket s : sockets) {
                    List<String> lines = s.linesUntilClosed(REQUEST_TIMEOUT.plusSeconds(5));
                    if (lines.get(0).equals("HTTP/1.1 503 Service Unavailable")) {
                        assertThat(lines).last().isEqualTo("too many admin connections");
                        refused++;
                    } else {
                        assertThat(lines.get(0)).isEqualTo("HTTP/1.1 408 Request Timeout");
                        timedOut++;
                    }
                }
                long closed = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                sampler.interrupt();
                sampler.join(5000);
                assertThat(peak.get()).as("admin connections held at once, at most")
                        .isLessThanOrEqualTo(AdminServer.MAX_CONNECTIONS);
                assertThat(refused).as("connections over the limit, refused").isPositive();
                assertThat(refused + timedOut).isEqualTo(2000);
                assertThat(postern.admin().openConnections()).isZero();
                assertThat(http("GET /backends HTTP/1.1\r\nAuthorization: Bearer " + TOKEN + "\r\n\r\n").get(0))
                        .isEqualTo("HTTP/1.1 200 OK");
                return refused + " x 503 too many admin connections at once, " + timedOut + " x 408 after 1 s, at "
                        + "most " + peak.get() + " held at once; all closed " + closed + " ms after the first connect "
                        + "(opened in " + opened + " ms); then a request with the token: 200";
            }).assertOthersUnharmed();
        } finally {
            for (HostileSocket s : sockets) {
                s.close();
            }
        }
    }

    private static void awaitClientConnections(int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (postern.openClientConnections() > n && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(postern.openClientConnections()).as("client connections open").isLessThanOrEqualTo(n);
    }
}
