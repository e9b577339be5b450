package io.postern.proxy.faults;

import static org.assertj.core.api.Assertions.assertThat;

import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.server.PosternServer;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Hidden mailboxes in responses whose names come as literals (as servers other than Dovecot
 * send names they will not quote): the whole untagged response is held, decided and dropped or
 * passed on byte for byte, and an oversized one is dropped without holding it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PolicyResponseFilterIT {

    private ScriptedBackend backend;
    private PosternServer postern;

    @BeforeAll
    void start() throws Exception {
        backend = ScriptedBackend.start();
        postern = PosternServer.start(PosternConfig.parse("""
                listeners: [{name: imap, bind: "127.0.0.1:0", tls: none}]
                backends: [{name: scripted, address: "127.0.0.1:%d", tls: none, health_check: {enabled: false}}]
                routing: {strategy: static, default: scripted}
                policies:
                  - name: legal-hold
                    acl: { mailboxes: [{pattern: "Legal Hold*", action: hide}] }
                """.formatted(backend.port())));
    }

    @AfterAll
    void stop() throws Exception {
        if (postern != null) {
            postern.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    @Test
    void listResponsesWithLiteralNamesAreHeldAndDecidedWhole() throws Exception {
        String big = "x".repeat(20_000);
        backend.next(c -> {
            c.greet();
            c.login();
            ScriptedBackend.Command list = c.expect("LIST");
            c.send("* LIST () \"/\" {10}\r\nLegal Hold\r\n"
                    + "* LIST (\\HasNoChildren) \"/\" {7}\r\nArchive\r\n"
                    + "* STATUS {15}\r\nLegal Hold/2025 (MESSAGES 1)\r\n"
                    + "* LIST () \"/\" {" + big.length() + "}\r\n" + big + "\r\n"
                    + "* LIST () \"/\" INBOX\r\n"
                    + list.tag() + " OK List completed.\r\n");
            c.expect("LOGOUT");
            c.send("* BYE bye\r\n");
            c.close();
        });
        try (ClientConnection client = new ClientConnection(postern.address("imap"))) {
            assertThat(client.line()).startsWith("* OK");
            client.send("a LOGIN dave " + ScriptedBackend.PASSWORD + "\r\n");
            assertThat(client.line()).startsWith("a OK");
            client.send("b LIST \"\" \"*\"\r\n");
            assertThat(client.line()).isEqualTo("* LIST (\\HasNoChildren) \"/\" {7}");
            assertThat(client.bytes(7)).isEqualTo("Archive");
            assertThat(client.line()).isEmpty();
            assertThat(client.line()).isEqualTo("* LIST () \"/\" INBOX");
            assertThat(client.line()).isEqualTo("b OK List completed.");
            client.send("c LOGOUT\r\n");
            assertThat(client.line()).isEqualTo("* BYE bye");
        }
        backend.awaitQuiet(Duration.ofSeconds(10));
    }
}
