package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.server.PosternServer;
import io.postern.proxy.testing.DovecotFixture;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Graceful shutdown in front of a real Dovecot: listeners stop accepting, an IDLE session and a
 * session that has not logged in get {@code * BYE [UNAVAILABLE] server shutting down} at once,
 * and an APPEND whose literal is half sent completes (and is on the backend, byte for byte)
 * before its session gets the same BYE.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GracefulShutdownDovecotIT {

    private static final String PASSWORD = "shutdown-pw";
    private DovecotFixture dovecot;

    @BeforeAll
    void start() throws Exception {
        DovecotFixture.assumeAvailable();
        dovecot = DovecotFixture.builder().name("shard-a").user("alice", PASSWORD).user("bob", PASSWORD).start();
    }

    @AfterAll
    void stop() throws Exception {
        if (dovecot != null) {
            dovecot.close();
        }
    }

    private PosternServer postern() throws Exception {
        return PosternServer.start(PosternConfig.parse("""
                listeners: [{name: imap, bind: "127.0.0.1:0"}]
                backends: [{name: shard-a, address: "%s:%d"}]
                routing: {strategy: static, default: shard-a}
                admin: {bind: "127.0.0.1:0"}
                """.formatted(dovecot.host(), dovecot.port())));
    }

    private static RawImapClient login(PosternServer postern, String user) throws IOException {
        RawImapClient c = new RawImapClient(postern.address("imap"));
        c.line();
        c.send("l LOGIN " + user + " " + PASSWORD + "\r\n");
        assertThat(c.tagged("l")).startsWith("l OK");
        return c;
    }

    @Test
    void idleSessionsGetByeAtOnceAndAHalfSentAppendCompletesFirst() throws Exception {
        byte[] message = ("From: bob@postern.test\r\nSubject: appended during shutdown\r\n\r\n" + "y".repeat(20_000) + "\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        PosternServer postern = postern();
        InetSocketAddress imap = postern.address("imap");
        AdminClient admin = new AdminClient(postern.adminAddress(), null);
        Thread shutdown = new Thread(() -> postern.shutdownGracefully(Duration.ofSeconds(30)), "test-shutdown");
        try (RawImapClient alice = login(postern, "alice");
                RawImapClient bob = login(postern, "bob");
                RawImapClient early = new RawImapClient(imap)) {
            early.line();
            alice.send("s SELECT INBOX\r\ni IDLE\r\n");
            assertThat(alice.tagged("s")).startsWith("s OK");
            assertThat(alice.line()).startsWith("+ ");
            bob.send("p APPEND INBOX {" + message.length + "}\r\n");
            assertThat(bob.line()).startsWith("+");
            bob.send(Arrays.copyOfRange(message, 0, message.length / 2));

            shutdown.start();
            assertThat(alice.line()).isEqualTo("* BYE [UNAVAILABLE] server shutting down");
            assertThat(alice.closedByServer()).isTrue();
            assertThat(early.line()).isEqualTo("* BYE [UNAVAILABLE] server shutting down");
            assertThat(early.closedByServer()).isTrue();
            assertThatThrownBy(() -> new RawImapClient(imap).close()).as("no new connections")
                    .isInstanceOf(ConnectException.class);
            assertThat(admin.send("GET", "/readyz").body()).isEqualTo("not ready: shutting down\n");

            bob.send(Arrays.copyOfRange(message, message.length / 2, message.length));
            bob.send("\r\n");
            assertThat(bob.tagged("p")).startsWith("p OK");
            assertThat(bob.line()).isEqualTo("* BYE [UNAVAILABLE] server shutting down");
            assertThat(bob.closedByServer()).isTrue();
        } finally {
            shutdown.join(60_000);
        }
        assertThat(shutdown.isAlive()).as("shutdown returned once the sessions had ended").isFalse();
        assertThat(lastMessage("bob")).isEqualTo(message);
    }

    @Test
    void aCommandThatOutlastsTheGraceIsCut() throws Exception {
        PosternServer postern = postern();
        try (RawImapClient bob = login(postern, "bob")) {
            bob.send("p APPEND INBOX {100}\r\n");
            assertThat(bob.line()).startsWith("+");
            bob.send("only a part");
            postern.shutdownGracefully(Duration.ofMillis(300)); // returns after the grace period
            assertThat(bob.line()).isEqualTo("* BYE [UNAVAILABLE] server shutting down");
            assertThat(bob.closedByServer()).isTrue();
        }
    }

    private byte[] lastMessage(String user) throws IOException {
        try (RawImapClient direct = new RawImapClient(new InetSocketAddress(dovecot.host(), dovecot.port()))) {
            direct.line();
            direct.send("l LOGIN " + user + " " + PASSWORD + "\r\ns SELECT INBOX\r\nf FETCH * BODY.PEEK[]\r\n");
            assertThat(direct.tagged("l")).startsWith("l OK");
            assertThat(direct.tagged("s")).startsWith("s OK");
            return AdminApiDovecotIT.fetchedLiteral(direct, "f");
        }
    }
}
