package io.postern.proxy.hostile;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.Inflater;
import java.util.zip.InflaterInputStream;

/**
 * The attacker's end of a connection: writes exactly the bytes it is given (a {@code String} is
 * sent as ISO-8859-1, so {@code "\u00ff"} is the byte 0xFF), reads lines, and tells how and when
 * the server hung up. Nothing here interprets IMAP beyond line ends.
 */
final class HostileSocket implements AutoCloseable {

    private final Socket socket;
    private InputStream in;
    private OutputStream out;
    /** The connection's own streams, under the compression once {@link #compress()} was called. */
    private final OutputStream rawOut;

    private HostileSocket(Socket socket) throws IOException {
        this.socket = socket;
        socket.setSoTimeout(10_000);
        socket.setTcpNoDelay(true);
        this.in = new BufferedInputStream(socket.getInputStream());
        this.out = socket.getOutputStream();
        this.rawOut = out;
    }

    static HostileSocket connect(InetSocketAddress to) throws IOException {
        return connect(null, to);
    }

    /** @param from the local address to connect from (any 127.x.y.z works on Linux), or {@code null} */
    static HostileSocket connect(InetAddress from, InetSocketAddress to) throws IOException {
        return connect(from, to, 0);
    }

    /**
     * @param receiveBuffer a small socket receive buffer for a client that will not read (so that
     *     the kernel does not take in megabytes on its behalf), or 0 for the default
     */
    private static HostileSocket connect(InetAddress from, InetSocketAddress to, int receiveBuffer) throws IOException {
        Socket s = new Socket();
        try {
            if (receiveBuffer > 0) {
                s.setReceiveBufferSize(receiveBuffer);
            }
            if (from != null) {
                s.bind(new InetSocketAddress(from, 0));
            }
            s.connect(to, 5000);
            return new HostileSocket(s);
        } catch (IOException e) {
            s.close();
            throw e;
        }
    }

    /** Connects and reads Postern's greeting. */
    static HostileSocket greeted(InetSocketAddress to) throws IOException {
        HostileSocket s = connect(to);
        String greeting = s.line();
        if (!greeting.startsWith("* OK ")) {
            s.close();
            throw new IOException("not a greeting: " + greeting);
        }
        return s;
    }

    /** Connects with a 4 KiB receive window and reads the greeting: for a client that then stops reading. */
    static HostileSocket greetedNonReader(InetSocketAddress to) throws IOException {
        HostileSocket s = connect(null, to, 4096);
        s.line();
        return s;
    }

    static byte[] bytes(String latin1) {
        return latin1.getBytes(StandardCharsets.ISO_8859_1);
    }

    /**
     * From now on, as after {@code COMPRESS DEFLATE} (RFC 4978): what is sent is deflated (raw
     * deflate, a sync flush after each send), what is read is inflated. {@link #sendRaw} still
     * writes bytes as they are, for streams that are not deflate.
     */
    void compress() {
        in = new InflaterInputStream(in, new Inflater(true), 512);
        out = new DeflaterOutputStream(rawOut, new Deflater(6, true), 512, true);
    }

    /** The bytes {@code plain} deflates to with a sync flush at the end: what {@link #send} writes after {@link #compress()}. */
    static byte[] deflated(byte[] plain) {
        Deflater deflater = new Deflater(6, true);
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            deflater.setInput(plain);
            byte[] buf = new byte[64 * 1024];
            int n;
            do {
                n = deflater.deflate(buf, 0, buf.length, Deflater.SYNC_FLUSH);
                out.write(buf, 0, n);
            } while (n == buf.length || !deflater.needsInput());
            return out.toByteArray();
        } finally {
            deflater.end();
        }
    }

    /** Writes {@code data} as it is, also after {@link #compress()}. */
    void sendRaw(byte[] data) throws IOException {
        rawOut.write(data);
        rawOut.flush();
    }

    void timeout(Duration d) throws IOException {
        socket.setSoTimeout((int) d.toMillis());
    }

    void send(String latin1) throws IOException {
        send(bytes(latin1));
    }

    void send(byte[] data) throws IOException {
        out.write(data);
        out.flush();
    }

    /**
     * Sends {@code data} one byte every {@code millis} on a daemon thread of its own (a slowloris),
     * until all is sent, the thread is interrupted or the server hangs up; returns the thread.
     */
    Thread trickle(byte[] data, long millis) {
        Thread t = new Thread(() -> {
            for (byte b : data) {
                try {
                    send(new byte[] {b});
                    Thread.sleep(millis);
                } catch (IOException | InterruptedException e) {
                    return;
                }
            }
        }, "slowloris");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /**
     * Sends as much of {@code data} as the server takes before it hangs up, and returns how many
     * bytes that was (the socket's buffers count as taken). For floods that the server is
     * expected to cut short.
     */
    long sendUntilRefused(byte[] data, int times) {
        long sent = 0;
        try {
            for (int i = 0; i < times; i++) {
                out.write(data);
                sent += data.length;
            }
            out.flush();
        } catch (IOException e) {
            // the server closed: what it did before is what the test looks at
        }
        return sent;
    }

    /** One line without its line ending (CRLF or LF), decoded as UTF-8; throws at end of stream. */
    String line() throws IOException {
        String l = lineOrNull();
        if (l == null) {
            throw new IOException("end of stream where a line was expected");
        }
        return l;
    }

    /** Like {@link #line()}, but {@code null} at end of stream or after a reset. */
    private String lineOrNull() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (;;) {
            int b;
            try {
                b = in.read();
            } catch (SocketException | EOFException e) {
                b = -1; // reset by the server, or the end of a compressed stream that had no final block: closed as well
            }
            if (b < 0) {
                return line.size() == 0 ? null : line.toString(StandardCharsets.UTF_8);
            }
            if (b == '\n') {
                byte[] raw = line.toByteArray();
                int n = raw.length > 0 && raw[raw.length - 1] == '\r' ? raw.length - 1 : raw.length;
                return new String(raw, 0, n, StandardCharsets.UTF_8);
            }
            line.write(b);
        }
    }

    /**
     * Every line the server still sends, up to its closing the connection; throws when it has
     * not closed within {@code within}.
     */
    List<String> linesUntilClosed(Duration within) throws IOException {
        long deadline = System.nanoTime() + within.toNanos();
        List<String> lines = new ArrayList<>();
        for (;;) {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0) {
                throw stillOpen(within, lines, null);
            }
            socket.setSoTimeout((int) left);
            String l;
            try {
                l = lineOrNull();
            } catch (SocketTimeoutException e) {
                throw stillOpen(within, lines, e);
            }
            if (l == null) {
                return lines;
            }
            lines.add(l);
        }
    }

    private static IOException stillOpen(Duration within, List<String> lines, Exception cause) {
        List<String> last = lines.subList(Math.max(0, lines.size() - 5), lines.size());
        return new IOException("still open after " + within.toMillis() + " ms, after " + lines.size()
                + " lines ending in " + last, cause);
    }

    /** Lines up to and including the tagged reply for {@code tag}. */
    List<String> until(String tag) throws IOException {
        List<String> lines = new ArrayList<>();
        for (;;) {
            String l = line();
            lines.add(l);
            if (l.startsWith(tag + " ")) {
                return lines;
            }
        }
    }

    /** The tagged reply for {@code tag}, skipping untagged lines. */
    String tagged(String tag) throws IOException {
        List<String> lines = until(tag);
        return lines.get(lines.size() - 1);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
