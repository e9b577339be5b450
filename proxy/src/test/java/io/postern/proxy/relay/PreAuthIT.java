package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What Postern answers itself before login, and how a login ends, with GreenMail behind it. */
class PreAuthIT {

    private static GreenMail greenMail;
    private static PosternHarness postern;
    private static PosternHarness posternToDeadBackend;
    private static PosternHarness posternWithShortTimeouts;
    private static PosternHarness posternThrottled;

    @BeforeAll
    static void start() throws Exception {
        greenMail = new GreenMail(new ServerSetup(0, "127.0.0.1", ServerSetup.PROTOCOL_IMAP));
        greenMail.start();
        greenMail.setUser("alice@postern.test", "alice", "secret");
        greenMail.setUser("bob@postern.test", "bob", "pa ss\"wo\\rd");
        int imapPort = greenMail.getImap().getPort();
        postern = PosternHarness.inFrontOf("127.0.0.1", imapPort);
        posternWithShortTimeouts = PosternHarness.inFrontOf("127.0.0.1", imapPort, """
                timeouts:
                  pre_auth: 1500ms
                limits:
                  max_line_length: 1024
                  max_literal_size_before_auth: 100
                """);
        posternThrottled = PosternHarness.inFrontOf("127.0.0.1", imapPort, """
                limits:
                  login_failure_delay: 300ms
                """);
        int dead;
        try (ServerSocket s = new ServerSocket(0)) {
            dead = s.getLocalPort();
        }
        posternToDeadBackend = PosternHarness.inFrontOf("127.0.0.1", dead);
    }

    @AfterAll
    static void stop() {
        for (AutoCloseable c : new AutoCloseable[] {postern, posternToDeadBackend, posternWithShortTimeouts, posternThrottled}) {
            if (c != null) {
                ((PosternHarness) c).close();
            }
        }
        if (greenMail != null) {
            greenMail.stop();
        }
    }

    private static RawImapClient connect(PosternHarness p) throws Exception {
        RawImapClient c = new RawImapClient(p.address());
        assertThat(c.line()).startsWith("* OK [CAPABILITY IMAP4rev1 ").contains("AUTH=PLAIN").endsWith("Postern ready.");
        return c;
    }

    @Test
    void capabilityNoopIdLogoutAreAnsweredByPostern() throws Exception {
        try (RawImapClient c = connect(postern)) {
            c.send("a1 CAPABILITY\r\na2 NOOP\r\na3 ID (\"name\" \"test\" \"version\" NIL)\r\na4 LOGOUT\r\n");
            assertThat(c.line()).isEqualTo("* CAPABILITY IMAP4rev1 ID LITERAL+ SASL-IR AUTH=PLAIN AUTH=LOGIN");
            assertThat(c.line()).startsWith("a1 OK ");
            assertThat(c.line()).startsWith("a2 OK ");
            assertThat(c.line()).isEqualTo("* ID (\"name\" \"Postern\")");
            assertThat(c.line()).startsWith("a3 OK ");
            assertThat(c.line()).isEqualTo("* BYE Logging out");
            assertThat(c.line()).startsWith("a4 OK ");
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void loginWithQuotedArgumentsAndCapabilityCodeWithoutAuthMechanisms() throws Exception {
        try (RawImapClient c = connect(postern)) {
            c.send("a1 LOGIN \"bob\" \"pa ss\\\"wo\\\\rd\"\r\n");
            String ok = c.tagged("a1");
            assertThat(ok).startsWith("a1 OK [CAPABILITY IMAP4rev1").endsWith("] Logged in");
            assertThat(ok).doesNotContain("AUTH=").doesNotContain("STARTTLS");
            assertThat(ok.split("COMPRESS=", -1)).hasSize(2); // Postern's own COMPRESS=DEFLATE, once
            c.send("a2 SELECT INBOX\r\n");
            assertThat(c.tagged("a2")).startsWith("a2 OK");
        }
    }

    @Test
    void loginWithSynchronizingLiterals() throws Exception {
        try (RawImapClient c = connect(postern)) {
            c.send("a1 LOGIN {5}\r\n");
            assertThat(c.line()).startsWith("+ ");
            c.send("alice {6}\r\n");
            assertThat(c.line()).startsWith("+ ");
            c.send("secret\r\n");
            assertThat(c.tagged("a1")).startsWith("a1 OK [CAPABILITY ");
        }
    }

    @Test
    void loginWithNonSynchronizingLiterals() throws Exception {
        try (RawImapClient c = connect(postern)) {
            c.send("a1 LOGIN {5+}\r\nalice {6+}\r\nsecret\r\na2 NOOP\r\n");
            assertThat(c.tagged("a1")).startsWith("a1 OK [CAPABILITY ");
            assertThat(c.tagged("a2")).startsWith("a2 OK");
        }
    }

    @Test
    void authenticatePlainWithAndWithoutInitialResponse() throws Exception {
        String plain = Base64.getEncoder().encodeToString("\0alice\0secret".getBytes(StandardCharsets.UTF_8));
        try (RawImapClient c = connect(postern)) {
            c.send("a1 AUTHENTICATE PLAIN " + plain + "\r\n");
            assertThat(c.tagged("a1")).startsWith("a1 OK [CAPABILITY ");
        }
        try (RawImapClient c = connect(postern)) {
            c.send("a1 AUTHENTICATE PLAIN\r\n");
            assertThat(c.line()).isEqualTo("+ ");
            c.send(plain + "\r\n");
            assertThat(c.tagged("a1")).startsWith("a1 OK [CAPABILITY ");
        }
    }

    @Test
    void authenticateLoginMechanism() throws Exception {
        Base64.Encoder b64 = Base64.getEncoder();
        try (RawImapClient c = connect(postern)) {
            c.send("a1 AUTHENTICATE LOGIN\r\n");
            assertThat(c.line()).isEqualTo("+ " + b64.encodeToString("Username:".getBytes(StandardCharsets.US_ASCII)));
            c.send(b64.encodeToString("alice".getBytes(StandardCharsets.UTF_8)) + "\r\n");
            assertThat(c.line()).isEqualTo("+ " + b64.encodeToString("Password:".getBytes(StandardCharsets.US_ASCII)));
            c.send(b64.encodeToString("secret".getBytes(StandardCharsets.UTF_8)) + "\r\n");
            assertThat(c.tagged("a1")).startsWith("a1 OK [CAPABILITY ");
        }
        try (RawImapClient c = connect(postern)) {
            c.send("a1 AUTHENTICATE LOGIN " + b64.encodeToString("alice".getBytes(StandardCharsets.UTF_8)) + "\r\n");
            assertThat(c.line()).startsWith("+ ");
            c.send(b64.encodeToString("secret".getBytes(StandardCharsets.UTF_8)) + "\r\n");
            assertThat(c.tagged("a1")).startsWith("a1 OK [CAPABILITY ");
        }
    }

    @Test
    void authenticateCancelledWithStarThenLoginWorks() throws Exception {
        try (RawImapClient c = connect(postern)) {
            c.send("a1 AUTHENTICATE PLAIN\r\n");
            assertThat(c.line()).isEqualTo("+ ");
            c.send("*\r\n");
            assertThat(c.line()).isEqualTo("a1 BAD Authentication aborted by client.");
            c.send("a2 AUTHENTICATE PLAIN !!notbase64\r\n");
            assertThat(c.line()).isEqualTo("a2 BAD Invalid base64 data.");
            c.send("a3 AUTHENTICATE CRAM-MD5\r\n");
            assertThat(c.line()).startsWith("a3 NO ");
            c.send("a4 LOGIN alice secret\r\n");
            assertThat(c.tagged("a4")).startsWith("a4 OK ");
        }
    }

    @Test
    void wrongPasswordIsAuthenticationFailedAndThirdFailureEndsTheSession() throws Exception {
        try (RawImapClient c = connect(postern)) {
            for (int i = 1; i <= 3; i++) {
                c.send("a" + i + " LOGIN alice wrong\r\n");
                assertThat(c.line()).isEqualTo("a" + i + " NO [AUTHENTICATIONFAILED] Authentication failed.");
            }
            assertThat(c.line()).startsWith("* BYE ");
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void commandsPipelinedBehindLoginRunAfterIt() throws Exception {
        try (RawImapClient c = connect(postern)) {
            c.send("a1 LOGIN alice secret\r\na2 SELECT INBOX\r\na3 NOOP\r\n");
            assertThat(c.tagged("a1")).startsWith("a1 OK ");
            assertThat(c.tagged("a2")).startsWith("a2 OK ");
            assertThat(c.tagged("a3")).startsWith("a3 OK ");
        }
    }

    @Test
    void deadBackendIsUnavailableAndTheSessionStaysUsable() throws Exception {
        try (RawImapClient c = connect(posternToDeadBackend)) {
            c.send("a1 LOGIN alice secret\r\n");
            assertThat(c.line()).isEqualTo("a1 NO [UNAVAILABLE] Backend unavailable, try again later.");
            c.send("a2 NOOP\r\n");
            assertThat(c.line()).startsWith("a2 OK ");
        }
    }

    @Test
    void commandsThatNeedALoginAndUnknownCommandsAreBad() throws Exception {
        try (RawImapClient c = connect(postern)) {
            c.send("a1 SELECT INBOX\r\na2 FROBNICATE\r\n!!!\r\na3 LOGIN alice\r\n");
            assertThat(c.line()).isEqualTo("a1 BAD Log in first.");
            assertThat(c.line()).isEqualTo("a2 BAD Unknown command.");
            assertThat(c.line()).startsWith("* BAD ");
            assertThat(c.line()).startsWith("a3 BAD Invalid arguments");
        }
    }

    @Test
    void oversizeLiteralBeforeLoginIsRefusedWithoutWaitingForIt() throws Exception {
        try (RawImapClient c = connect(posternWithShortTimeouts)) {
            c.send("a1 LOGIN {101}\r\n");
            assertThat(c.line()).isEqualTo("a1 NO [TOOBIG] Literal too large (at most 100 bytes).");
            c.send("a2 NOOP\r\n");
            assertThat(c.line()).startsWith("a2 OK ");
            c.send("a3 LOGIN {9223372036854775808+}\r\n");
            assertThat(c.line()).startsWith("a3 BAD [TOOBIG] ");
            assertThat(c.line()).startsWith("* BYE ");
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void overlongLineIsAnsweredAndTheConnectionClosed() throws Exception {
        try (RawImapClient c = connect(posternWithShortTimeouts)) {
            c.send("a1 NOOP " + "x".repeat(5000));
            List<String> lines = List.of(c.line(), c.line());
            assertThat(lines.get(0)).isEqualTo("a1 BAD [TOOBIG] Line too long (at most 1024 bytes).");
            assertThat(lines.get(1)).startsWith("* BYE ");
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void silentClientIsLoggedOutAtThePreAuthDeadline() throws Exception {
        long start = System.nanoTime();
        try (RawImapClient c = connect(posternWithShortTimeouts)) {
            assertThat(c.line()).isEqualTo("* BYE Autologout; no login within 1500 ms.");
            assertThat(c.closedByServer()).isTrue();
            assertThat((System.nanoTime() - start) / 1_000_000).isGreaterThanOrEqualTo(1500);
        }
    }

    @Test
    void tricklingBytesDoesNotExtendThePreAuthDeadline() throws Exception {
        try (RawImapClient c = connect(posternWithShortTimeouts)) {
            long start = System.nanoTime();
            String bye = null;
            for (int i = 0; i < 40 && bye == null; i++) { // a byte every 100 ms, a line never finished
                c.send("x");
                c.setTimeout(100);
                try {
                    bye = c.line();
                } catch (java.net.SocketTimeoutException e) {
                    bye = null; // nothing yet: trickle on
                }
            }
            assertThat(bye).isEqualTo("* BYE Autologout; no login within 1500 ms.");
            assertThat((System.nanoTime() - start) / 1_000_000).as("ended by the 1.5 s deadline, not by the trickle").isLessThan(5000);
        }
    }

    @Test
    void failedLoginsFromOneAddressAreAnsweredSlowerEachTime() throws Exception {
        long[] took = new long[3];
        try (RawImapClient c = connect(posternThrottled)) {
            for (int i = 0; i < 3; i++) {
                long start = System.nanoTime();
                c.send("f" + i + " LOGIN alice wrong\r\n");
                assertThat(c.line()).isEqualTo("f" + i + " NO [AUTHENTICATIONFAILED] Authentication failed.");
                took[i] = (System.nanoTime() - start) / 1_000_000;
            }
        }
        // a new connection from the same address starts where the last one stopped: 4th failure, 4 x 300 ms
        try (RawImapClient c = connect(posternThrottled)) {
            long start = System.nanoTime();
            c.send("g LOGIN bob wrong\r\n");
            assertThat(c.line()).startsWith("g NO [AUTHENTICATIONFAILED]");
            long fourth = (System.nanoTime() - start) / 1_000_000;
            assertThat(took[1]).isGreaterThanOrEqualTo(300);
            assertThat(took[2]).isGreaterThanOrEqualTo(600);
            assertThat(fourth).isGreaterThanOrEqualTo(1200);
            // a good login clears the count for the address
            c.send("h LOGIN alice secret\r\n");
            assertThat(c.tagged("h")).startsWith("h OK");
        }
        try (RawImapClient c = connect(posternThrottled)) {
            long start = System.nanoTime();
            c.send("i LOGIN carol wrong\r\n");
            assertThat(c.line()).startsWith("i NO [AUTHENTICATIONFAILED]");
            // not cleared, this would be the address's 5th failure: 2,400 ms; cleared, it waits for nothing
            assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(2000);
        }
    }
}
