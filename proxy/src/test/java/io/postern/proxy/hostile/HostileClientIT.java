package io.postern.proxy.hostile;

import static io.postern.proxy.hostile.HostileSocket.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;
import io.postern.proxy.server.PosternServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A hostile client against Postern in front of GreenMail: every attack gets an exact answer,
 * Postern's memory stays bounded while it runs, and a well-behaved session on another thread
 * keeps getting its NOOPs answered (see {@link AttackWatch}). A recording relay between Postern
 * and GreenMail shows what reached the backend. Limits and timeouts are small so that the suite
 * stays fast; the figures go to {@code target/hostile-report.md}.
 */
class HostileClientIT {

    private static final Duration PRE_AUTH = Duration.ofSeconds(1);
    private static final Duration IDLE = Duration.ofMillis(1500);
    private static final String PRE_AUTH_BYE = "* BYE Autologout; no login within 1 s.";
    private static final String IDLE_BYE = "* BYE Autologout; idle for too long.";
    private static final String LIMITS = """
            limits:
              max_line_length: 4096
              max_literal_size_before_auth: 256
              max_literal_size_after_auth: 65536
              max_literals_per_command: 50
              login_failure_delay: 100ms
              login_failure_delay_max: 800ms
            """;

    /** 64 KiB chunks: the floods below send 64 MiB, four times {@link AttackWatch#MEMORY_BOUND}. */
    private static final int FLOOD_CHUNKS = 1024;
    private static final long FLOOD_BYTES = FLOOD_CHUNKS * 64L * 1024;

    /**
     * Bytes queued toward a client that sends commands Postern answers itself and reads nothing:
     * a write-buffer high-water mark plus the answers to one 64 KiB read. That read can hold
     * 21,845 three-byte commands; Netty counts each answer with 96 bytes of overhead: 2.7 MiB.
     */
    private static final long PENDING_BOUND_ONE_READ = 4L << 20;

    private static GreenMail greenMail;
    private static WireTap tap;
    private static PosternServer postern;

    @BeforeAll
    static void start() throws Exception {
        greenMail = new GreenMail(new ServerSetup(0, "127.0.0.1", ServerSetup.PROTOCOL_IMAP));
        greenMail.start();
        greenMail.setUser("watcher@postern.test", "watcher", "pw");
        greenMail.getManagers().getImapHostManager()
                .createMailbox(greenMail.setUser("carol@postern.test", "carol", "pw"), "Keep");
        appendBigMessage();
        tap = new WireTap("127.0.0.1", greenMail.getImap().getPort());
        postern = HostileSetup.postern("127.0.0.1", tap.port(), "timeouts:\n  pre_auth: 1s\n  idle: 1500ms\n" + LIMITS);
        // a first login loads what every later one needs: in a cold JVM on a busy machine it can
        // take longer than the 1 s pre-login timeout
        HostileSetup.warmUp(postern, "watcher", "pw");
    }

    /** 8.5 MiB in carol's folder Big: more than the socket buffers of a client that stops reading hold. */
    private static void appendBigMessage() throws IOException {
        try (HostileSocket direct = HostileSocket.connect(new InetSocketAddress("127.0.0.1", greenMail.getImap().getPort()))) {
            direct.line();
            direct.send("b1 LOGIN carol pw\r\nb2 CREATE Big\r\n");
            direct.tagged("b2");
            byte[] message = bytes("Subject: big\r\n\r\n" + "0123456789abcde\r\n".repeat(512 * 1024));
            direct.send("b3 APPEND Big {" + message.length + "+}\r\n");
            direct.send(message);
            direct.send("\r\n");
            assertThat(direct.tagged("b3")).startsWith("b3 OK");
        }
    }

    @AfterAll
    static void stop() throws IOException {
        AttackWatch.writeReport("HostileClientIT (GreenMail)");
        if (postern != null) {
            postern.close();
        }
        if (tap != null) {
            tap.close();
        }
        if (greenMail != null) {
            greenMail.stop();
        }
    }

    private static InetSocketAddress address() {
        return postern.address("imap");
    }

    private static AttackWatch.Figures during(String name, AttackWatch.Attack attack) throws Exception {
        return AttackWatch.during(name, postern, "watcher", "pw", attack);
    }

    private static HostileSocket loggedIn() throws IOException {
        HostileSocket s = HostileSocket.greeted(address());
        s.send("a0 LOGIN carol pw\r\n");
        assertThat(s.tagged("a0")).startsWith("a0 OK [CAPABILITY ");
        return s;
    }

    /**
     * Sends {@code head}, then up to 64 MiB of {@code filler} on another thread; Postern must
     * answer exactly {@code answer} and hang up.
     */
    private static String cutOff(HostileSocket s, String head, char filler, String... answer) throws Exception {
        s.send(head);
        byte[] chunk = new byte[64 * 1024];
        Arrays.fill(chunk, (byte) filler);
        CompletableFuture<Long> sent = CompletableFuture.supplyAsync(() -> s.sendUntilRefused(chunk, FLOOD_CHUNKS));
        List<String> lines = s.linesUntilClosed(Duration.ofSeconds(5));
        assertThat(lines).containsExactly(answer);
        sent.get(10, TimeUnit.SECONDS);
        return closedAfter(lines);
    }

    private static String closedAfter(List<String> lines) {
        return String.join(" / ", lines) + " / closed";
    }

    private static int messages() {
        return greenMail.getReceivedMessages().length;
    }

    private static List<String> carolsFolders() throws IOException {
        return HostileSetup.folders("127.0.0.1", greenMail.getImap().getPort(), "carol", "pw");
    }

    /** Lets what a failed test left queued drain, so that it is not charged to the next test. */
    private static void awaitNothingPending() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (postern.pendingClientBytes() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
    }

    // ---------------------------------------------------------------- oversized input

    @Test
    void oversizedLineBeforeLogin() throws Exception {
        during("64 MiB line before login", () -> {
            try (HostileSocket s = HostileSocket.greeted(address())) {
                return cutOff(s, "a1 NOOP ", 'x',
                        "a1 BAD [TOOBIG] Line too long (at most 4096 bytes).", "* BYE Too much input.");
            }
        }).assertOthersUnharmed();
    }

    @Test
    void oversizedLineAfterLogin() throws Exception {
        during("64 MiB line after login", () -> {
            try (HostileSocket s = loggedIn()) {
                return cutOff(s, "a1 SEARCH SUBJECT ", 'y',
                        "a1 BAD [TOOBIG] Line too long (at most 4096 bytes).", "* BYE Too much input.");
            }
        }).assertOthersUnharmed();
    }

    @Test
    void oversizedLiteralsBeforeLogin() throws Exception {
        during("oversized literals before login", () -> {
            try (HostileSocket s = HostileSocket.greeted(address())) {
                s.send("a1 LOGIN {257}\r\n");
                assertThat(s.line()).isEqualTo("a1 NO [TOOBIG] Literal too large (at most 256 bytes).");
                s.send("a2 NOOP\r\n");
                assertThat(s.line()).isEqualTo("a2 OK NOOP completed.");
                return "{257}: a1 NO [TOOBIG] Literal too large (at most 256 bytes)., session goes on; {64 MiB+}: "
                        + cutOff(s, "a3 LOGIN {" + FLOOD_BYTES + "+}\r\n", 'z',
                                "a3 BAD [TOOBIG] Literal too large (at most 256 bytes).", "* BYE Too much input.");
            }
        }).assertOthersUnharmed();
    }

    @Test
    void oversizedLiteralsAfterLogin() throws Exception {
        int before = messages();
        during("oversized literals after login", () -> {
            try (HostileSocket s = loggedIn()) {
                s.send("a1 APPEND INBOX {65537}\r\n");
                assertThat(s.line()).isEqualTo("a1 NO [TOOBIG] Literal too large (at most 65536 bytes).");
                s.send("a2 NOOP\r\n");
                assertThat(s.tagged("a2")).startsWith("a2 OK");
                return "{65537}: a1 NO [TOOBIG] Literal too large (at most 65536 bytes)., session goes on; {64 MiB+}: "
                        + cutOff(s, "a3 APPEND INBOX {" + FLOOD_BYTES + "+}\r\n", 'z',
                                "a3 BAD [TOOBIG] Literal too large (at most 65536 bytes).", "* BYE Too much input.");
            }
        }).assertOthersUnharmed();
        assertThat(messages()).as("nothing appended").isEqualTo(before);
    }

    /** 2^63 overflows a long, 10^23 - 1 anything; 2^63 - 1 is the largest long. All are "too large". */
    @Test
    void literalsAnnouncedAsTwoToTheSixtyThreeAndTwentyThreeNines() throws Exception {
        String[] sizes = {"9223372036854775808", "99999999999999999999999", "9223372036854775807"};
        during("{2^63} and {99999999999999999999999}", () -> {
            try (HostileSocket s = HostileSocket.greeted(address())) {
                for (String size : sizes) {
                    s.send("a1 LOGIN {" + size + "}\r\n");
                    assertThat(s.line()).isEqualTo("a1 NO [TOOBIG] Literal too large (at most 256 bytes).");
                }
                s.send("a2 LOGIN {" + sizes[1] + "+}\r\n");
                assertThat(s.linesUntilClosed(Duration.ofSeconds(3))).containsExactly(
                        "a2 BAD [TOOBIG] Literal too large (at most 256 bytes).", "* BYE Too much input.");
            }
            try (HostileSocket s = HostileSocket.greeted(address())) {
                // the second literal of a command: no going on, even for a synchronizing one
                s.send("a1 LOGIN {5}\r\n");
                assertThat(s.line()).isEqualTo("+ Ready for literal data");
                s.send("carol {" + sizes[0] + "}\r\n");
                // FINDING: untagged before login (the session has no tag at hand for a frame that is
                // not a command's first); after login the same error is tagged
                assertThat(s.linesUntilClosed(Duration.ofSeconds(3))).containsExactly(
                        "* BAD [TOOBIG] Literal too large (at most 256 bytes).", "* BYE Too much input.");
            }
            try (HostileSocket s = loggedIn()) {
                for (String size : sizes) {
                    s.send("a1 APPEND INBOX {" + size + "}\r\n");
                    assertThat(s.line()).isEqualTo("a1 NO [TOOBIG] Literal too large (at most 65536 bytes).");
                }
                s.send("a2 NOOP\r\n");
                assertThat(s.tagged("a2")).startsWith("a2 OK");
                s.send("a3 APPEND INBOX {" + sizes[0] + "+}\r\n");
                assertThat(s.linesUntilClosed(Duration.ofSeconds(3))).containsExactly(
                        "a3 BAD [TOOBIG] Literal too large (at most 65536 bytes).", "* BYE Too much input.");
            }
            return "{n}: tag NO [TOOBIG] Literal too large (at most N bytes)., session goes on; "
                    + "{n+}: tag BAD [TOOBIG] ... / * BYE Too much input. / closed; as a 2nd literal before login: "
                    + "* BAD [TOOBIG] ... (untagged) / * BYE Too much input. / closed";
        }).assertOthersUnharmed();
    }

    @Test
    void preLoginCommandOver32KiBInAll() throws Exception {
        during("pre-login command > 32 KiB in lines and literals", () -> {
            try (HostileSocket s = HostileSocket.greeted(address())) {
                StringBuilder command = new StringBuilder("a1 ID (");
                for (int i = 0; i < 20; i++) {
                    command.append('"').append("k".repeat(4000)).append("\" {1+}\r\nv ");
                }
                s.send(command + ")\r\n");
                List<String> lines = s.linesUntilClosed(Duration.ofSeconds(3));
                assertThat(lines).containsExactly(
                        "a1 BAD [TOOBIG] Command too long before login", "* BYE Too much input before login");
                return closedAfter(lines);
            }
        }).assertOthersUnharmed();
    }

    // ---------------------------------------------------------------- literals that never end, or never stop

    @Test
    void neverFinishedLiteralBeforeLogin() throws Exception {
        during("never-finished literal before login", () -> {
            long t0 = System.nanoTime();
            try (HostileSocket s = HostileSocket.greeted(address())) {
                s.send("a1 LOGIN {200}\r\n");
                assertThat(s.line()).isEqualTo("+ Ready for literal data");
                s.send("c".repeat(100));
                List<String> lines = s.linesUntilClosed(PRE_AUTH.plusSeconds(2));
                assertThat(lines).containsExactly(PRE_AUTH_BYE);
                assertThat(Duration.ofNanos(System.nanoTime() - t0)).isBetween(PRE_AUTH, PRE_AUTH.plusMillis(500));
                return "+ Ready for literal data; after 100 of 200 bytes and silence: " + closedAfter(lines);
            }
        }).assertOthersUnharmed();
    }

    @Test
    void neverFinishedLiteralAfterLogin() throws Exception {
        int before = messages();
        during("never-finished APPEND literal after login", () -> {
            try (HostileSocket s = loggedIn()) {
                long t0 = System.nanoTime();
                s.send("a1 APPEND INBOX {5000}\r\n");
                assertThat(s.line()).isEqualTo("+ OK"); // GreenMail's
                s.send("Subject: never finished\r\n\r\n" + "d".repeat(1000));
                List<String> lines = s.linesUntilClosed(IDLE.plusSeconds(2));
                assertThat(lines).containsExactly(IDLE_BYE);
                assertThat(Duration.ofNanos(System.nanoTime() - t0)).isBetween(IDLE, IDLE.plusMillis(1000));
                return "+ OK (the backend's); after 1027 of 5000 bytes and silence: "
                        + closedAfter(lines);
            }
        }).assertOthersUnharmed();
        assertThat(messages()).as("nothing appended").isEqualTo(before);
    }

    @Test
    void thousandsOfLiteralsInOneCommand() throws Exception {
        StringBuilder id = new StringBuilder("a1 ID (");
        StringBuilder search = new StringBuilder("a1 SEARCH");
        for (int i = 0; i < 5000; i++) {
            id.append("\"k").append(i).append("\" {1+}\r\nv ");
            search.append(" TEXT {1+}\r\nx");
        }
        during("5000 literals in one command", () -> {
            try (HostileSocket s = HostileSocket.greeted(address())) {
                s.send(id + ")\r\n");
                // FINDING: untagged before login, as above
                assertThat(s.linesUntilClosed(Duration.ofSeconds(3))).containsExactly(
                        "* BAD [LIMIT] Too many literals in one command.", "* BYE Too much input.");
            }
            try (HostileSocket s = loggedIn()) {
                s.send(search + "\r\n");
                List<String> lines = s.linesUntilClosed(Duration.ofSeconds(3));
                assertThat(lines).containsExactly(
                        "a1 BAD [LIMIT] Too many literals in one command.", "* BYE Too much input.");
                return "after login: " + closedAfter(lines) + "; before login the same, untagged";
            }
        }).assertOthersUnharmed();
    }

    // ---------------------------------------------------------------- bytes that do not belong in a line

    @Test
    void nulAndBareCrAndBareLfBeforeLogin() throws Exception {
        during("NUL, bare CR, bare LF before login", () -> {
            try (HostileSocket s = HostileSocket.greeted(address())) {
                // tagged, so a1 and a2 complete
                s.send("a1 NOOP\0\r\n");
                assertThat(s.line()).isEqualTo("a1 BAD Invalid character in command name.");
                s.send("a2 NOOP\ra3 LOGIN carol pw\ra4 CREATE BareCr\r\n");
                assertThat(s.line()).isEqualTo("a2 BAD Invalid character in command name.");
                s.send("a5 LOGIN \"car\0ol\" pw\r\n");
                assertThat(s.line()).isEqualTo("a5 BAD Invalid arguments: Invalid character in quoted string");
                s.send("a6 LOGIN carol pw\ra7 CREATE BareCr\r\n");
                assertThat(s.line()).isEqualTo("a6 BAD Invalid arguments: Unexpected characters at end of command");
                s.send("a8 NOOP\na9 NOOP\n");
                assertThat(s.line()).isEqualTo("a8 OK NOOP completed.");
                assertThat(s.line()).isEqualTo("a9 OK NOOP completed.");
            }
            return "NUL or bare CR in the command name: * BAD Invalid character in command name (untagged); "
                    + "in the arguments: tag BAD Invalid arguments: ...; bare LF ends a line";
        }).assertOthersUnharmed();
        assertThat(tap.commandStreamsWith("BareCr")).as("backend connections that saw it").isEmpty();
    }

    // ---------------------------------------------------------------- pipelining past the end

    @Test
    void pipelinedGarbageAfterLogoutBeforeLogin() throws Exception {
        during("garbage pipelined after LOGOUT, before login", () -> {
            try (HostileSocket s = HostileSocket.greeted(address())) {
                s.send("a1 LOGOUT\r\na2 NOOP\r\n\0\0\0garbage\r\na3 LOGIN carol pw\r\na4 CREATE BeforeLogin\r\n");
                List<String> lines = s.linesUntilClosed(Duration.ofSeconds(3));
                assertThat(lines).containsExactly("* BYE Logging out", "a1 OK Logout completed.");
                return closedAfter(lines);
            }
        }).assertOthersUnharmed();
        assertThat(tap.commandStreamsWith("BeforeLogin")).as("backend connections that saw it").isEmpty();
        assertThat(carolsFolders()).doesNotContain("BeforeLogin");
    }

    @Test
    void pipelinedGarbageAfterLogoutAfterLogin() throws Exception {
        during("garbage pipelined after LOGOUT, after login", () -> {
            try (HostileSocket s = loggedIn()) {
                s.send("a1 LOGOUT\r\na2 RENAME Keep AfterLogout\r\n\0\0\0garbage\r\na3 CREATE AfterLogout\r\n"
                        + "a4 APPEND INBOX {10}\r\n");
                List<String> lines = s.linesUntilClosed(Duration.ofSeconds(3));
                assertThat(lines).containsExactly("* BYE IMAP4rev1 Server logging out", "a1 OK LOGOUT completed.");
                return closedAfter(lines) + " (the backend's BYE and OK)";
            }
        }).assertOthersUnharmed();
        assertThat(carolsFolders()).contains("Keep").doesNotContain("AfterLogout");
        List<String> streams = tap.commandStreamsWith("a1 LOGOUT\r\n");
        assertThat(streams).hasSize(1);
        assertThat(streams.get(0)).as("what the backend got").endsWith("\r\na1 LOGOUT\r\n");
    }

    // ---------------------------------------------------------------- login abuse

    @Test
    void crlfInALiteralUserNameCannotSmuggleACommand() throws Exception {
        // What a proxy that pasted the name into LOGIN "..." "..." would turn into a login as carol
        // followed by two commands of hers.
        String user = "carol\" \"pw\"\r\na2 DELETE Keep\r\na3 CREATE Smuggled\r\na4 NOOP \"";
        during("CRLF in a literal LOGIN user name", () -> {
            try (HostileSocket s = HostileSocket.greeted(address())) {
                s.send("a1 LOGIN {" + user.length() + "}\r\n");
                assertThat(s.line()).isEqualTo("+ Ready for literal data");
                s.send(user + " x\r\n");
                assertThat(s.line()).isEqualTo("a1 NO [AUTHENTICATIONFAILED] Authentication failed.");
                s.send("a5 NOOP\r\n");
                assertThat(s.line()).isEqualTo("a5 OK NOOP completed.");
            }
            return "a1 NO [AUTHENTICATIONFAILED] Authentication failed.; session goes on";
        }).assertOthersUnharmed();
        assertThat(carolsFolders()).contains("Keep").doesNotContain("Smuggled");
        List<String> streams = tap.commandStreamsWith("a2 DELETE Keep");
        assertThat(streams).hasSize(1);
        // GreenMail offers no AUTH=PLAIN: Postern logs in with synchronizing literals
        assertThat(streams.get(0)).as("what the backend got").endsWith(
                "postern2 LOGIN {" + user.length() + "}\r\n" + user + " {1}\r\nx\r\n");
    }

    @Test
    void crlfInAQuotedUserNameEndsTheLineAtPostern() throws Exception {
        during("CRLF in a quoted LOGIN user name", () -> {
            try (HostileSocket s = HostileSocket.greeted(address())) {
                s.send("a1 LOGIN \"carol\\\" \\\"pw\\\"\r\na2 DELETE Keep\r\na3 CREATE Quoted \"\" x\r\n");
                assertThat(s.line()).isEqualTo("a1 BAD Invalid arguments: Invalid character in quoted string");
                assertThat(s.line()).isEqualTo("a2 BAD Log in first.");
                assertThat(s.line()).isEqualTo("a3 BAD Log in first.");
            }
            return "a1 BAD Invalid arguments: Invalid character in quoted string / a2 BAD Log in first. / "
                    + "a3 BAD Log in first.";
        }).assertOthersUnharmed();
        assertThat(tap.commandStreamsWith("Quoted")).as("backend connections that saw it").isEmpty();
        assertThat(carolsFolders()).contains("Keep").doesNotContain("Quoted");
    }

    /**
     * Before login Postern reads the name itself: a user name that is not valid UTF-8 gets BAD and
     * no backend is asked about it. After login a mailbox name is the backend's business: the bytes
     * pass unchanged and the backend's answer comes back.
     */
    @Test
    void invalidUtf8InLoginAndMailboxName() throws Exception {
        during("invalid UTF-8 in LOGIN and in a mailbox name", () -> {
            try (HostileSocket s = HostileSocket.greeted(address())) {
                s.send("a1 LOGIN \"car\u00ffol\" pw\r\n");
                assertThat(s.line()).isEqualTo("a1 BAD Invalid arguments: User name is not valid UTF-8");
            }
            try (HostileSocket s = loggedIn()) {
                s.send("a1 CREATE \"Bad\u00ff\u00fe\u00c3\"\r\n");
                assertThat(s.tagged("a1")).isEqualTo("a1 OK CREATE completed.");
                s.send("a2 SELECT \"Bad\u00c3\u0028\"\r\n");
                assertThat(s.tagged("a2")).isEqualTo("a2 NO SELECT failed. No such mailbox");
            }
            return "LOGIN: a1 BAD Invalid arguments: User name is not valid UTF-8; mailbox names: GreenMail's answers "
                    + "(a1 OK CREATE completed. / a2 NO SELECT failed. No such mailbox)";
        }).assertOthersUnharmed();
        assertThat(tap.commandStreamsWith("car\u00ef\u00bf\u00bdol")).as("no backend asked about a mangled name").isEmpty();
        assertThat(tap.commandStreamsWith("car\u00ffol")).as("nor about the raw one").isEmpty();
        assertThat(tap.commandStreamsWith("a1 CREATE \"Bad\u00ff\u00fe\u00c3\"\r\na2 SELECT \"Bad\u00c3\u0028\"\r\n"))
                .as("the mailbox names reached the backend byte for byte").hasSize(1);
    }

    /**
     * Nine wrong passwords for one user from one address, three connections of three: each
     * failure after the first is answered later, 100 ms doubling up to 800 ms, and every third
     * ends its connection. Others (another address, another user) are not slowed.
     */
    @Test
    void floodOfFailedLoginsFromOneAddress() throws Exception {
        // its own Postern: a fresh throttle, and a pre-login timeout longer than the delays
        try (PosternServer own = HostileSetup.postern(
                "127.0.0.1", greenMail.getImap().getPort(), "timeouts:\n  pre_auth: 10s\n" + LIMITS)) {
            InetAddress attacker = InetAddress.getByName("127.0.0.7");
            List<Long> millis = new ArrayList<>();
            AttackWatch.during("flood of failed logins", own, "watcher", "pw", () -> {
                int n = 0;
                for (int connection = 0; connection < 3; connection++) {
                    try (HostileSocket s = HostileSocket.connect(attacker, own.address("imap"))) {
                        s.line();
                        for (int i = 0; i < 3; i++) {
                            String tag = "f" + ++n;
                            long t0 = System.nanoTime();
                            s.send(tag + " LOGIN carol wrong" + n + "\r\n");
                            assertThat(s.line()).isEqualTo(tag + " NO [AUTHENTICATIONFAILED] Authentication failed.");
                            millis.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
                        }
                        assertThat(s.linesUntilClosed(Duration.ofSeconds(3)))
                                .containsExactly("* BYE Too many invalid authentication attempts.");
                    }
                }
                long[] delays = {0, 100, 200, 400, 800, 800, 800, 800, 800};
                for (int i = 0; i < delays.length; i++) {
                    assertThat(millis.get(i)).as("failure %d answered after, ms (all: %s)", i + 1, millis)
                            .isBetween(delays[i], delays[i] + 400);
                }
                // the right password from another address is not slowed
                try (HostileSocket s = HostileSocket.connect(InetAddress.getByName("127.0.0.8"), own.address("imap"))) {
                    s.line();
                    long t0 = System.nanoTime();
                    s.send("g1 LOGIN carol pw\r\n");
                    assertThat(s.tagged("g1")).startsWith("g1 OK [CAPABILITY ");
                    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(500);
                }
                return "tag NO [AUTHENTICATIONFAILED] Authentication failed. after " + millis
                        + " ms; each third: * BYE Too many invalid authentication attempts. / closed";
            }).assertOthersUnharmed();
        }
    }

    // ---------------------------------------------------------------- slow and silent clients

    /**
     * Slowloris: a byte every 400 ms of a line that never ends, with a 1 s pre-login timeout. The
     * timeout must be a deadline: it ends the connection even though bytes keep coming.
     */
    @Test
    void slowlorisBeforeLoginIsCutOffByThePreLoginTimeout() throws Exception {
        during("slowloris before login", () -> {
            long t0 = System.nanoTime();
            try (HostileSocket s = HostileSocket.greeted(address())) {
                Thread trickle = s.trickle(bytes("a1 LOGIN carol pw" + "x".repeat(1000)), 400);
                List<String> lines = s.linesUntilClosed(PRE_AUTH.plusSeconds(2));
                long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                trickle.interrupt();
                assertThat(lines).containsExactly(PRE_AUTH_BYE);
                assertThat(took).isBetween(PRE_AUTH.toMillis(), PRE_AUTH.toMillis() + 500);
                return closedAfter(lines) + " after " + took + " ms";
            }
        }).assertOthersUnharmed();
    }

    @Test
    void twoThousandSilentConnectionsAreClosedByThePreLoginTimeout() throws Exception {
        List<HostileSocket> sockets = new ArrayList<>();
        try (AutoCloseable leakLevel = AttackWatch.simpleLeakDetection()) {
            during("2000 silent connections", () -> {
                long t0 = System.nanoTime();
                for (int i = 0; i < 2000; i++) {
                    sockets.add(HostileSocket.connect(address()));
                }
                long opened = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                for (HostileSocket s : sockets) {
                    List<String> lines = s.linesUntilClosed(PRE_AUTH.plusSeconds(4));
                    assertThat(lines).hasSize(2);
                    assertThat(lines.get(0)).startsWith("* OK [CAPABILITY ").endsWith("Postern ready.");
                    assertThat(lines.get(1)).isEqualTo(PRE_AUTH_BYE);
                }
                long closed = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                assertThat(closed).as("all closed, ms after the first connect")
                        .isLessThan(opened + PRE_AUTH.toMillis() + 2000);
                try (HostileSocket s = loggedIn()) {
                    s.send("a1 NOOP\r\n");
                    assertThat(s.tagged("a1")).startsWith("a1 OK");
                }
                return "greeting / " + PRE_AUTH_BYE + " / closed, all 2000 within " + closed + " ms of the first "
                        + "connect (opened in " + opened + " ms); a new session logs in";
            }).assertOthersUnharmed();
        } finally {
            for (HostileSocket s : sockets) {
                s.close();
            }
        }
    }

    /**
     * An amplification flood: 4 MiB of CAPABILITY asks for ten times as many bytes of answers,
     * and the client never reads them. Postern must stop reading a client whose answers pile up
     * ({@link #PENDING_BOUND_ONE_READ}), and the pre-login timeout must end the session. Its own
     * Postern, with a pre-login timeout long enough for the flood to show.
     */
    @Test
    void commandsPipelinedWithoutReadingTheAnswersBeforeLogin() throws Exception {
        try (PosternServer own = HostileSetup.postern(
                "127.0.0.1", greenMail.getImap().getPort(), "timeouts:\n  pre_auth: 2s\n")) {
            pipelinedWithoutReading("4 MiB of CAPABILITY before login, answers never read", own, null,
                    "a CAPABILITY\r\n", Duration.ofSeconds(2), List.of(
                            "* CAPABILITY IMAP4rev1 ID LITERAL+ SASL-IR AUTH=PLAIN AUTH=LOGIN",
                            "a OK Pre-login capabilities listed, post-login capabilities have more."));
        }
    }

    /** The same after login, with lines that Postern answers itself instead of relaying them. */
    @Test
    void garbagePipelinedWithoutReadingTheAnswersAfterLogin() throws Exception {
        pipelinedWithoutReading("4 MiB of untagged lines after login, answers never read", postern,
                "a0 LOGIN carol pw\r\n", "!\r\n", IDLE, List.of("* BAD Missing or invalid tag."));
    }

    /**
     * Floods {@code command} for the length of {@code timeout} and a second more, reading nothing,
     * while the watch samples Postern's memory; then checks the first answers.
     */
    private static void pipelinedWithoutReading(String attack, PosternServer server, String login, String command,
            Duration timeout, List<String> answer) throws Exception {
        // at the test JVM's paranoid level the kernel's socket buffers would hide how fast answers pile up
        try (AutoCloseable leakLevel = AttackWatch.simpleLeakDetection()) {
            AttackWatch.during(attack, server, "watcher", "pw", () -> {
                try (HostileSocket s = HostileSocket.greetedNonReader(server.address("imap"))) {
                    if (login != null) {
                        s.send(login);
                        assertThat(s.line()).startsWith("a0 OK [CAPABILITY ");
                    }
                    byte[] chunk = bytes(command.repeat(64 * 1024 / command.length()));
                    CompletableFuture<Long> sent = CompletableFuture.supplyAsync(() -> s.sendUntilRefused(chunk, 64));
                    Thread.sleep(timeout.plusSeconds(1).toMillis());
                    s.timeout(Duration.ofSeconds(2));
                    List<String> first = new ArrayList<>();
                    for (int i = 0; i < answer.size() * 3; i++) {
                        first.add(s.line());
                    }
                    assertThat(first).isEqualTo(Collections.nCopies(3, answer).stream().flatMap(List::stream).toList());
                    return String.join(" / ", answer) + " for each command read ("
                            + (sent.isDone() ? "all " + sent.get() + " bytes" : "not all") + " read by Postern)";
                }
            }).assertOthersUnharmed(PENDING_BOUND_ONE_READ);
        } finally {
            awaitNothingPending();
        }
    }

    /**
     * A client that asks for a large message and then reads nothing: when the idle timeout ends
     * the session, Postern must not wait for the queued data to drain (it never will).
     */
    @Test
    void clientThatStopsReadingIsClosedByTheIdleTimeout() throws Exception {
        try {
            during("FETCH of 8.5 MiB, then the client stops reading", () -> {
                try (HostileSocket s = HostileSocket.greetedNonReader(address())) {
                    s.send("a0 LOGIN carol pw\r\n");
                    assertThat(s.tagged("a0")).startsWith("a0 OK");
                    s.send("a1 SELECT Big\r\n");
                    assertThat(s.tagged("a1")).startsWith("a1 OK");
                    s.send("a2 FETCH 1 BODY[]\r\n");
                    Thread.sleep(IDLE.toMillis());
                    // the idle timeout has passed: the queue is cut soon after (a loaded machine may be late)
                    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                    while (postern.pendingClientBytes() >= 64 * 1024 && System.nanoTime() < deadline) {
                        Thread.sleep(100);
                    }
                    assertThat(postern.pendingClientBytes()).as("bytes still queued 30 s after the idle timeout")
                            .isLessThan(64 * 1024);
                    String first = s.line();
                    // GreenMail adds FLAGS (\Seen) only the first time the message is fetched
                    assertThat(first).startsWith("* 1 FETCH (").endsWith("BODY[] {8912912}");
                    s.linesUntilClosed(Duration.ofSeconds(5));
                    return first + " ... what the socket buffers held / closed";
                }
            }).assertOthersUnharmed();
        } finally {
            awaitNothingPending();
        }
    }

    /**
     * Lines Postern answers itself, pipelined while a FETCH response is half written to a client
     * that does not read: the answers must not land inside the message data, and no more than
     * 1000 may wait; the 1001st ends the session (without BYE, which would land in the literal).
     */
    @Test
    void answersThatWaitBehindAHalfWrittenFetchAreBounded() throws Exception {
        try {
            during("1500 refused lines behind a half-written 8.5 MiB FETCH", () -> {
                try (HostileSocket s = HostileSocket.greetedNonReader(address())) {
                    s.send("a0 LOGIN carol pw\r\na1 SELECT Big\r\n");
                    assertThat(s.tagged("a1")).startsWith("a1 OK");
                    s.send("a2 FETCH 1 BODY[]\r\n");
                    // the response is under way, and stuck in the full socket buffers behind its first line
                    String first = s.line();
                    s.send("!\r\n".repeat(1500));
                    List<String> lines = new ArrayList<>(List.of(first));
                    lines.addAll(s.linesUntilClosed(Duration.ofSeconds(30)));
                    assertThat(lines.get(0)).startsWith("* 1 FETCH (FLAGS (\\Seen) BODY[] {8912912}");
                    assertThat(lines).as("Postern's own answers").noneMatch(l -> l.contains("BAD") || l.contains("BYE"));
                    assertThat(lines.size()).as("lines of the 524,290 of the message").isLessThan(524_290);
                    return lines.get(0) + " ... cut short / closed (no BAD, no BYE)";
                }
            }).assertOthersUnharmed();
        } finally {
            awaitNothingPending();
        }
    }
}
