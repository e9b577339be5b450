package io.postern.proxy.relay;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A byte-level IMAP client for tests: writes exactly the bytes it is given, reads responses
 * with their literals, and never interprets more than a test asks for.
 */
final class RawImapClient implements AutoCloseable {

    private static final Pattern LITERAL_AT_END = Pattern.compile("~?\\{(\\d+)\\+?}$");

    private final Socket socket;
    private InputStream in;
    private OutputStream out;
    private long compressedBytesRead;

    RawImapClient(InetSocketAddress address) throws IOException {
        socket = new Socket();
        socket.connect(address, 5000);
        socket.setSoTimeout(15_000);
        socket.setTcpNoDelay(true);
        in = socket.getInputStream();
        out = socket.getOutputStream();
    }

    /** The socket, e.g. to put TLS on it after STARTTLS (nothing is read ahead of what was asked for). */
    Socket socket() {
        return socket;
    }

    /**
     * COMPRESS=DEFLATE from here on (after the server's OK to COMPRESS was read): raw deflate
     * both ways, each {@link #send} ending with a sync flush.
     */
    void compress() {
        InputStream wire = in;
        in = new java.util.zip.InflaterInputStream(new java.io.FilterInputStream(wire) {
            @Override
            public int read() throws IOException {
                int b = super.read();
                compressedBytesRead += b < 0 ? 0 : 1;
                return b;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = super.read(b, off, len);
                compressedBytesRead += Math.max(n, 0);
                return n;
            }
        }, new java.util.zip.Inflater(true));
        out = new java.util.zip.DeflaterOutputStream(out, new java.util.zip.Deflater(6, true), true);
    }

    /** Bytes read off the socket since {@link #compress()}, before inflating. */
    long compressedBytesRead() {
        return compressedBytesRead;
    }

    void setTimeout(int millis) throws IOException {
        socket.setSoTimeout(millis);
    }

    void send(String text) throws IOException {
        send(text.getBytes(StandardCharsets.UTF_8));
    }

    void send(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** One line without its CRLF; throws at end of stream. */
    String line() throws IOException {
        byte[] raw = rawLine();
        int n = raw.length;
        if (n >= 2 && raw[n - 2] == '\r') {
            n -= 2;
        } else if (n >= 1) {
            n -= 1;
        }
        return new String(raw, 0, n, StandardCharsets.UTF_8);
    }

    /** One line with its line ending, as bytes. */
    byte[] rawLine() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (;;) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("end of stream after " + line.size() + " bytes: "
                        + line.toString(StandardCharsets.UTF_8));
            }
            line.write(b);
            if (b == '\n') {
                return line.toByteArray();
            }
        }
    }

    /** Exactly {@code n} bytes, e.g. the literal a line announced. */
    byte[] bytes(int n) throws IOException {
        byte[] b = in.readNBytes(n);
        if (b.length < n) {
            throw new IOException("end of stream after " + b.length + " of " + n + " bytes");
        }
        return b;
    }

    /** One whole response (its lines and literals) exactly as received. */
    byte[] response() throws IOException {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (;;) {
            byte[] raw = rawLine();
            all.write(raw);
            String text = new String(raw, StandardCharsets.ISO_8859_1).stripTrailing();
            Matcher m = LITERAL_AT_END.matcher(text);
            if (!text.startsWith("+") && m.find() && !isStatus(text)) {
                all.write(in.readNBytes(Integer.parseInt(m.group(1))));
                continue;
            }
            return all.toByteArray();
        }
    }

    /** Responses up to and including the tagged reply for {@code tag}; each one as text. */
    List<String> until(String tag) throws IOException {
        List<String> responses = new ArrayList<>();
        for (;;) {
            String r = new String(response(), StandardCharsets.ISO_8859_1);
            responses.add(r);
            if (r.startsWith(tag + " ")) {
                return responses;
            }
        }
    }

    /** The tagged reply for {@code tag}, skipping untagged responses. */
    String tagged(String tag) throws IOException {
        List<String> all = until(tag);
        return all.get(all.size() - 1).stripTrailing();
    }

    /** {@code true} when the server closed the connection (reads EOF within the timeout). */
    boolean closedByServer() throws IOException {
        try {
            return in.read() < 0;
        } catch (java.net.SocketException e) {
            return true; // connection reset: closed as well
        } catch (java.io.EOFException e) {
            return true; // the end of the socket inside a compressed stream
        }
    }

    private static boolean isStatus(String line) {
        return line.matches("(?i)^(\\* (OK|NO|BAD|BYE|PREAUTH)|[^* ]+ (OK|NO|BAD))( .*)?$");
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
