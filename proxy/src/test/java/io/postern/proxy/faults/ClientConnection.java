package io.postern.proxy.faults;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The client end of a fault test: sends bytes, reads lines, and above all reads
 * {@linkplain #restUntilClosed() everything up to the close}, so a test can state the exact end
 * of a session, including a literal cut short and the absence of anything after it.
 */
final class ClientConnection implements AutoCloseable {

    private static final int READ_TIMEOUT_MILLIS = 10_000;

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    ClientConnection(InetSocketAddress postern) throws IOException {
        socket = new Socket();
        socket.connect(postern, 5000);
        socket.setSoTimeout(READ_TIMEOUT_MILLIS);
        socket.setTcpNoDelay(true);
        in = socket.getInputStream();
        out = socket.getOutputStream();
    }

    void send(String text) throws IOException {
        out.write(text.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** One line without its CRLF; fails at the end of the stream. */
    String line() throws IOException {
        return readLine(in);
    }

    /** One line from {@code in} without its CRLF, as ISO-8859-1 text; {@link EOFException} at the end of the stream. */
    static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int b; (b = in.read()) != '\n'; ) {
            if (b < 0) {
                throw new EOFException("end of stream after " + line.size() + " bytes of a line: "
                        + line.toString(StandardCharsets.ISO_8859_1));
            }
            line.write(b);
        }
        String text = line.toString(StandardCharsets.ISO_8859_1);
        return text.endsWith("\r") ? text.substring(0, text.length() - 1) : text;
    }

    /** Exactly {@code n} bytes, as ISO-8859-1 text. */
    String bytes(int n) throws IOException {
        byte[] b = in.readNBytes(n);
        if (b.length < n) {
            throw new AssertionError("connection closed after " + b.length + " of " + n + " bytes");
        }
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    /** Everything Postern sends until it closes the connection, as ISO-8859-1 text; fails when it does not close. */
    String restUntilClosed() throws IOException {
        ByteArrayOutputStream rest = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        try {
            for (int n; (n = in.read(buffer)) >= 0; ) {
                rest.write(buffer, 0, n);
            }
        } catch (SocketTimeoutException e) {
            throw new AssertionError("Postern did not close the connection; received so far: "
                    + rest.toString(StandardCharsets.ISO_8859_1), e);
        } catch (SocketException e) {
            if (!"Connection reset".equals(e.getMessage())) {
                throw e;
            }
        }
        return rest.toString(StandardCharsets.ISO_8859_1);
    }

    /** Asserts that nothing arrives within {@code d} and the connection stays open. */
    void assertQuietFor(Duration d) throws IOException {
        socket.setSoTimeout((int) d.toMillis());
        try {
            int b = in.read();
            throw new AssertionError(b < 0 ? "connection closed" : "unexpected byte " + (char) b);
        } catch (SocketTimeoutException expected) {
            socket.setSoTimeout(READ_TIMEOUT_MILLIS);
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
