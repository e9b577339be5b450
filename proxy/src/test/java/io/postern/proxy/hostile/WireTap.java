package io.postern.proxy.hostile;

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
 * A TCP relay between Postern and its backend that records every byte Postern sends on each
 * backend connection: what the backend was asked to parse, exactly.
 */
final class WireTap implements AutoCloseable {

    private final ServerSocket server;
    private final InetSocketAddress backend;
    private final List<ByteArrayOutputStream> connections = new ArrayList<>();
    private final List<Socket> sockets = new ArrayList<>();

    WireTap(String backendHost, int backendPort) throws IOException {
        this.backend = new InetSocketAddress(backendHost, backendPort);
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread accept = new Thread(this::accept, "wiretap-accept");
        accept.setDaemon(true);
        accept.start();
    }

    int port() {
        return server.getLocalPort();
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket fromPostern = server.accept();
                Socket toBackend = new Socket();
                toBackend.connect(backend, 5000);
                ByteArrayOutputStream record = new ByteArrayOutputStream();
                synchronized (this) {
                    connections.add(record);
                    sockets.add(fromPostern);
                    sockets.add(toBackend);
                }
                pump(fromPostern, toBackend, record);
                pump(toBackend, fromPostern, null);
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private static void pump(Socket from, Socket to, ByteArrayOutputStream record) throws IOException {
        InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream();
        Thread t = new Thread(() -> {
            byte[] buf = new byte[8192];
            try {
                for (int n; (n = in.read(buf)) >= 0; ) {
                    if (record != null) {
                        synchronized (record) {
                            record.write(buf, 0, n);
                        }
                    }
                    out.write(buf, 0, n);
                    out.flush();
                }
            } catch (IOException e) {
                // either side went away
            } finally {
                closeQuietly(from);
                closeQuietly(to);
            }
        }, "wiretap-pump");
        t.setDaemon(true);
        t.start();
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // already closed
        }
    }

    /** What Postern sent on each backend connection so far, oldest first, as ISO-8859-1 text. */
    synchronized List<String> commandStreams() {
        List<String> all = new ArrayList<>();
        for (ByteArrayOutputStream record : connections) {
            synchronized (record) {
                all.add(record.toString(StandardCharsets.ISO_8859_1));
            }
        }
        return all;
    }

    /** The command streams that contain {@code marker}. */
    List<String> commandStreamsWith(String marker) {
        return commandStreams().stream().filter(s -> s.contains(marker)).toList();
    }

    @Override
    public synchronized void close() throws IOException {
        server.close();
        for (Socket s : sockets) {
            closeQuietly(s);
        }
    }
}
