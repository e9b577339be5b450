package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.server.PosternServer;
import io.postern.proxy.testing.DovecotFixture;
import java.nio.file.Files;
import org.junit.jupiter.api.Test;

/** forward_client_address: Dovecot learns the real client's address and Postern's session id through ID. */
class ClientAddressForwardingIT {

    @Test
    void dovecotTakesPosternsSessionIdAndTheClientAddress() throws Exception {
        DovecotFixture.assumeAvailable();
        try (DovecotFixture dovecot = DovecotFixture.builder().name("fwd").user("fay", "fwd-pw").start();
                PosternServer postern = PosternServer.start(PosternConfig.parse("""
                        listeners: [{name: imap, bind: "127.0.0.1:0"}]
                        backends:
                          - {name: with-id, address: "%s:%d", forward_client_address: true}
                        routing: {strategy: static}
                        """.formatted(dovecot.host(), dovecot.port())));
                RawImapClient c = new RawImapClient(postern.address("imap"))) {
            c.line();
            c.send("a LOGIN fay fwd-pw\r\n");
            assertThat(c.tagged("a")).startsWith("a OK");
            String loginLine = "";
            for (int i = 0; i < 50 && !loginLine.contains("Login: user=<fay>"); i++) {
                Thread.sleep(100); // Dovecot writes its log asynchronously
                loginLine = Files.readAllLines(dovecot.logPath()).stream()
                        .filter(l -> l.contains("Login: user=<fay>")).findFirst().orElse("");
            }
            // the session id only appears when Dovecot took the ID from a trusted proxy
            assertThat(loginLine).contains("session=<postern-").contains("rip=127.0.0.1");
        }
    }
}
