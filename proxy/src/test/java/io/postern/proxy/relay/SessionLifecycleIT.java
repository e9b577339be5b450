package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Limits after login, timeouts, and either side going away, with GreenMail behind Postern. */
class SessionLifecycleIT {

    private GreenMail greenMail;
    private PosternHarness postern;

    @BeforeEach
    void start() throws Exception {
        greenMail = new GreenMail(new ServerSetup(0, "127.0.0.1", ServerSetup.PROTOCOL_IMAP));
        greenMail.start();
        greenMail.setUser("carol@postern.test", "carol", "pw");
        postern = PosternHarness.inFrontOf("127.0.0.1", greenMail.getImap().getPort(), """
                timeouts:
                  idle: 700ms
                limits:
                  max_line_length: 2048
                  max_literal_size_after_auth: 1000
                """);
    }

    @AfterEach
    void stop() {
        postern.close();
        greenMail.stop();
    }

    private RawImapClient login() throws Exception {
        RawImapClient c = new RawImapClient(postern.address());
        c.line();
        c.send("a0 LOGIN carol pw\r\n");
        assertThat(c.tagged("a0")).startsWith("a0 OK");
        return c;
    }

    @Test
    void oversizeSynchronizingLiteralAfterLoginIsTooBigAndTheSessionGoesOn() throws Exception {
        try (RawImapClient c = login()) {
            c.send("a1 APPEND INBOX {1001}\r\n");
            assertThat(c.line()).isEqualTo("a1 NO [TOOBIG] Literal too large (at most 1000 bytes).");
            c.send("a2 APPEND INBOX {12}\r\n");
            assertThat(c.line()).startsWith("+");
            c.send("Subject: x\r\n\r\n");
            assertThat(c.tagged("a2")).startsWith("a2 OK");
        }
    }

    @Test
    void oversizeNonSynchronizingLiteralIsBadAndEndsTheSession() throws Exception {
        try (RawImapClient c = login()) {
            c.send("a1 APPEND INBOX {5000+}\r\n" + "x".repeat(5000) + "\r\n");
            assertThat(c.line()).isEqualTo("a1 BAD [TOOBIG] Literal too large (at most 1000 bytes).");
            assertThat(c.line()).isEqualTo("* BYE Too much input.");
            assertThat(c.closedByServer()).isTrue();
        }
        assertThat(greenMail.getReceivedMessages()).isEmpty();
    }

    @Test
    void overlongLineAfterLoginIsBadAndEndsTheSession() throws Exception {
        try (RawImapClient c = login()) {
            c.send("a1 SEARCH SUBJECT " + "y".repeat(4000) + "\r\n");
            assertThat(c.line()).isEqualTo("a1 BAD [TOOBIG] Line too long (at most 2048 bytes).");
            assertThat(c.line()).isEqualTo("* BYE Too much input.");
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void idleSessionIsLoggedOut() throws Exception {
        try (RawImapClient c = login()) {
            assertThat(c.line()).isEqualTo("* BYE Autologout; idle for too long.");
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void backendGoingAwayGivesTheClientBye() throws Exception {
        try (RawImapClient c = login()) {
            c.send("a1 NOOP\r\n");
            assertThat(c.tagged("a1")).startsWith("a1 OK");
            greenMail.stop();
            String line = c.line();
            // GreenMail may say BYE itself on the way down; Postern passes that on, or says its own
            assertThat(line).startsWith("* BYE");
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void nothingPipelinedAfterLogoutReachesTheBackend() throws Exception {
        try (RecordingRelay relay = new RecordingRelay(
                        new java.net.InetSocketAddress("127.0.0.1", greenMail.getImap().getPort()));
                PosternHarness recorded = PosternHarness.inFrontOf("127.0.0.1", relay.port());
                RawImapClient c = new RawImapClient(recorded.address())) {
            c.line();
            c.send("a0 LOGIN carol pw\r\n");
            assertThat(c.tagged("a0")).startsWith("a0 OK");
            c.send("a1 LOGOUT\r\na2 CREATE Smuggled\r\na3 NOOP\r\n");
            String all = new String(c.response(), StandardCharsets.UTF_8) + c.tagged("a1");
            assertThat(all).startsWith("* BYE").contains("a1 OK");
            assertThat(c.closedByServer()).isTrue();
            assertThat(relay.sentToBackend()).contains("a1 LOGOUT\r\n").doesNotContain("Smuggled").doesNotContain("a3");
        }
    }

    @Test
    void sessionsPerUserAndConnectionsPerAddressAreLimited() throws Exception {
        try (PosternHarness limited = PosternHarness.inFrontOf("127.0.0.1", greenMail.getImap().getPort(), """
                limits:
                  max_sessions_per_user: 2
                  max_connections_per_address: 4
                """)) {
            java.util.List<RawImapClient> open = new java.util.ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    RawImapClient c = new RawImapClient(limited.address());
                    open.add(c);
                    c.line();
                    c.send("a LOGIN carol pw\r\n");
                    String reply = c.tagged("a");
                    if (i < 2) {
                        assertThat(reply).startsWith("a OK");
                    } else {
                        assertThat(reply).isEqualTo("a NO [LIMIT] Too many sessions for this user.");
                    }
                }
                RawImapClient fourth = new RawImapClient(limited.address());
                open.add(fourth);
                assertThat(fourth.line()).startsWith("* OK ");
                RawImapClient fifth = new RawImapClient(limited.address());
                open.add(fifth);
                assertThat(fifth.line()).isEqualTo("* BYE [LIMIT] Too many connections from your address.");
                assertThat(fifth.closedByServer()).isTrue();
                // the slots come back: one session logs out, the third connection may log in now
                open.get(0).send("z LOGOUT\r\n");
                open.get(0).tagged("z");
                long deadline = System.nanoTime() + 5_000_000_000L;
                String reply;
                do {
                    open.get(2).send("b LOGIN carol pw\r\n");
                    reply = open.get(2).tagged("b");
                } while (!reply.startsWith("b OK") && System.nanoTime() < deadline);
                assertThat(reply).startsWith("b OK");
            } finally {
                for (RawImapClient c : open) {
                    c.close();
                }
            }
        }
    }

    @Test
    void logoutEndsBothConnections() throws Exception {
        try (RawImapClient c = login()) {
            c.send("a1 LOGOUT\r\n");
            assertThat(new String(c.response(), StandardCharsets.UTF_8)).startsWith("* BYE");
            assertThat(c.tagged("a1")).startsWith("a1 OK");
            assertThat(c.closedByServer()).isTrue();
        }
    }
}
