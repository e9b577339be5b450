package io.postern.proxy.faults;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An IMAP server for tests whose every connection follows a script: it greets, answers
 * CAPABILITY, LOGIN and AUTHENTICATE PLAIN like a real server, and then misbehaves exactly where
 * a test says. Real servers cannot be made to fail on cue; every normal path keeps using Dovecot
 * or GreenMail.
 *
 * <pre>{@code
 * backend.next(c -> {
 *     c.greet();
 *     c.login();
 *     c.expect("FETCH");
 *     c.send("* 1 FETCH (BODY[] {100}\r\n" + "x".repeat(40)); // and then:
 *     c.close();
 * });
 * }</pre>
 *
 * <p>Each accepted connection takes the next queued script, or, when none is queued, is served as
 * a healthy server ({@link Connection#greet()}, {@link Connection#login()}, {@link Connection#serve()}).
 * A connection runs on its own thread; what a script throws is kept and rethrown by
 * {@link #awaitQuiet(Duration)}, which also fails while a connection is still open, so a test sees
 * both a script that went wrong and a connection Postern failed to close.
 *
 * <p>Passwords: {@value #PASSWORD} logs in any user, anything else is refused.
 */
final class ScriptedBackend implements AutoCloseable {

    static final String PASSWORD = "pw";
    static final String GREETING_CAPABILITIES = "IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+ IDLE";
    /** How long a script waits for the next bytes before it fails. */
    private static final int READ_TIMEOUT_MILLIS = 10_000;
    private static final Pattern LITERAL_AT_END = Pattern.compile("\\{(\\d+)(\\+?)}$");

    /** What one connection does. */
    @FunctionalInterface
    interface Script {
        void run(Connection connection) throws Exception;
    }

    /** The first line of a command: {@code name} is upper case, with {@code UID} joined to the next word. */
    record Command(String tag, String name, String line) {}

    private final ServerSocket server;
    private final Thread acceptor;
    private final Queue<Script> scripts = new ConcurrentLinkedQueue<>();
    private final Set<Connection> open = ConcurrentHashMap.newKeySet();
    private final Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
    private volatile int accepted;

    private ScriptedBackend(ServerSocket server) {
        this.server = server;
        this.acceptor = new Thread(this::acceptLoop, "scripted-backend-" + server.getLocalPort());
        this.acceptor.setDaemon(true);
    }

    static ScriptedBackend start() throws IOException {
        ScriptedBackend backend = new ScriptedBackend(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
        backend.acceptor.start();
        return backend;
    }

    int port() {
        return server.getLocalPort();
    }

    /** Connections accepted so far. */
    int accepted() {
        return accepted;
    }

    /** The next connection follows {@code script} (scripts are taken in the order given). */
    void next(Script script) {
        scripts.add(script);
    }

    /**
     * Waits until every connection has ended, then throws the first thing a script threw (the
     * others suppressed) and forgets them; fails when a queued script was never used.
     */
    void awaitQuiet(Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!open.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        List<Throwable> thrown = new ArrayList<>();
        for (Throwable t; (t = failures.poll()) != null; ) {
            thrown.add(t);
        }
        if (!open.isEmpty()) {
            thrown.add(new AssertionError(open.size() + " backend connection(s) still open after " + timeout.toMillis()
                    + " ms: Postern did not close them"));
            open.forEach(Connection::close);
        }
        if (!scripts.isEmpty()) {
            thrown.add(new AssertionError(scripts.size() + " script(s) never used: Postern did not connect"));
            scripts.clear();
        }
        if (!thrown.isEmpty()) {
            Throwable first = thrown.get(0);
            thrown.subList(1, thrown.size()).forEach(first::addSuppressed);
            if (first instanceof Exception e) {
                throw e;
            }
            throw (Error) first;
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        open.forEach(Connection::close);
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            Socket socket;
            try {
                socket = server.accept();
            } catch (IOException e) {
                if (!server.isClosed()) {
                    failures.add(e);
                }
                return;
            }
            accepted++;
            Script script = scripts.poll();
            Connection connection = new Connection(socket);
            open.add(connection);
            Thread t = new Thread(() -> run(connection, script == null ? Connection::healthy : script),
                    "scripted-backend-connection-" + accepted);
            t.setDaemon(true);
            t.start();
        }
    }

    private void run(Connection connection, Script script) {
        try {
            connection.socket.setSoTimeout(READ_TIMEOUT_MILLIS);
            script.run(connection);
        } catch (Exception | AssertionError e) {
            failures.add(e);
        } finally {
            connection.close();
            open.remove(connection);
        }
    }

    /** One connection, seen from the server. Used by its own thread only. */
    static final class Connection {

        private final Socket socket;
        private final InputStream in;
        private final OutputStream out;

        private Connection(Socket socket) {
            this.socket = socket;
            try {
                this.in = socket.getInputStream();
                this.out = socket.getOutputStream();
            } catch (IOException e) {
                throw new IllegalStateException("a fresh socket has no streams", e);
            }
        }

        /** The default script: a server that works. */
        void healthy() throws IOException {
            greet();
            login();
            serve();
        }

        void greet() throws IOException {
            send("* OK [CAPABILITY " + GREETING_CAPABILITIES + "] Scripted backend ready.\r\n");
        }

        /**
         * Answers CAPABILITY, LOGIN and AUTHENTICATE PLAIN (with or without an initial response)
         * until a login succeeds; refused logins ({@code NO [AUTHENTICATIONFAILED]}) go on.
         *
         * @return the user that logged in
         */
        String login() throws IOException {
            for (;;) {
                Command c = command();
                switch (c.name()) {
                    case "CAPABILITY" -> send("* CAPABILITY " + GREETING_CAPABILITIES + "\r\n" + c.tag()
                            + " OK Capability completed.\r\n");
                    case "LOGIN" -> {
                        String[] words = c.line().split(" ");
                        if (words.length == 4 && unquote(words[3]).equals(PASSWORD)) {
                            loggedIn(c.tag());
                            return unquote(words[2]);
                        }
                        send(c.tag() + " NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
                    }
                    case "AUTHENTICATE" -> {
                        String[] words = c.line().split(" ");
                        String response = words.length > 3 ? words[3] : null;
                        if (response == null) {
                            send("+ \r\n");
                            response = line();
                        }
                        String[] parts = new String(Base64.getDecoder().decode(response), StandardCharsets.UTF_8)
                                .split("\0", -1);
                        if (parts.length == 3 && parts[2].equals(PASSWORD)) {
                            loggedIn(c.tag());
                            return parts[1];
                        }
                        send(c.tag() + " NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
                    }
                    default -> send(c.tag() + " BAD Log in first.\r\n");
                }
            }
        }

        private void loggedIn(String tag) throws IOException {
            send(tag + " OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE UIDPLUS] Logged in\r\n");
        }

        /**
         * Answers commands as a small working server until the peer closes or logs out: NOOP,
         * CAPABILITY, SELECT and EXAMINE (an empty mailbox), APPEND (the literal read and thrown
         * away), IDLE until DONE, LOGOUT; {@code BAD} to the rest.
         */
        void serve() throws IOException {
            for (;;) {
                String first;
                try {
                    first = line();
                } catch (EOFException e) {
                    return; // the peer closed between commands: a normal end
                }
                Command c = parse(first);
                switch (c.name()) {
                    case "NOOP" -> send(c.tag() + " OK NOOP completed.\r\n");
                    case "CAPABILITY" -> send("* CAPABILITY IMAP4rev1 LITERAL+ IDLE UIDPLUS\r\n" + c.tag()
                            + " OK Capability completed.\r\n");
                    case "SELECT", "EXAMINE" -> send("* FLAGS (\\Seen)\r\n* 0 EXISTS\r\n* OK [UIDVALIDITY 1] UIDs valid\r\n"
                            + c.tag() + " OK [READ-WRITE] Select completed.\r\n");
                    case "APPEND" -> {
                        readLiterals(c.line());
                        send(c.tag() + " OK [APPENDUID 1 1] Append completed.\r\n");
                    }
                    case "IDLE" -> {
                        send("+ idling\r\n");
                        String done = line();
                        if (!done.equalsIgnoreCase("DONE")) {
                            throw new AssertionError("expected DONE, got " + done);
                        }
                        send(c.tag() + " OK Idle completed.\r\n");
                    }
                    case "LOGOUT" -> {
                        send("* BYE Logging out\r\n" + c.tag() + " OK Logout completed.\r\n");
                        close();
                        return;
                    }
                    default -> send(c.tag() + " BAD Not in this script.\r\n");
                }
            }
        }

        /** Reads the literals a command line announces (answering {@code +} to synchronizing ones) and the lines after them. */
        private void readLiterals(String line) throws IOException {
            for (Matcher m = LITERAL_AT_END.matcher(line); m.find(); m = LITERAL_AT_END.matcher(line)) {
                if (m.group(2).isEmpty()) {
                    send("+ Ready for literal data\r\n");
                }
                read(Integer.parseInt(m.group(1)));
                line = line();
            }
        }

        /** The next command's first line. */
        Command command() throws IOException {
            return parse(line());
        }

        /** The next command's first line, which must be a {@code name} command. */
        Command expect(String name) throws IOException {
            Command c = command();
            if (!c.name().equals(name)) {
                throw new AssertionError("expected " + name + ", got: " + c.line());
            }
            return c;
        }

        private static Command parse(String line) {
            String[] words = line.split(" ", 4);
            if (words.length < 2) {
                throw new AssertionError("not a command: " + line);
            }
            String name = words[1].toUpperCase(Locale.ROOT);
            if (name.equals("UID") && words.length > 2) {
                name = "UID " + words[2].toUpperCase(Locale.ROOT);
            }
            return new Command(words[0], name, line);
        }

        /** One line without its CRLF. */
        String line() throws IOException {
            return ClientConnection.readLine(in);
        }

        /** Exactly {@code n} bytes. */
        byte[] read(int n) throws IOException {
            byte[] bytes = in.readNBytes(n);
            if (bytes.length < n) {
                throw new EOFException("end of stream after " + bytes.length + " of " + n + " bytes");
            }
            return bytes;
        }

        void send(String text) throws IOException {
            send(text.getBytes(StandardCharsets.UTF_8));
        }

        void send(byte[] bytes) throws IOException {
            out.write(bytes);
            out.flush();
        }

        /**
         * Sends, where Postern may already have closed the connection on what came before (a
         * limit passed): a reset then ends the sending, and the script goes on to check the close.
         *
         * @return whether all of it was written
         */
        boolean sendUnlessReset(String text) throws IOException {
            try {
                send(text);
                return true;
            } catch (java.net.SocketException reset) {
                String why = String.valueOf(reset.getMessage());
                if (!why.contains("reset") && !why.contains("Broken pipe")) {
                    throw reset;
                }
                return false;
            }
        }

        /**
         * Reads and drops everything until the peer closes; fails when it has not closed within
         * {@code timeout}. How a script checks that Postern gave up on this connection.
         *
         * @return how many bytes came before the end
         */
        long awaitClosedByPeer(Duration timeout) throws IOException {
            socket.setSoTimeout((int) timeout.toMillis());
            long n = 0;
            byte[] buffer = new byte[8192];
            try {
                for (int r; (r = in.read(buffer)) >= 0; ) {
                    n += r;
                }
            } catch (SocketTimeoutException e) {
                throw new AssertionError("Postern did not close the backend connection within " + timeout.toMillis()
                        + " ms (" + n + " bytes read)", e);
            } catch (SocketException e) {
                if (!"Connection reset".equals(e.getMessage())) {
                    throw e;
                }
            }
            return n;
        }

        /** Closes with a TCP reset (RST) instead of a FIN. */
        void reset() throws IOException {
            socket.setSoLinger(true, 0);
            socket.close();
        }

        void close() {
            try {
                socket.close();
            } catch (IOException e) {
                throw new IllegalStateException("closing a test socket", e);
            }
        }

        private static String unquote(String s) {
            return s.length() >= 2 && s.startsWith("\"") && s.endsWith("\"") ? s.substring(1, s.length() - 1) : s;
        }
    }
}
