package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;
import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.server.PosternServer;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Health checks and failover: a shard that dies is marked down and its users reach the fallback
 * (or are refused at once, when failover is off); when it comes back it is used again.
 */
class FailoverIT {

    private GreenMail primary;
    private GreenMail fallback;
    private int primaryPort;

    private static GreenMail start(int port) {
        GreenMail g = new GreenMail(new ServerSetup(port, "127.0.0.1", ServerSetup.PROTOCOL_IMAP));
        g.start();
        g.setUser("dana@postern.test", "dana", "pw");
        return g;
    }

    @BeforeEach
    void start() throws Exception {
        primary = start(0);
        primaryPort = primary.getImap().getPort();
        fallback = start(0);
        // a folder only the fallback has, to tell the two apart through Postern
        fallback.getManagers().getImapHostManager().createMailbox(fallback.getManagers().getUserManager().getUser("dana"),
                "on-fallback");
    }

    @AfterEach
    void stop() {
        primary.stop();
        fallback.stop();
    }

    private PosternServer postern(boolean failover) throws Exception {
        return PosternServer.start(PosternConfig.parse("""
                listeners: [{name: imap, bind: "127.0.0.1:0"}]
                backends:
                  - name: primary
                    address: "127.0.0.1:%d"
                    fallback: standby
                    health_check: {interval: 100ms, timeout: 500ms, fall: 2, rise: 2}
                  - name: standby
                    address: "127.0.0.1:%d"
                    health_check: {interval: 100ms, timeout: 500ms, fall: 2, rise: 2}
                routing: {strategy: static, default: primary, failover: %s}
                """.formatted(primaryPort, fallback.getImap().getPort(), failover)));
    }

    /** Logs in and says which backend answered: the fallback has the marker folder. */
    private String whereDoesDanaLand(PosternServer postern) throws Exception {
        try (RawImapClient c = new RawImapClient(postern.address("imap"))) {
            c.line();
            c.send("a LOGIN dana pw\r\n");
            String reply = c.tagged("a");
            if (!reply.startsWith("a OK")) {
                return reply;
            }
            c.send("b LIST \"\" on-fallback\r\n");
            return c.until("b").size() > 1 ? "standby" : "primary";
        }
    }

    private static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(condition.getAsBoolean()).as("condition within 10 s").isTrue();
    }

    @Test
    void aDeadShardsUsersReachItsFallbackUntilItComesBack() throws Exception {
        try (PosternServer postern = postern(true)) {
            assertThat(whereDoesDanaLand(postern)).isEqualTo("primary");
            primary.stop();
            await(() -> !postern.backendUp("primary"));
            assertThat(whereDoesDanaLand(postern)).isEqualTo("standby");
            primary = start(primaryPort);
            await(() -> postern.backendUp("primary"));
            assertThat(whereDoesDanaLand(postern)).isEqualTo("primary");
        }
    }

    @Test
    void withoutFailoverTheUsersOfADeadShardAreRefusedAtOnce() throws Exception {
        try (PosternServer postern = postern(false)) {
            primary.stop();
            await(() -> !postern.backendUp("primary"));
            assertThat(whereDoesDanaLand(postern)).isEqualTo("a NO [UNAVAILABLE] Backend unavailable, try again later.");
            assertThat(postern.backendSessions("standby")).as("the fallback is not used").isZero();
        }
    }

    @Test
    void sessionSlotsAreCountedAndReturned() throws Exception {
        try (PosternServer postern = postern(true); RawImapClient c = new RawImapClient(postern.address("imap"))) {
            c.line();
            c.send("a LOGIN dana pw\r\n");
            assertThat(c.tagged("a")).startsWith("a OK");
            assertThat(postern.backendSessions("primary")).isEqualTo(1);
            c.send("b LOGOUT\r\n");
            c.tagged("b");
            await(() -> postern.backendSessions("primary") == 0);
        }
    }
}
