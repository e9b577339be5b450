package io.postern.proxy.relay;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A transparent TCP relay between Postern and a real backend that records every byte Postern
 * sends, so a test can prove what did (not) reach the backend. One thread pair per connection;
 * for a handful of test connections only.
 */
final class RecordingRelay implements AutoCloseable {

    private final ServerSocket server;
    private final InetSocketAddress target;
    private final ByteArrayOutputStream toBackend = new ByteArrayOutputStream();
    private final List<Socket> sockets = new ArrayList<>();

    RecordingRelay(InetSocketAddress target) throws IOException {
        this.target = target;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(this::accept, "recording-relay");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    int port() {
        return server.getLocalPort();
    }

    /** Everything sent towards the backend so far, over all connections. */
    String sentToBackend() {
        synchronized (toBackend) {
            return toBackend.toString(StandardCharsets.ISO_8859_1);
        }
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket backend = new Socket(target.getAddress(), target.getPort());
                synchronized (sockets) {
                    sockets.add(client);
                    sockets.add(backend);
                }
                pump(client, backend, true);
                pump(backend, client, false);
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void pump(Socket from, Socket to, boolean record) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[8192];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                int n;
                while ((n = in.read(buf)) > 0) {
                    if (record) {
                        synchronized (toBackend) {
                            toBackend.write(buf, 0, n);
                        }
                    }
                    out.write(buf, 0, n);
                    out.flush();
                }
            } catch (IOException e) {
                // one side went away: the other pump ends too when its socket closes
            } finally {
                closeQuietly(from);
                closeQuietly(to);
            }
        }, "recording-relay-pump");
        t.setDaemon(true);
        t.start();
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // already closed by the peer
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        synchronized (sockets) {
            sockets.forEach(RecordingRelay::closeQuietly);
        }
    }
}
