package io.postern.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.handler.ssl.SniHandler;
import io.postern.tls.ServerTlsContexts.CertificateSource;
import io.postern.tls.ServerTlsSettings.ClientAuth;
import io.postern.tls.testing.TestCertificates;
import io.postern.tls.testing.TestCertificates.Issued;
import io.postern.tls.testing.TestCertificates.KeyType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/** Real handshakes: a Netty server with {@code SniHandler(contexts.mapping())}, a JDK client. */
class ServerTlsContextsTest {

    @TempDir
    Path dir;

    private TestCertificates ca;

    @BeforeEach
    void newCa() {
        ca = TestCertificates.newCa(dir);
    }

    @ParameterizedTest
    @EnumSource(names = {"OPENSSL", "JDK"})
    void sniChoosesTheCertificateAndUnknownNamesGetTheDefault(Provider provider) throws Exception {
        Issued a = ca.server("a.test").issue();
        Issued b = ca.server("b.test", "*.b.test").keyType(KeyType.RSA).issue();
        ServerTlsContexts contexts = ServerTlsContexts.create(
                List.of(CertificateSource.of(a.cert(), a.key()), CertificateSource.of(b.cert(), b.key())),
                settings(provider));
        assertThat(contexts.providerName()).isEqualTo(provider == Provider.JDK ? "JDK" : "OpenSSL");

        try (TlsTestServer server = TlsTestServer.start(() -> new SniHandler(contexts.mapping()))) {
            assertThat(subjectFor(server, "a.test")).isEqualTo("CN=a.test");
            assertThat(server.nextHandshake().sniHostname()).isEqualTo("a.test");
            assertThat(subjectFor(server, "b.test")).isEqualTo("CN=b.test");
            assertThat(subjectFor(server, "B.Test")).isEqualTo("CN=b.test");
            assertThat(subjectFor(server, "imap.b.test")).isEqualTo("CN=b.test");
            assertThat(subjectFor(server, "unknown.test")).isEqualTo("CN=a.test");
            assertThat(subjectFor(server, null)).isEqualTo("CN=a.test");
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"OPENSSL", "JDK"})
    void serverNamesReplaceTheCertificatesNames(Provider provider) throws Exception {
        Issued a = ca.server("a.test").issue();
        Issued b = ca.server("b.test").issue();
        ServerTlsContexts contexts = ServerTlsContexts.create(
                List.of(CertificateSource.of(a.cert(), a.key()),
                        new CertificateSource(b.cert(), b.key(), null, List.of("mail.example.org"))),
                settings(provider));

        try (TlsTestServer server = TlsTestServer.start(() -> new SniHandler(contexts.mapping()))) {
            assertThat(subjectFor(server, "mail.example.org")).isEqualTo("CN=b.test");
            assertThat(subjectFor(server, "b.test")).isEqualTo("CN=a.test");
        }
    }

    @Test
    void theFirstSourceListingANameWins() throws Exception {
        Issued first = ca.server("first.test", "shared.test").issue();
        Issued second = ca.server("second.test", "SHARED.test").issue();
        ServerTlsContexts contexts = ServerTlsContexts.create(
                List.of(CertificateSource.of(first.cert(), first.key()), CertificateSource.of(second.cert(), second.key())),
                ServerTlsSettings.defaults());

        assertThat(contexts.mapping().map("shared.test")).isSameAs(contexts.defaultContext());
        assertThat(contexts.mapping().map("second.test")).isNotSameAs(contexts.defaultContext());
    }

    @ParameterizedTest
    @EnumSource(names = {"OPENSSL", "JDK"})
    void reloadServesTheNewCertificateAndOpenConnectionsKeepWorking(Provider provider) throws Exception {
        Path cert = dir.resolve("server.crt");
        Path key = dir.resolve("server.key");
        Issued before = ca.server("mail.test").files(cert, key).issue();
        ServerTlsContexts contexts = single(cert, key, settings(provider));

        try (TlsTestServer server = TlsTestServer.start(() -> new SniHandler(contexts.mapping()));
                SSLSocket old = JdkTlsClient.connect(server.port(), "mail.test", ca, null)) {
            assertThat(serial(old)).isEqualTo(before.certificate().getSerialNumber());
            assertThat(JdkTlsClient.echo(old, "before")).isEqualTo("before");
            assertThat(contexts.reloadIfChanged()).isFalse();

            Issued after = ca.server("mail.test").keyType(KeyType.RSA).files(cert, key).issue();
            touch(cert, key);

            assertThat(contexts.reloadIfChanged()).isTrue();
            assertThat(contexts.reloadIfChanged()).isFalse();
            assertThat(contexts.keyPairs().get(0).leaf()).isEqualTo(after.certificate());
            assertThat(JdkTlsClient.echo(old, "still there")).isEqualTo("still there");
            assertThat(serial(old)).isEqualTo(before.certificate().getSerialNumber());
            try (SSLSocket fresh = JdkTlsClient.connect(server.port(), "mail.test", ca, null)) {
                assertThat(serial(fresh)).isEqualTo(after.certificate().getSerialNumber());
                assertThat(JdkTlsClient.echo(fresh, "new")).isEqualTo("new");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"OPENSSL", "JDK"})
    void aFailedReloadKeepsTheOldCertificate(Provider provider) throws Exception {
        Path cert = dir.resolve("server.crt");
        Path key = dir.resolve("server.key");
        Issued good = ca.server("mail.test").files(cert, key).issue();
        ServerTlsContexts contexts = single(cert, key, settings(provider));
        Issued other = ca.server("other.test").issue();

        // A new certificate without its key: the old key no longer matches.
        Files.copy(other.cert(), cert, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        touch(cert);

        assertThatThrownBy(contexts::reloadIfChanged)
                .isInstanceOf(TlsConfigException.class)
                .hasMessage(key + ": the private key does not match the certificate in " + cert);
        assertThat(contexts.reloadIfChanged()).as("reported once per change").isFalse();
        assertThatThrownBy(contexts::reload).hasMessageContaining("does not match");
        assertThat(contexts.keyPairs().get(0).leaf()).isEqualTo(good.certificate());
        try (TlsTestServer server = TlsTestServer.start(() -> new SniHandler(contexts.mapping()));
                SSLSocket client = JdkTlsClient.connect(server.port(), "mail.test", ca, null)) {
            assertThat(serial(client)).isEqualTo(good.certificate().getSerialNumber());
        }

        // The key arrives: the next check loads the pair.
        Files.copy(other.key(), key, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        touch(key);
        assertThat(contexts.reloadIfChanged()).isTrue();
        assertThat(contexts.keyPairs().get(0).leaf()).isEqualTo(other.certificate());
    }

    @Test
    void aMissingFileIsAChangeToo() throws Exception {
        Issued issued = ca.server("mail.test").issue();
        ServerTlsContexts contexts = single(issued, ServerTlsSettings.defaults());
        Path moved = dir.resolve("moved.key");
        Files.move(issued.key(), moved);

        assertThatThrownBy(contexts::reloadIfChanged).hasMessage(issued.key() + ": file not found");

        Files.move(moved, issued.key());
        assertThat(contexts.reloadIfChanged()).isTrue();
    }

    @ParameterizedTest
    @EnumSource(names = {"OPENSSL", "JDK"})
    void requiredClientCertificate(Provider provider) throws Exception {
        Issued serverCert = ca.server("mail.test").issue();
        TestCertificates clientCa = TestCertificates.newCa(dir, "Client CA", KeyType.EC);
        Issued alice = clientCa.server("alice").issue();
        ServerTlsContexts contexts =
                single(serverCert, new ServerTlsSettings(null, null, ClientAuth.REQUIRE, clientCa.caFile(), provider));

        try (TlsTestServer server = TlsTestServer.start(() -> new SniHandler(contexts.mapping()))) {
            try (SSLSocket client = JdkTlsClient.connect(server.port(), "mail.test", ca, alice)) {
                assertThat(JdkTlsClient.echo(client, "hello")).isEqualTo("hello");
                X509Certificate peer = ServerTlsContexts.peerCertificate(server.nextHandshake().session());
                assertThat(peer).isEqualTo(alice.certificate());
            }
            // TLS 1.3: the client finishes its side first and learns of the refusal on its first read.
            assertThatThrownBy(() -> {
                try (SSLSocket anonymous = JdkTlsClient.connect(server.port(), "mail.test", ca, null)) {
                    JdkTlsClient.echo(anonymous, "hello");
                }
            }).isInstanceOf(IOException.class);
            assertThat(server.nextHandshake().failure()).isNotNull();
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"OPENSSL", "JDK"})
    void noClientCertificateWithoutClientAuth(Provider provider) throws Exception {
        Issued serverCert = ca.server("mail.test").issue();
        ServerTlsContexts contexts = single(serverCert, settings(provider));

        try (TlsTestServer server = TlsTestServer.start(() -> new SniHandler(contexts.mapping()));
                SSLSocket client = JdkTlsClient.connect(server.port(), "mail.test", ca, null)) {
            assertThat(JdkTlsClient.echo(client, "hello")).isEqualTo("hello");
            assertThat(ServerTlsContexts.peerCertificate(server.nextHandshake().session())).isNull();
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"OPENSSL", "JDK"})
    void unknownCipherFailsTheLoad(Provider provider) {
        Issued issued = ca.server("mail.test").issue();
        ServerTlsSettings settings = new ServerTlsSettings(null, List.of("TLS_NO_SUCH_CIPHER"), null, null, provider);

        assertThatThrownBy(() -> single(issued, settings))
                .isInstanceOf(TlsConfigException.class)
                .hasMessageStartingWith("ciphers: TLS_NO_SUCH_CIPHER is not supported by the "
                        + (provider == Provider.JDK ? "JDK" : "OpenSSL") + " provider (supported here: [")
                .hasMessageContaining("TLS_AES_128_GCM_SHA256");
    }

    @ParameterizedTest
    @CsvSource({
        "OPENSSL, TLSv1.2, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "JDK, TLSv1.2, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "JDK, TLSv1.3, TLS_CHACHA20_POLY1305_SHA256",
    })
    void configuredProtocolAndCipherAreUsed(Provider provider, String protocol, String cipher) throws Exception {
        Issued issued = ca.server("mail.test").issue();
        ServerTlsContexts contexts =
                single(issued, new ServerTlsSettings(List.of(protocol), List.of(cipher), null, null, provider));

        try (TlsTestServer server = TlsTestServer.start(() -> new SniHandler(contexts.mapping()));
                SSLSocket client = JdkTlsClient.connect(server.port(), "mail.test", ca, null)) {
            assertThat(client.getSession().getProtocol()).isEqualTo(protocol);
            assertThat(client.getSession().getCipherSuite()).isEqualTo(cipher);
        }
    }

    /** Documents a BoringSSL limit that ServerTlsSettings#ciphers mentions. */
    @Test
    void boringSslIgnoresTls13CipherChoice() throws Exception {
        Issued issued = ca.server("mail.test").issue();
        ServerTlsContexts contexts = single(issued, new ServerTlsSettings(
                List.of("TLSv1.3"), List.of("TLS_CHACHA20_POLY1305_SHA256"), null, null, Provider.OPENSSL));

        try (TlsTestServer server = TlsTestServer.start(() -> new SniHandler(contexts.mapping()));
                SSLSocket client = JdkTlsClient.connect(server.port(), "mail.test", ca, null)) {
            // The JDK client prefers AES-256-GCM, and BoringSSL grants it despite the configured list.
            assertThat(client.getSession().getCipherSuite()).isEqualTo("TLS_AES_256_GCM_SHA384");
        }
    }

    @Test
    void badSourceNamesTheFile() {
        Issued good = ca.server("good.test").issue();
        Issued expired = ca.server("old.test").expired().issue();

        assertThatThrownBy(() -> ServerTlsContexts.create(
                        List.of(CertificateSource.of(good.cert(), good.key()), CertificateSource.of(expired.cert(), expired.key())),
                        ServerTlsSettings.defaults()))
                .hasMessageStartingWith(expired.cert() + ": certificate expired on ");
    }

    @Test
    void badWildcardNamesTheFile() {
        Issued issued = ca.server("mail.test").issue();

        assertThatThrownBy(() -> ServerTlsContexts.create(
                        List.of(new CertificateSource(issued.cert(), issued.key(), null, List.of("*mail.test"))),
                        ServerTlsSettings.defaults()))
                .hasMessageStartingWith(issued.cert() + ": server name '*mail.test' cannot be used for SNI");
    }

    @Test
    void autoPicksOpenSslHere() throws Exception {
        Issued issued = ca.server("mail.test").issue();

        assertThat(single(issued, ServerTlsSettings.defaults()).providerName())
                .isEqualTo("OpenSSL");
    }

    private static ServerTlsContexts single(Issued issued, ServerTlsSettings settings) throws TlsConfigException {
        return single(issued.cert(), issued.key(), settings);
    }

    private static ServerTlsContexts single(Path cert, Path key, ServerTlsSettings settings) throws TlsConfigException {
        return ServerTlsContexts.create(List.of(CertificateSource.of(cert, key)), settings);
    }

    private static ServerTlsSettings settings(Provider provider) {
        return new ServerTlsSettings(null, null, null, null, provider);
    }

    private String subjectFor(TlsTestServer server, String sni) throws Exception {
        try (SSLSocket socket = JdkTlsClient.connect(server.port(), sni, ca, null)) {
            assertThat(JdkTlsClient.echo(socket, "ping")).isEqualTo("ping");
            return JdkTlsClient.serverSubject(socket);
        }
    }

    private static java.math.BigInteger serial(SSLSocket socket) throws IOException {
        return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
    }

    /**
     * Moves the modification time forward, as a real edit seconds later would: rewriting a file
     * within the same clock tick can leave its time unchanged on coarse file systems.
     */
    private static void touch(Path... files) throws IOException {
        for (Path file : files) {
            Instant later = Files.getLastModifiedTime(file).toInstant().plusSeconds(2);
            Files.setLastModifiedTime(file, FileTime.from(later));
        }
    }
}
