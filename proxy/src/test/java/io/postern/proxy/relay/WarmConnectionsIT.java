package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.server.PosternServer;
import io.postern.proxy.server.Transport;
import io.postern.proxy.testing.DovecotFixture;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.function.IntPredicate;
import org.junit.jupiter.api.Test;

/**
 * backends[].warm_connections against Dovecot: a login fills the set, later logins take greeted
 * connections (and still send ID, log in and relay byte for byte), unused ones expire.
 */
class WarmConnectionsIT {

    @Test
    void loginsTakeGreetedConnectionsAndUnusedOnesExpire() throws Exception {
        DovecotFixture.assumeAvailable();
        try (DovecotFixture dovecot = DovecotFixture.builder().name("warm").user("wendy", "warm-pw").start();
                PosternServer postern = PosternServer.start(PosternConfig.parse("""
                        listeners: [{name: imap, bind: "127.0.0.1:0"}]
                        backends:
                          - {name: dovecot, address: "%s:%d", forward_client_address: true,
                             warm_connections: 2, warm_idle_timeout: 3s}
                        routing: {strategy: static}
                        """.formatted(dovecot.host(), dovecot.port())), Transport.best(), 1)) {
            assertThat(postern.warmConnectionsReady()).as("none before the first login").isZero();
            String message = "Subject: warm\r\n\r\nmade ahead\r\n";
            try (RawImapClient c = new RawImapClient(postern.address("imap"))) {
                c.line();
                c.send("a LOGIN wendy warm-pw\r\n");
                assertThat(c.tagged("a")).startsWith("a OK");
                c.send("b APPEND INBOX {" + message.length() + "+}\r\n" + message + "\r\n");
                assertThat(c.tagged("b")).startsWith("b OK");
            }
            awaitReady(postern, n -> n == 2, "the first login fills the set");
            for (int i = 0; i < 3; i++) {
                try (RawImapClient c = new RawImapClient(postern.address("imap"))) {
                    c.line();
                    c.send("a LOGIN wendy warm-pw\r\n");
                    assertThat(c.tagged("a")).startsWith("a OK [CAPABILITY");
                    c.send("b SELECT INBOX\r\n");
                    assertThat(c.tagged("b")).startsWith("b OK");
                    c.send("c FETCH 1 BODY.PEEK[]\r\n");
                    List<String> fetch = c.until("c");
                    assertThat(fetch.get(fetch.size() - 1)).startsWith("c OK");
                    assertThat(fetch.get(0).getBytes(StandardCharsets.ISO_8859_1)).isEqualTo(
                            ("* 1 FETCH (BODY[] {" + message.length() + "}\r\n" + message + ")\r\n")
                                    .getBytes(StandardCharsets.ISO_8859_1));
                    c.send("d LOGOUT\r\n");
                    assertThat(c.tagged("d")).startsWith("d OK");
                }
                awaitReady(postern, n -> n == 2, "filled up again after login " + (i + 2));
            }
            // every login told Dovecot who it was, over a warm connection too
            long withId = 0;
            for (int i = 0; i < 50 && withId < 4; i++) {
                Thread.sleep(100); // Dovecot writes its log asynchronously
                withId = Files.readAllLines(dovecot.logPath()).stream()
                        .filter(l -> l.contains("Login: user=<wendy>") && l.contains("session=<postern-")).count();
            }
            assertThat(withId).isEqualTo(4);
            awaitReady(postern, n -> n == 0, "expired after warm_idle_timeout and not replaced");
            try (RawImapClient c = new RawImapClient(postern.address("imap"))) {
                c.line();
                c.send("a LOGIN wendy warm-pw\r\n");
                assertThat(c.tagged("a")).as("a login after they expired connects as usual").startsWith("a OK");
            }
        }
    }

    private static void awaitReady(PosternServer postern, IntPredicate expected, String what) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!expected.test(postern.warmConnectionsReady()) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(postern.warmConnectionsReady()).as(what).matches(expected::test);
    }
}
