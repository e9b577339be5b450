package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.server.PosternServer;
import io.postern.proxy.testing.DovecotFixture;
import io.postern.tls.testing.TestCertificates;
import jakarta.mail.Folder;
import jakarta.mail.Session;
import jakarta.mail.Store;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS in front of a plain-text Dovecot: implicit TLS (993 style) and STARTTLS with real clients,
 * the STARTTLS injection, require_tls, SNI, certificate reload and client certificates.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClientTlsIT {

    private static final String PASSWORD = "tls-pw";

    @TempDir
    static Path dir;

    private DovecotFixture dovecot;
    private PosternServer postern;
    private TestCertificates ca;
    private TestCertificates clientCa;
    private TestCertificates.Issued mailCert;
    private Path liveCert;
    private Path liveKey;

    @BeforeAll
    void start() throws Exception {
        DovecotFixture.assumeAvailable();
        dovecot = DovecotFixture.builder().name("plain").user("tina", PASSWORD).start();
        dovecot.seedMessage("tina", "INBOX", "Subject: over TLS\r\n\r\nhello\r\n".getBytes(StandardCharsets.UTF_8));
        ca = TestCertificates.newCa(Files.createDirectories(dir.resolve("server-ca")));
        clientCa = TestCertificates.newCa(Files.createDirectories(dir.resolve("client-ca")), "Client CA", TestCertificates.KeyType.EC);
        mailCert = ca.server("mail.test", "localhost", "127.0.0.1").issue();
        TestCertificates.Issued other = ca.server("other.test").keyType(TestCertificates.KeyType.RSA).issue();
        // the default certificate lives in files the reload test replaces
        liveCert = dir.resolve("live.crt");
        liveKey = dir.resolve("live.key");
        Files.copy(mailCert.cert(), liveCert);
        Files.copy(mailCert.key(), liveKey);
        postern = PosternServer.start(PosternConfig.parse("""
                listeners:
                  - {name: imaps, bind: "127.0.0.1:0", tls: implicit}
                  - {name: starttls, bind: "127.0.0.1:0", tls: starttls}
                  - {name: strict, bind: "127.0.0.1:0", tls: starttls, require_tls: true}
                  - {name: mtls, bind: "127.0.0.1:0", tls: implicit, client_auth: required, client_ca: "%s"}
                tls:
                  certificates:
                    - {cert: "%s", key: "%s"}
                    - {cert: "%s", key: "%s"}
                  reload_interval: 100ms
                backends:
                  - {name: dovecot, address: "%s:%d"}
                routing: {strategy: static, default: dovecot}
                """.formatted(clientCa.caFile(), liveCert, liveKey, other.cert(), other.key(), dovecot.host(), dovecot.port())));
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

    private SSLContext trusting(X509Certificate root, TestCertificates.Issued clientCert) {
        assertThat(root).isEqualTo(ca.caCertificate());
        return ca.jdkClientContext(clientCert);
    }

    private Store angus(String protocol, InetSocketAddress address, boolean startTls) throws Exception {
        Properties props = new Properties();
        props.put("mail." + protocol + ".host", "localhost");
        props.put("mail." + protocol + ".port", String.valueOf(address.getPort()));
        props.put("mail." + protocol + ".ssl.socketFactory", trusting(ca.caCertificate(), null).getSocketFactory());
        props.put("mail." + protocol + ".ssl.checkserveridentity", "true");
        props.put("mail." + protocol + ".timeout", "10000");
        if (startTls) {
            props.put("mail." + protocol + ".starttls.enable", "true");
            props.put("mail." + protocol + ".starttls.required", "true");
        }
        Store store = Session.getInstance(props).getStore(protocol);
        store.connect("tina", PASSWORD);
        return store;
    }

    private void readInbox(Store store) throws Exception {
        try {
            Folder inbox = store.getFolder("INBOX");
            inbox.open(Folder.READ_ONLY);
            assertThat(inbox.getMessageCount()).isEqualTo(1);
            assertThat(inbox.getMessage(1).getSubject()).isEqualTo("over TLS");
            inbox.close(false);
        } finally {
            store.close();
        }
    }

    @Test
    void angusOverImaps() throws Exception {
        readInbox(angus("imaps", postern.address("imaps"), false));
    }

    @Test
    void angusWithStartTls() throws Exception {
        readInbox(angus("imap", postern.address("starttls"), true));
        readInbox(angus("imap", postern.address("strict"), true));
    }

    @Test
    void commandsPipelinedBehindStartTlsAreDiscarded() throws Exception {
        try (RawImapClient plain = new RawImapClient(postern.address("starttls"))) {
            assertThat(plain.line()).contains("STARTTLS");
            // the injection: a command in the same write as STARTTLS, meant to run after the handshake
            plain.send("a STARTTLS\r\nb LOGIN tina " + PASSWORD + "\r\n");
            assertThat(plain.line()).isEqualTo("a OK Begin TLS negotiation now.");
            try (TlsLines tls = TlsLines.upgrade(plain.socket(), trusting(ca.caCertificate(), null), "localhost")) {
                tls.send("c CAPABILITY\r\n");
                List<String> lines = tls.until("c ");
                assertThat(lines).noneMatch(l -> l.startsWith("b "));
                assertThat(lines.get(0)).startsWith("* CAPABILITY ").contains("AUTH=PLAIN").doesNotContain("STARTTLS");
                tls.send("d NOOP\r\n");
                assertThat(tls.until("d ")).containsExactly("d OK NOOP completed.");
            }
        }
    }

    @Test
    void requireTlsRefusesLoginBeforeStartTls() throws Exception {
        try (RawImapClient plain = new RawImapClient(postern.address("strict"))) {
            String greeting = plain.line();
            assertThat(greeting).contains("STARTTLS").contains("LOGINDISABLED").doesNotContain("AUTH=");
            plain.send("a LOGIN tina " + PASSWORD + "\r\n");
            assertThat(plain.line()).isEqualTo("a NO [PRIVACYREQUIRED] Use STARTTLS first.");
            plain.send("b AUTHENTICATE PLAIN\r\n");
            assertThat(plain.line()).isEqualTo("b NO [PRIVACYREQUIRED] Use STARTTLS first.");
            plain.send("c STARTTLS\r\n");
            assertThat(plain.line()).startsWith("c OK");
            try (TlsLines tls = TlsLines.upgrade(plain.socket(), trusting(ca.caCertificate(), null), "localhost")) {
                tls.send("d CAPABILITY\r\n");
                assertThat(tls.until("d ").get(0)).contains("AUTH=PLAIN").doesNotContain("LOGINDISABLED");
                tls.send("e LOGIN tina " + PASSWORD + "\r\n");
                assertThat(tls.until("e ")).last().asString().startsWith("e OK [CAPABILITY ");
            }
        }
    }

    @Test
    void sniChoosesTheCertificateAndUnknownNamesGetTheDefault() throws Exception {
        assertThat(subjectFor("other.test")).contains("CN=other.test");
        assertThat(subjectFor("mail.test")).contains("CN=mail.test");
        assertThat(subjectFor("unknown.test")).contains("CN=mail.test");
    }

    @Test
    void reloadSwapsTheCertificateWhileAnOpenSessionStaysUp() throws Exception {
        SSLContext client = trusting(ca.caCertificate(), null);
        try (TlsLines before = TlsLines.connect(postern.address("imaps"), client, "mail.test")) {
            assertThat(before.line()).startsWith("* OK ");
            String oldSerial = before.peer().getSerialNumber().toString();
            TestCertificates.Issued renewed = ca.server("mail.test", "localhost").issue();
            Path tmpCert = dir.resolve("new.crt");
            Path tmpKey = dir.resolve("new.key");
            Files.copy(renewed.cert(), tmpCert);
            Files.copy(renewed.key(), tmpKey);
            Files.move(tmpKey, liveKey, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            Files.move(tmpCert, liveCert, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            String newSerial = renewed.certificate().getSerialNumber().toString();
            long deadline = System.nanoTime() + 10_000_000_000L;
            String seen = oldSerial;
            while (!seen.equals(newSerial) && System.nanoTime() < deadline) {
                Thread.sleep(100);
                try (TlsLines probe = TlsLines.connect(postern.address("imaps"), client, "mail.test")) {
                    seen = probe.peer().getSerialNumber().toString();
                }
            }
            assertThat(seen).isEqualTo(newSerial);
            before.send("a LOGIN tina " + PASSWORD + "\r\n");
            assertThat(before.until("a ")).last().asString().startsWith("a OK");
            assertThat(before.peer().getSerialNumber().toString()).isEqualTo(oldSerial);
        }
    }

    @Test
    void anExplicitReloadSwapsTheCertificateAndABrokenFileKeepsTheOldOne() throws Exception {
        Path cert = dir.resolve("explicit.crt");
        Path key = dir.resolve("explicit.key");
        TestCertificates.Issued first = ca.server("mail.test").issue();
        Files.copy(first.cert(), cert);
        Files.copy(first.key(), key);
        try (PosternServer server = PosternServer.start(PosternConfig.parse("""
                listeners: [{name: imaps, bind: "127.0.0.1:0", tls: implicit}]
                tls:
                  certificates: [{cert: "%s", key: "%s"}]
                  reload_interval: 0s
                backends: [{name: dovecot, address: "%s:%d"}]
                routing: {strategy: static}
                """.formatted(cert, key, dovecot.host(), dovecot.port())))) {
            SSLContext client = trusting(ca.caCertificate(), null);
            TestCertificates.Issued second = ca.server("mail.test").issue();
            Files.copy(second.cert(), cert, StandardCopyOption.REPLACE_EXISTING);
            Files.copy(second.key(), key, StandardCopyOption.REPLACE_EXISTING);
            try (TlsLines tls = TlsLines.connect(server.address("imaps"), client, "mail.test")) {
                assertThat(tls.peer().getSerialNumber()).as("no polling: still the first").isEqualTo(first.certificate().getSerialNumber());
            }
            server.reloadCertificates(); // what SIGHUP does
            try (TlsLines tls = TlsLines.connect(server.address("imaps"), client, "mail.test")) {
                assertThat(tls.peer().getSerialNumber()).isEqualTo(second.certificate().getSerialNumber());
            }
            Files.writeString(key, "-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n");
            server.reloadCertificates();
            try (TlsLines tls = TlsLines.connect(server.address("imaps"), client, "mail.test")) {
                assertThat(tls.peer().getSerialNumber()).isEqualTo(second.certificate().getSerialNumber());
            }
        }
    }

    @Test
    void aConfigurationReloadPutsNewCertificatesInFrontOfNewSessionsAndABadOneChangesNothing() throws Exception {
        TestCertificates.Issued first = ca.server("mail.test").issue();
        TestCertificates.Issued second = ca.server("mail.test").issue();
        Path file = dir.resolve("reload.yml");
        String yaml = """
                listeners: [{name: imaps, bind: "127.0.0.1:0", tls: implicit}]
                tls:
                  certificates: [{cert: "%s", key: "%s"}]
                  reload_interval: 0s
                backends: [{name: dovecot, address: "%s:%d"}]
                routing: {strategy: static}
                """;
        Files.writeString(file, yaml.formatted(first.cert(), first.key(), dovecot.host(), dovecot.port()));
        try (PosternServer server = PosternServer.start(file)) {
            SSLContext client = trusting(ca.caCertificate(), null);
            try (TlsLines held = TlsLines.connect(server.address("imaps"), client, "mail.test")) {
                assertThat(held.line()).startsWith("* OK ");
                Files.writeString(file, yaml.formatted(second.cert(), second.key(), dovecot.host(), dovecot.port()));
                assertThat(server.reload()).startsWith("reloaded ");
                try (TlsLines tls = TlsLines.connect(server.address("imaps"), client, "mail.test")) {
                    assertThat(tls.peer().getSerialNumber()).isEqualTo(second.certificate().getSerialNumber());
                }
                Files.writeString(file, yaml.formatted(second.cert(), dir.resolve("missing.key"), dovecot.host(), dovecot.port()));
                assertThatThrownBy(server::reload).isInstanceOf(PosternServer.ReloadRefused.class)
                        .hasMessageContaining("missing.key");
                try (TlsLines tls = TlsLines.connect(server.address("imaps"), client, "mail.test")) {
                    assertThat(tls.peer().getSerialNumber()).isEqualTo(second.certificate().getSerialNumber());
                }
                held.send("a LOGIN tina " + PASSWORD + "\r\n");
                assertThat(held.until("a ")).as("a session from before the reloads goes on").last().asString().startsWith("a OK");
            }
        }
    }

    @Test
    void clientCertificatesAreRequiredWhereConfigured() throws Exception {
        TestCertificates.Issued me = clientCa.server("tina-device").issue();
        try (TlsLines tls = TlsLines.connect(postern.address("mtls"), trusting(ca.caCertificate(), me), "mail.test")) {
            assertThat(tls.line()).startsWith("* OK ");
            tls.send("a LOGIN tina " + PASSWORD + "\r\n");
            assertThat(tls.until("a ")).last().asString().startsWith("a OK");
        }
        TestCertificates.Issued stranger = ca.server("stranger").issue(); // not from the client CA
        assertThatThrownBy(() -> {
            try (TlsLines tls = TlsLines.connect(postern.address("mtls"), trusting(ca.caCertificate(), stranger), "mail.test")) {
                tls.line(); // TLS 1.3 reports the refusal at the first read
            }
        }).isInstanceOfAny(SSLHandshakeException.class, javax.net.ssl.SSLException.class, java.net.SocketException.class,
                java.io.IOException.class);
    }

    private String subjectFor(String serverName) throws Exception {
        try (TlsLines tls = TlsLines.connect(postern.address("imaps"), trusting(ca.caCertificate(), null), serverName)) {
            return tls.peer().getSubjectX500Principal().getName();
        }
    }

    /** Lines over a TLS socket, for the raw dialogues above. */
    static final class TlsLines implements AutoCloseable {
        private final SSLSocket socket;
        private final InputStream in;
        private final OutputStream out;

        private TlsLines(SSLSocket socket) throws Exception {
            this.socket = socket;
            socket.setSoTimeout(10_000);
            socket.startHandshake();
            this.in = socket.getInputStream();
            this.out = socket.getOutputStream();
        }

        static TlsLines connect(InetSocketAddress address, SSLContext context, String serverName) throws Exception {
            Socket plain = new Socket(address.getAddress(), address.getPort());
            return upgrade(plain, context, serverName);
        }

        static TlsLines upgrade(Socket plain, SSLContext context, String serverName) throws Exception {
            SSLSocket s = (SSLSocket) context.getSocketFactory()
                    .createSocket(plain, serverName, plain.getPort(), true);
            SSLParameters p = s.getSSLParameters();
            p.setServerNames(List.of(new SNIHostName(serverName)));
            s.setSSLParameters(p);
            return new TlsLines(s);
        }

        X509Certificate peer() throws Exception {
            return (X509Certificate) socket.getSession().getPeerCertificates()[0];
        }

        void send(String text) throws Exception {
            out.write(text.getBytes(StandardCharsets.UTF_8));
            out.flush();
        }

        String line() throws Exception {
            StringBuilder sb = new StringBuilder();
            int b;
            while ((b = in.read()) >= 0 && b != '\n') {
                if (b != '\r') {
                    sb.append((char) b);
                }
            }
            if (b < 0 && sb.length() == 0) {
                throw new java.io.EOFException("closed by Postern");
            }
            return sb.toString();
        }

        /** Lines up to and including the one that starts with {@code prefix}. */
        List<String> until(String prefix) throws Exception {
            List<String> lines = new ArrayList<>();
            String l;
            do {
                l = line();
                lines.add(l);
            } while (!l.startsWith(prefix));
            return lines;
        }

        @Override
        public void close() throws java.io.IOException {
            socket.close();
        }
    }
}
