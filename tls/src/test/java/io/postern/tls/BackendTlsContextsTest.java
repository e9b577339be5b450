package io.postern.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.postern.tls.testing.TestCertificates;
import io.postern.tls.testing.TestCertificates.Issued;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Netty client with BackendTlsContexts against a Netty TLS server presenting a chosen certificate. */
class BackendTlsContextsTest {

    private static EventLoopGroup clientGroup;

    @TempDir
    Path dir;

    private TestCertificates ca;

    @BeforeAll
    static void startClientGroup() {
        clientGroup = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    }

    @AfterAll
    static void stopClientGroup() {
        clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @BeforeEach
    void newCa() {
        ca = TestCertificates.newCa(dir);
    }

    @ParameterizedTest
    @EnumSource(names = {"OPENSSL", "JDK"})
    void rightCaAndName(Provider provider) throws Exception {
        Issued backend = ca.server("imap.backend.test").issue();
        BackendTlsSettings settings = new BackendTlsSettings(ca.caFile(), "imap.backend.test", null, false, null, provider);

        try (TlsTestServer server = serving(backend)) {
            handshake(server, settings);
            assertThat(server.nextHandshake().sniHostname()).isEqualTo("imap.backend.test");
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"OPENSSL", "JDK"})
    void singleLabelNameAsInDockerCompose(Provider provider) throws Exception {
        Issued backend = ca.server("dovecot").issue();
        BackendTlsSettings settings = new BackendTlsSettings(ca.caFile(), "dovecot", null, false, null, provider);

        try (TlsTestServer server = serving(backend)) {
            handshake(server, settings);
            assertThat(server.nextHandshake().sniHostname()).isEqualTo("dovecot");
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"OPENSSL", "JDK"})
    void ipLiteralIsCheckedAgainstIpNamesAndNotSentInSni(Provider provider) throws Exception {
        Issued backend = ca.server("backend.test", "127.0.0.1").issue();
        BackendTlsSettings settings = new BackendTlsSettings(ca.caFile(), "127.0.0.1", null, false, null, provider);

        try (TlsTestServer server = serving(backend)) {
            handshake(server, settings);
            assertThat(server.nextHandshake().sniHostname()).isNull();
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"OPENSSL", "JDK"})
    void wrongCa(Provider provider) throws Exception {
        Issued backend = TestCertificates.newCa(dir, "Another CA", TestCertificates.KeyType.EC)
                .server("imap.backend.test").issue();
        BackendTlsSettings settings = new BackendTlsSettings(ca.caFile(), "imap.backend.test", null, false, null, provider);

        try (TlsTestServer server = serving(backend)) {
            assertThatThrownBy(() -> handshake(server, settings)).isInstanceOf(SSLHandshakeException.class);
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"OPENSSL", "JDK"})
    void systemTrustStoreDoesNotKnowTheTestCa(Provider provider) throws Exception {
        Issued backend = ca.server("imap.backend.test").issue();
        BackendTlsSettings settings = new BackendTlsSettings(null, "imap.backend.test", null, false, null, provider);

        try (TlsTestServer server = serving(backend)) {
            assertThatThrownBy(() -> handshake(server, settings)).isInstanceOf(SSLHandshakeException.class);
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"OPENSSL", "JDK"})
    void wrongHostname(Provider provider) throws Exception {
        Issued backend = ca.server("other.backend.test").issue();
        BackendTlsSettings settings = new BackendTlsSettings(ca.caFile(), "imap.backend.test", null, false, null, provider);

        try (TlsTestServer server = serving(backend)) {
            assertThatThrownBy(() -> handshake(server, settings))
                    .isInstanceOf(SSLHandshakeException.class)
                    .hasStackTraceContaining("imap.backend.test");
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"OPENSSL", "JDK"})
    void expiredCertificate(Provider provider) throws Exception {
        Issued backend = ca.server("imap.backend.test").expired().issue();
        BackendTlsSettings settings = new BackendTlsSettings(ca.caFile(), "imap.backend.test", null, false, null, provider);

        try (TlsTestServer server = serving(backend)) {
            assertThatThrownBy(() -> handshake(server, settings))
                    .isInstanceOf(SSLHandshakeException.class)
                    .hasStackTraceContaining("CertificateExpiredException");
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"OPENSSL", "JDK"})
    void pinAcceptsAnUntrustedSelfSignedCertificateWhateverItsName(Provider provider) throws Exception {
        SelfSignedCertificates.Generated selfSigned =
                SelfSignedCertificates.generate("self.test", List.of("self.test"), dir, Duration.ofDays(1));
        PemKeyPair pair = PemKeyPair.load(selfSigned.cert(), selfSigned.key(), null);
        String pin = colonSeparatedUpperCase(pair.sha256Fingerprint());
        BackendTlsSettings settings =
                new BackendTlsSettings(null, "imap.backend.test", List.of("00".repeat(32), pin), false, null, provider);

        try (TlsTestServer server = serving(pair.privateKey(), pair.leaf())) {
            handshake(server, settings);
            assertThat(server.nextHandshake().sniHostname()).isEqualTo("imap.backend.test");
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"OPENSSL", "JDK"})
    void pinMismatchFailsEvenWithATrustedCertificate(Provider provider) throws Exception {
        Issued backend = ca.server("imap.backend.test").issue();
        BackendTlsSettings settings =
                new BackendTlsSettings(null, "imap.backend.test", List.of("ab".repeat(32)), false, null, provider);

        try (TlsTestServer server = serving(backend)) {
            assertThatThrownBy(() -> handshake(server, settings))
                    .isInstanceOf(SSLHandshakeException.class)
                    .hasStackTraceContaining("matches none of the pinned fingerprints");
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"OPENSSL", "JDK"})
    void insecureAcceptsAnything(Provider provider) throws Exception {
        Issued backend = TestCertificates.newCa(dir, "Unknown CA", TestCertificates.KeyType.RSA)
                .server("whatever.test").expired().issue();
        BackendTlsSettings settings = new BackendTlsSettings(null, null, null, true, null, provider);

        try (TlsTestServer server = serving(backend)) {
            handshake(server, settings);
        }
    }

    /**
     * Why {@link BackendTlsContexts#newHandler} exists: Netty 4.2 verifies host names by default,
     * against the SNI name or else the peer host. With an IP literal there is no SNI, so a handler
     * made without the peer host has no name to check and fails.
     */
    @ParameterizedTest
    @EnumSource(names = {"OPENSSL", "JDK"})
    void aHandlerWithoutPeerHostFailsVerificationOfAnIpLiteral(Provider provider) throws Exception {
        Issued backend = ca.server("backend.test", "127.0.0.1").issue();
        BackendTlsSettings settings = new BackendTlsSettings(ca.caFile(), "127.0.0.1", null, false, null, provider);
        SslContext context = BackendTlsContexts.create(settings);

        try (TlsTestServer server = serving(backend)) {
            assertThatThrownBy(() -> TlsTestServer.connect(clientGroup, server.port(), ch -> context.newHandler(ch.alloc())))
                    .isInstanceOf(SSLHandshakeException.class);
        }
    }

    /** The context carries the SNI name, and verification uses it even when the handler knows no peer host. */
    @ParameterizedTest
    @EnumSource(names = {"OPENSSL", "JDK"})
    void theSniNameIsVerifiedWhenTheHandlerKnowsNoPeerHost(Provider provider) throws Exception {
        Issued backend = ca.server("imap.backend.test").issue();
        BackendTlsSettings settings = new BackendTlsSettings(ca.caFile(), "imap.backend.test", null, false, null, provider);
        SslContext context = BackendTlsContexts.create(settings);

        try (TlsTestServer server = serving(backend)) {
            TlsTestServer.connect(clientGroup, server.port(), ch -> context.newHandler(ch.alloc())).close().sync();
            assertThat(server.nextHandshake().sniHostname()).isEqualTo("imap.backend.test");
        }
    }

    /**
     * Netty's providers disagree when a handler's peer host differs from the context's SNI name: the
     * JDK sends (and verifies) the context's name, OpenSSL the peer host. {@link
     * BackendTlsContexts#newHandler} passes the server name as the peer host, so both agree.
     */
    @ParameterizedTest
    @EnumSource(names = {"OPENSSL", "JDK"})
    void providersDisagreeWhenPeerHostAndSniNameDiffer(Provider provider) throws Exception {
        Issued backend = ca.server("imap.backend.test").issue();
        BackendTlsSettings settings = new BackendTlsSettings(ca.caFile(), "imap.backend.test", null, false, null, provider);
        SslContext context = BackendTlsContexts.create(settings);

        try (TlsTestServer server = serving(backend)) {
            Function<Channel, SslHandler> otherPeer = ch -> context.newHandler(ch.alloc(), "other.backend.test", 993);
            if (provider == Provider.JDK) {
                TlsTestServer.connect(clientGroup, server.port(), otherPeer).close().sync();
                assertThat(server.nextHandshake().sniHostname()).isEqualTo("imap.backend.test");
            } else {
                assertThatThrownBy(() -> TlsTestServer.connect(clientGroup, server.port(), otherPeer))
                        .isInstanceOf(SSLHandshakeException.class);
                assertThat(server.nextHandshake().sniHostname()).isEqualTo("other.backend.test");
            }
        }
    }

    @Test
    void unreadableCaFileIsNamed() {
        Path missing = dir.resolve("missing-ca.crt");

        assertThatThrownBy(() -> BackendTlsContexts.create(
                        new BackendTlsSettings(missing, "b.test", null, false, null, null)))
                .isInstanceOf(TlsConfigException.class)
                .hasMessage(missing + ": file not found");
    }

    private static void handshake(TlsTestServer server, BackendTlsSettings settings) throws Exception {
        SslContext context = BackendTlsContexts.create(settings);
        Channel channel = TlsTestServer.connect(clientGroup, server.port(),
                ch -> BackendTlsContexts.newHandler(context, ch.alloc(), settings, "127.0.0.1", server.port()));
        channel.close().sync();
    }

    private static TlsTestServer serving(Issued backend) throws Exception {
        return serving(backend.privateKey(), backend.certificate());
    }

    /** A server that presents {@code certificate} whatever it is (ServerTlsContexts would refuse an expired one). */
    private static TlsTestServer serving(PrivateKey key, X509Certificate certificate) throws Exception {
        SslContext context = SslContextBuilder.forServer(key, certificate).sslProvider(SslProvider.JDK).build();
        return TlsTestServer.start(() -> new SniHandler(hostname -> context));
    }

    private static String colonSeparatedUpperCase(String hex) {
        StringBuilder pin = new StringBuilder();
        for (int i = 0; i < hex.length(); i += 2) {
            pin.append(i == 0 ? "" : ":").append(hex, i, i + 2);
        }
        return pin.toString().toUpperCase(Locale.ROOT);
    }
}
