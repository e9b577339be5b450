package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.server.PosternServer;
import io.postern.proxy.session.ClientSession;
import io.postern.proxy.testing.DovecotFixture;
import io.postern.tls.testing.TestCertificates;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.slf4j.LoggerFactory;

/**
 * Postern reaching Dovecot over verified TLS (STARTTLS and implicit), and refusing every backend
 * whose certificate does not verify: the client gets NO [UNAVAILABLE], never a plain-text fallback.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BackendTlsIT {

    private static final String PASSWORD = "backend-tls-pw";

    @TempDir
    static Path dir;

    private DovecotFixture good;
    private DovecotFixture expired;
    private PosternServer postern;
    private final ListAppender<ILoggingEvent> log = new ListAppender<>();

    @BeforeAll
    void start() throws Exception {
        DovecotFixture.assumeAvailable();
        TestCertificates ca = TestCertificates.newCa(Files.createDirectories(dir.resolve("ca")));
        TestCertificates otherCa = TestCertificates.newCa(Files.createDirectories(dir.resolve("other-ca")), "Other CA",
                TestCertificates.KeyType.RSA);
        TestCertificates.Issued cert = ca.server("imap.backend.test").keyType(TestCertificates.KeyType.RSA).issue();
        TestCertificates.Issued old = ca.server("imap.backend.test").expired().issue();
        List<String> users = List.of("starttls", "implicit", "wrongca", "wrongname", "expired", "pinned", "badpin",
                "insecure");
        DovecotFixture.Builder goodBuilder = DovecotFixture.builder().name("tls-good").tls(cert.cert(), cert.key());
        DovecotFixture.Builder expiredBuilder = DovecotFixture.builder().name("tls-expired").tls(old.cert(), old.key());
        for (String u : users) {
            goodBuilder.user(u, PASSWORD);
            expiredBuilder.user(u, PASSWORD);
        }
        good = goodBuilder.start();
        expired = expiredBuilder.start();
        good.seedMessage("starttls", "INBOX", "Subject: via STARTTLS\r\n\r\nx\r\n".getBytes(StandardCharsets.US_ASCII));
        String pin = HexFormat.ofDelimiter(":").formatHex(
                java.security.MessageDigest.getInstance("SHA-256").digest(cert.certificate().getEncoded()));
        String host = good.host();
        postern = PosternServer.start(PosternConfig.parse("""
                listeners:
                  - {name: imap, bind: "127.0.0.1:0"}
                backends:
                  - {name: starttls, address: "%1$s:%2$d", tls: starttls, ca: "%4$s", server_name: imap.backend.test}
                  - {name: implicit, address: "%1$s:%3$d", tls: implicit, ca: "%4$s", server_name: imap.backend.test}
                  - {name: wrongca, address: "%1$s:%3$d", tls: implicit, ca: "%5$s", server_name: imap.backend.test}
                  - {name: wrongname, address: "%1$s:%2$d", tls: starttls, ca: "%4$s", server_name: other.backend.test}
                  - {name: expired, address: "%1$s:%6$d", tls: implicit, ca: "%4$s", server_name: imap.backend.test}
                  - {name: pinned, address: "%1$s:%3$d", tls: implicit, server_name: imap.backend.test, pin_sha256: ["%7$s"]}
                  - {name: badpin, address: "%1$s:%3$d", tls: implicit, server_name: imap.backend.test, pin_sha256: ["%8$s"]}
                  - {name: insecure, address: "%1$s:%6$d", tls: implicit, insecure: true}
                routing:
                  strategy: static
                  static: {starttls: starttls, implicit: implicit, wrongca: wrongca, wrongname: wrongname,
                           expired: expired, pinned: pinned, badpin: badpin, insecure: insecure}
                  default: starttls
                """.formatted(host, good.port(), good.tlsPort(), ca.caFile(), otherCa.caFile(), expired.tlsPort(),
                pin, "00".repeat(32))));
        log.start();
        ((Logger) LoggerFactory.getLogger(ClientSession.class)).addAppender(log);
    }

    @AfterAll
    void stop() throws Exception {
        ((Logger) LoggerFactory.getLogger(ClientSession.class)).detachAppender(log);
        if (postern != null) {
            postern.close();
        }
        for (DovecotFixture d : new DovecotFixture[] {good, expired}) {
            if (d != null) {
                d.close();
            }
        }
    }

    private String login(String user) throws Exception {
        try (RawImapClient c = new RawImapClient(postern.address("imap"))) {
            c.line();
            c.send("a LOGIN " + user + " " + PASSWORD + "\r\n");
            String reply = c.tagged("a");
            if (reply.startsWith("a OK")) {
                c.send("b ID NIL\r\n");
                String id = String.join("", c.until("b"));
                assertThat(id).contains("\"x-backend\" \"tls-");
            }
            return reply;
        }
    }

    @Test
    void startTlsToTheBackendIsVerifiedAndRelays() throws Exception {
        assertThat(login("starttls")).startsWith("a OK [CAPABILITY ");
        try (RawImapClient c = new RawImapClient(postern.address("imap"))) {
            c.line();
            c.send("a LOGIN starttls " + PASSWORD + "\r\nb SELECT INBOX\r\nc FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n");
            assertThat(c.tagged("a")).startsWith("a OK");
            assertThat(c.tagged("b")).startsWith("b OK");
            assertThat(String.join("", c.until("c"))).contains("Subject: via STARTTLS");
        }
    }

    @Test
    void implicitTlsToTheBackendIsVerifiedAndRelays() throws Exception {
        assertThat(login("implicit")).startsWith("a OK [CAPABILITY ");
    }

    @Test
    void aPinnedCertificateNeedsNoCa() throws Exception {
        assertThat(login("pinned")).startsWith("a OK [CAPABILITY ");
    }

    @Test
    void insecureAcceptsEvenAnExpiredCertificate() throws Exception {
        assertThat(login("insecure")).startsWith("a OK [CAPABILITY ");
    }

    @ParameterizedTest
    @CsvSource({
        "wrongca, certification path",
        "wrongname, other.backend.test",
        "expired, NotAfter",
        "badpin, matches none of the pinned fingerprints"
    })
    void aCertificateThatDoesNotVerifyMakesTheBackendUnavailable(String user, String reason) throws Exception {
        log.list.clear();
        assertThat(login(user)).isEqualTo("a NO [UNAVAILABLE] Backend unavailable, try again later.");
        assertThat(log.list)
                .anySatisfy(e -> {
                    assertThat(e.getLevel().toString()).isEqualTo("WARN");
                    assertThat(e.getFormattedMessage()).contains("backend " + user + " unavailable").contains(reason);
                });
    }
}
