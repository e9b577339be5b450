package io.postern.proxy.relay;

import static io.postern.proxy.relay.PolicyDovecotIT.exchange;
import static io.postern.proxy.relay.PolicyDovecotIT.login;
import static org.assertj.core.api.Assertions.assertThat;

import io.postern.proxy.testing.DovecotFixture;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A third-party policy from the test class path (synchronous and asynchronous), policy order,
 * and a reload that changes new sessions only, against Dovecot through Postern.
 */
class PolicyReloadDovecotIT {

    private static DovecotFixture dovecot;

    @BeforeAll
    static void start() throws Exception {
        DovecotFixture.assumeAvailable();
        dovecot = DovecotFixture.builder().name("policy-reload").start();
        for (String user : List.of("alice", "bob")) {
            dovecot.addUser(user, "secret");
            dovecot.seedMessage(user, "INBOX", PolicyDovecotIT.message("Hello " + user));
        }
    }

    @AfterAll
    static void stop() throws Exception {
        if (dovecot != null) {
            dovecot.close();
        }
    }

    @Test
    void aReloadChangesNewSessionsOnly() throws Exception {
        String strict = """
                policies:
                  - name: no-delete
                    match: { users: [alice] }
                    no_delete: { message: "Not here." }
                """;
        try (PosternHarness postern = PosternHarness.inFrontOf(dovecot.host(), dovecot.port(), strict);
                RawImapClient before = login(postern.address(), "alice")) {
            assertThat(exchange(before, "c1", "CREATE One")).last().asString().startsWith("c1 OK");
            assertThat(exchange(before, "d1", "DELETE One")).containsExactly("d1 NO [NOPERM] Not here.");
            try (RawImapClient bob = login(postern.address(), "bob")) {
                assertThat(exchange(bob, "c1", "CREATE BobOne")).last().asString().startsWith("c1 OK");
                assertThat(exchange(bob, "d1", "DELETE BobOne")).last().asString().startsWith("d1 OK");
            }

            postern.server().reloadPolicies(PosternHarness.config(dovecot.host(), dovecot.port(), "policies: []"));

            assertThat(exchange(before, "d2", "DELETE One")).as("a session keeps the chain of its login")
                    .containsExactly("d2 NO [NOPERM] Not here.");
            try (RawImapClient after = login(postern.address(), "alice")) {
                assertThat(exchange(after, "d3", "DELETE One")).last().asString().startsWith("d3 OK");
            }
        }
    }

    @Test
    void aReloadOfTheFileAsSighupDoesItChangesNewSessionsOnly(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path file = dir.resolve("postern.yml");
        String base = "listeners: [{name: imap, bind: \"127.0.0.1:0\", tls: none}]\n"
                + "backends: [{name: dovecot, address: \"" + dovecot.host() + ":" + dovecot.port() + "\", tls: none}]\n"
                + "routing: {strategy: static, default: dovecot}\n";
        java.nio.file.Files.writeString(file, base + "policies: [{name: ro, match: {users: [bob]}, acl: {read_only: true}}]\n");
        try (io.postern.proxy.server.PosternServer server = io.postern.proxy.server.PosternServer.start(file);
                RawImapClient before = login(server.address("imap"), "bob")) {
            assertThat(exchange(before, "a1", "CREATE Two"))
                    .containsExactly("a1 NO [NOPERM] Read-only access: CREATE is not permitted.");
            java.nio.file.Files.writeString(file, base + "policies: []\n");
            server.reload(); // what SIGHUP and the admin API's reload call
            assertThat(exchange(before, "a2", "CREATE Two")).last().asString().startsWith("a2 NO [NOPERM]");
            try (RawImapClient after = login(server.address("imap"), "bob")) {
                assertThat(exchange(after, "a3", "CREATE Two")).last().asString().startsWith("a3 OK");
                assertThat(exchange(after, "a4", "DELETE Two")).last().asString().startsWith("a4 OK");
            }
            java.nio.file.Files.writeString(file, base + "policies: [{acl: {read_only: perhaps}}]\n");
            org.assertj.core.api.Assertions.assertThatThrownBy(server::reload)
                    .hasMessageContaining("policies[0].acl.read_only");
            try (RawImapClient still = login(server.address("imap"), "bob")) {
                assertThat(exchange(still, "a5", "CREATE Three")).as("a refused reload changes nothing")
                        .last().asString().startsWith("a5 OK");
                assertThat(exchange(still, "a6", "DELETE Three")).last().asString().startsWith("a6 OK");
            }
        }
    }

    @Test
    void anAsynchronousThirdPartyVerdictHoldsTheCommandsBehindIt() throws Exception {
        String slow = """
                policies:
                  - name: slow-no-delete
                    no_delete: { decide_after: 300ms }
                  - name: read-only-after
                    order: 5
                    acl: { read_only: true }
                """;
        try (PosternHarness postern = PosternHarness.inFrontOf(dovecot.host(), dovecot.port(), slow);
                RawImapClient c = login(postern.address(), "bob")) {
            // pipelined: each waits for the asynchronous verdict of the one before, order is kept
            c.send("p1 SELECT INBOX\r\np2 DELETE INBOX\r\np3 FETCH 1 (FLAGS)\r\np4 CREATE X\r\n");
            List<String> p1 = c.until("p1");
            assertThat(p1.get(p1.size() - 1)).startsWith("p1 OK [READ-ONLY]"); // renamed to EXAMINE by the second policy
            assertThat(c.tagged("p2")).startsWith("p2 NO [NOPERM] Mailboxes cannot be deleted here.");
            assertThat(c.tagged("p3")).startsWith("p3 OK");
            // read-only runs after no-delete (order 5 > 0): its refusal, not no_delete's
            assertThat(c.tagged("p4")).startsWith("p4 NO [NOPERM] Read-only");
        }
    }
}
