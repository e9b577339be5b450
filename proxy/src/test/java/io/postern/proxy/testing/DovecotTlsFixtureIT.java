package io.postern.proxy.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.postern.tls.testing.TestCertificates;
import io.postern.tls.testing.TestCertificates.Issued;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Dovecot fixture with {@code tls(cert, key)}: imaps on {@code tlsPort()} and STARTTLS on
 * {@code port()} present the configured certificate, and plain-text logins still work.
 */
class DovecotTlsFixtureIT {

    private static final String USER = "carol";
    private static final String PASSWORD = "carol-secret";
    private static final String SERVER_NAME = "imap.dovecot.test";

    @TempDir
    static Path certificates;

    private static TestCertificates ca;
    private static Issued serverCertificate;
    private static SSLSocketFactory trustingTestCa;
    private static DovecotFixture dovecot;

    @BeforeAll
    static void startDovecot() throws IOException, GeneralSecurityException {
        ca = TestCertificates.newCa(certificates);
        serverCertificate = ca.server(SERVER_NAME, "127.0.0.1").issue();
        trustingTestCa = socketFactoryTrusting(ca.caCertificate());
        dovecot = DovecotFixture.builder()
                .name("tls-fixture-it")
                .user(USER, PASSWORD)
                .tls(serverCertificate.cert(), serverCertificate.key())
                .start();
    }

    @AfterAll
    static void stopDovecot() throws IOException {
        if (dovecot != null) {
            dovecot.close();
        }
    }

    @Test
    void implicitTlsPortPresentsTheConfiguredCertificate() throws IOException {
        try (SSLSocket socket = (SSLSocket) trustingTestCa.createSocket()) {
            socket.connect(new InetSocketAddress(dovecot.host(), dovecot.tlsPort()), 5000);
            socket.setSoTimeout(10_000);
            Conversation imap = handshake(socket);
            assertThat(imap.line()).startsWith("* OK").contains("Dovecot " + dovecot.name() + " ready.");
            imap.logInAndOut();
        }
    }

    @Test
    void plainPortOffersStartTlsWithTheConfiguredCertificate() throws IOException {
        try (Socket plain = connectToPlainPort()) {
            Conversation beforeTls = new Conversation(plain);
            assertThat(beforeTls.line()).startsWith("* OK [CAPABILITY ").contains(" STARTTLS");
            assertThat(beforeTls.tagged("a", "STARTTLS")).startsWith("a OK");

            try (SSLSocket socket = (SSLSocket) trustingTestCa.createSocket(
                    plain, dovecot.host(), dovecot.port(), true)) {
                Conversation imap = handshake(socket);
                assertThat(imap.command("b", "CAPABILITY")).as("after STARTTLS")
                        .anySatisfy(line -> assertThat(line).startsWith("* CAPABILITY IMAP4rev1 "))
                        .noneSatisfy(line -> assertThat(line).contains("STARTTLS"))
                        .last().asString().startsWith("b OK");
                imap.logInAndOut();
            }
        }
    }

    @Test
    void plainTextLoginStillWorksOnThePlainPort() throws IOException {
        try (Socket socket = connectToPlainPort()) {
            Conversation imap = new Conversation(socket);
            assertThat(imap.line()).startsWith("* OK").doesNotContain("LOGINDISABLED");
            imap.logInAndOut();
        }
    }

    @Test
    void tlsFilesMustExist() {
        Path missing = certificates.resolve("missing.crt");
        assertThatThrownBy(() -> DovecotFixture.builder().tls(missing, serverCertificate.key()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("tls certificate: " + missing + " (expected: a readable file)");
        assertThatThrownBy(() -> DovecotFixture.builder().tls(serverCertificate.cert(), certificates))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("tls key: " + certificates);
    }

    @Test
    void fixtureReportsTls() {
        assertThat(dovecot.tlsEnabled()).isTrue();
        assertThat(dovecot.tlsPort()).isNotEqualTo(dovecot.port());
    }

    private static Socket connectToPlainPort() throws IOException {
        Socket socket = new Socket();
        try {
            socket.connect(new InetSocketAddress(dovecot.host(), dovecot.port()), 5000);
            socket.setSoTimeout(10_000);
        } catch (IOException e) {
            socket.close();
            throw e;
        }
        return socket;
    }

    /**
     * Completes the handshake, checking the name connected to (here the IP address) against the
     * subjectAltNames, and that Dovecot presented the configured certificate with TLS 1.2 or later.
     */
    private static Conversation handshake(SSLSocket socket) throws IOException {
        SSLParameters parameters = socket.getSSLParameters();
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
        socket.setSSLParameters(parameters);
        socket.startHandshake();

        X509Certificate presented = (X509Certificate) socket.getSession().getPeerCertificates()[0];
        assertThat(presented.getSubjectX500Principal().getName()).isEqualTo("CN=" + SERVER_NAME);
        assertThat(presented).isEqualTo(serverCertificate.certificate());
        assertThat(socket.getSession().getProtocol()).isIn("TLSv1.3", "TLSv1.2");
        return new Conversation(socket);
    }

    private static SSLSocketFactory socketFactoryTrusting(X509Certificate caCertificate)
            throws IOException, GeneralSecurityException {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        trust.setCertificateEntry("postern-test-ca", caCertificate);
        TrustManagerFactory trustManagers = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trustManagers.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, trustManagers.getTrustManagers(), null);
        return context.getSocketFactory();
    }

    /** Line-at-a-time IMAP over a socket; enough for commands whose responses carry no literals. */
    private static final class Conversation {
        private final InputStream in;
        private final OutputStream out;

        Conversation(Socket socket) throws IOException {
            this.in = socket.getInputStream();
            this.out = socket.getOutputStream();
        }

        /** Sends {@code TAG COMMAND} and returns the response lines, the tagged one last. */
        List<String> command(String tag, String command) throws IOException {
            out.write((tag + " " + command + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            List<String> responses = new ArrayList<>();
            String line;
            do {
                line = line();
                responses.add(line);
            } while (!line.startsWith(tag + " "));
            return responses;
        }

        /** Sends {@code TAG COMMAND} and returns the tagged response line. */
        String tagged(String tag, String command) throws IOException {
            List<String> responses = command(tag, command);
            return responses.get(responses.size() - 1);
        }

        /** LOGIN as the test user, then LOGOUT; both must succeed. */
        void logInAndOut() throws IOException {
            assertThat(tagged("login", "LOGIN " + USER + " " + PASSWORD)).startsWith("login OK");
            assertThat(tagged("logout", "LOGOUT")).startsWith("logout OK");
        }

        /** One line without its CRLF; fails at the end of the stream. */
        String line() throws IOException {
            StringBuilder line = new StringBuilder();
            for (int b = in.read(); b != '\n'; b = in.read()) {
                if (b == -1) {
                    throw new IOException("connection closed after \"" + line + "\"");
                }
                if (b != '\r') {
                    line.append((char) b);
                }
            }
            return line.toString();
        }
    }
}
