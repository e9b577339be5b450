package io.postern.tls;

import io.postern.tls.testing.TestCertificates;
import io.postern.tls.testing.TestCertificates.Issued;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/** A blocking JDK TLS client as an IMAP client would be, with a fresh context (no resumption) per socket. */
final class JdkTlsClient {

    private JdkTlsClient() {}

    /**
     * Connects to 127.0.0.1:{@code port} and handshakes.
     *
     * @param sni the server name to send, or {@code null} for none
     * @param ca the CA the client trusts
     * @param clientCertificate the certificate to present, or {@code null}
     */
    static SSLSocket connect(int port, String sni, TestCertificates ca, Issued clientCertificate) throws IOException {
        SSLContext context = ca.jdkClientContext(clientCertificate);
        SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket("127.0.0.1", port);
        socket.setSoTimeout(5000);
        if (sni != null) {
            SSLParameters parameters = socket.getSSLParameters();
            parameters.setServerNames(List.of(new SNIHostName(sni)));
            socket.setSSLParameters(parameters);
        }
        socket.startHandshake();
        return socket;
    }

    /** The subject of the certificate the server presented, e.g. {@code CN=mail.test}. */
    static String serverSubject(SSLSocket socket) throws IOException {
        X509Certificate leaf = (X509Certificate) socket.getSession().getPeerCertificates()[0];
        return leaf.getSubjectX500Principal().getName();
    }

    /** Sends a line through the echo server and returns what came back. */
    static String echo(SSLSocket socket, String line) throws IOException {
        byte[] sent = (line + "\n").getBytes(StandardCharsets.US_ASCII);
        socket.getOutputStream().write(sent);
        socket.getOutputStream().flush();
        InputStream in = socket.getInputStream();
        byte[] received = in.readNBytes(sent.length);
        return new String(received, StandardCharsets.US_ASCII).trim();
    }
}
