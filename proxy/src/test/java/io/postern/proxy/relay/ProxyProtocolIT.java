package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.server.PosternServer;
import io.postern.proxy.testing.DovecotFixture;
import java.nio.file.Files;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The PROXY protocol both ways: a load balancer's header in front of Postern names the real
 * client, and Postern passes it on to Dovecot's haproxy listener, whose log then shows it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ProxyProtocolIT {

    private DovecotFixture dovecot;
    private PosternServer postern;

    @BeforeAll
    void start() throws Exception {
        DovecotFixture.assumeAvailable();
        dovecot = DovecotFixture.builder().name("haproxy").user("pat", "pp-pw").user("quinn", "pp-pw").user("rune", "pp-pw").start();
        postern = PosternServer.start(PosternConfig.parse("""
                listeners:
                  - {name: behind-lb, bind: "127.0.0.1:0", proxy_protocol: true}
                  - {name: untrusting, bind: "127.0.0.1:0", proxy_protocol: true, proxy_trusted: [10.0.0.0/8]}
                backends:
                  - {name: v2, address: "%1$s:%2$d", proxy_protocol: v2}
                  - {name: v1, address: "%1$s:%2$d", proxy_protocol: v1}
                routing: {strategy: static, static: {quinn: v1}, default: v2}
                """.formatted(dovecot.host(), dovecot.proxyPort())));
    }

    @AfterAll
    void stop() throws Exception {
        if (postern != null) {
            postern.close();
        }
        if (dovecot != null) {
            dovecot.close();
        }
    }

    private String dovecotLoginLine(String user) throws Exception {
        return dovecotLog("Login: user=<" + user + ">");
    }

    /** The first line of Dovecot's log with {@code text}, waiting up to 5 s for it; empty if none. */
    private String dovecotLog(String text) throws Exception {
        String line = "";
        for (int i = 0; i < 50 && line.isEmpty(); i++) {
            Thread.sleep(100); // Dovecot writes its log asynchronously
            line = Files.readAllLines(dovecot.logPath()).stream()
                    .filter(l -> l.contains(text)).findFirst().orElse("");
        }
        return line;
    }

    @ParameterizedTest
    @ValueSource(strings = {"pat", "quinn"}) // pat's backend takes v2 headers, quinn's v1
    void theClientNamedByTheLoadBalancerIsTheOneDovecotSees(String user) throws Exception {
        try (RawImapClient c = new RawImapClient(postern.address("behind-lb"))) {
            c.send("PROXY TCP4 192.0.2.7 127.0.0.1 40000 143\r\n");
            assertThat(c.line()).startsWith("* OK ");
            c.send("a LOGIN " + user + " pp-pw\r\n");
            assertThat(c.tagged("a")).startsWith("a OK");
        }
        assertThat(dovecotLoginLine(user)).contains("rip=192.0.2.7");
    }

    @Test
    void aHeaderFromAnUntrustedAddressClosesTheConnection() throws Exception {
        try (RawImapClient c = new RawImapClient(postern.address("untrusting"))) {
            c.send("PROXY TCP4 192.0.2.8 127.0.0.1 40000 143\r\n");
            String first = c.line(); // the greeting went out at connect, before the header arrived
            assertThat(first).startsWith("* OK ");
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void commandsBehindAnUntrustedHeaderGoNowhere() throws Exception {
        try (RawImapClient c = new RawImapClient(postern.address("untrusting"))) {
            // one write: the header and a login, which must not reach the session or the backend
            c.send("PROXY TCP4 192.0.2.9 127.0.0.1 40000 143\r\na LOGIN rune pp-pw\r\n");
            assertThat(c.line()).startsWith("* OK ");
            assertThat(c.closedByServer()).isTrue();
        }
        assertThat(dovecotLog("user=<rune>")).isEmpty();
    }

    @Test
    void aConnectionWithoutAHeaderIsClosed() throws Exception {
        try (RawImapClient c = new RawImapClient(postern.address("behind-lb"))) {
            assertThat(c.line()).startsWith("* OK ");
            c.send("a LOGIN pat pp-pw\r\n");
            assertThat(c.closedByServer()).isTrue();
        }
    }
}
