package io.postern.policies.testing;

import io.postern.policies.scan.ClamdClient;
import io.postern.policies.scan.ClamdConfig;
import java.io.File;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * A private clamd for tests: Debian's {@code /usr/sbin/clamd} (package {@code clamav-daemon}) in
 * the foreground as a child of this JVM, in a temporary directory, listening on a free loopback
 * TCP port and on a Unix socket, with a two-signature database written here (the EICAR test
 * string as a body signature and as a file hash), as clamd refuses to start without signatures
 * and these machines cannot download any. clamd takes seconds to start: one per test class.
 *
 * <pre>{@code
 * @BeforeAll static void start() throws IOException { clamd = ClamdFixture.start(); }
 * @AfterAll static void stop() throws IOException { if (clamd != null) clamd.close(); }
 * }</pre>
 *
 * <p>Where clamd is missing the test is skipped with a loud message, or fails when
 * {@value #REQUIRE_ENV}{@code =1} (CI sets it and installs {@code clamav-daemon}). Not thread-safe.
 */
public final class ClamdFixture implements AutoCloseable {

    /** The same switch as the Dovecot fixture's: {@code 1} turns a missing clamd into a failure. */
    public static final String REQUIRE_ENV = "POSTERN_REQUIRE_DOVECOT";
    /** What clamd calls the body signature of {@link #eicar()}. */
    public static final String SIGNATURE = "Test.Eicar.UNOFFICIAL";

    private static final List<Path> BINARY_DIRS = List.of(Path.of("/usr/sbin"), Path.of("/usr/local/sbin"), Path.of("/sbin"));
    private static final Duration START_TIMEOUT = Duration.ofSeconds(90);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(15);
    private static final int START_ATTEMPTS = 3;

    private final Path directory;
    private final Thread shutdownHook = new Thread(this::kill, "clamd-fixture-shutdown");
    private Process process;
    private int port;

    private ClamdFixture(Path directory) {
        this.directory = directory;
    }

    /**
     * The 68-byte EICAR antivirus test file. Built from two halves so that no source or class
     * file holds it whole for a scanner on a developer's machine to quarantine.
     */
    public static byte[] eicar() {
        String first = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$";
        String second = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
        return (first + second).getBytes(StandardCharsets.US_ASCII);
    }

    // ---------------------------------------------------------------- availability

    /** Whether clamd can run here, and if not, why. */
    public record Availability(boolean available, String reason) {}

    public static Availability availability() {
        Optional<Path> clamd = findBinary("clamd");
        return clamd.map(p -> new Availability(true, "clamd at " + p))
                .orElseGet(() -> new Availability(false, "no clamd binary in " + BINARY_DIRS
                        + " (install the Debian package clamav-daemon)"));
    }

    public static boolean required() {
        return "1".equals(System.getenv(REQUIRE_ENV));
    }

    /** Skips the test where clamd is missing, saying so on stderr; fails it when {@link #required()}. */
    public static void assumeAvailable() {
        Availability availability = availability();
        if (!availability.available() && !required()) {
            System.err.println("SKIPPING clamd tests: " + availability.reason());
        }
        assumeAvailable(availability, required());
    }

    static void assumeAvailable(Availability availability, boolean required) {
        if (availability.available()) {
            return;
        }
        if (required) {
            Assertions.fail("clamd is required (" + REQUIRE_ENV + "=1) but not available: " + availability.reason());
        }
        Assumptions.abort("clamd not available: " + availability.reason());
    }

    // ---------------------------------------------------------------- start and stop

    /** Starts clamd and waits until it answers PING on both sockets. */
    public static ClamdFixture start() throws IOException {
        assumeAvailable();
        Path directory = Files.createTempDirectory("postern-clamd-");
        ClamdFixture fixture = new ClamdFixture(directory);
        try {
            fixture.writeDatabase();
            IOException last = null;
            for (int attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
                try {
                    fixture.startOnce();
                    return fixture;
                } catch (IOException e) {
                    // most likely the free port was taken between choosing and binding it
                    last = e;
                    fixture.stopProcess();
                }
            }
            throw last;
        } catch (IOException | RuntimeException e) {
            try {
                fixture.close();
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    private void writeDatabase() throws IOException {
        Path db = Files.createDirectories(directory.resolve("db"));
        byte[] eicar = eicar();
        Files.writeString(db.resolve("test-eicar.ndb"), "Test.Eicar:0:*:" + HexFormat.of().formatHex(eicar) + "\n");
        Files.writeString(db.resolve("test-eicar.hdb"), md5(eicar) + ":" + eicar.length + ":Test.Eicar-File\n");
    }

    private void startOnce() throws IOException {
        port = freePort();
        Files.deleteIfExists(socket());
        Path config = directory.resolve("clamd.conf");
        Files.writeString(config, String.join("\n",
                "DatabaseDirectory " + directory.resolve("db"),
                "PidFile " + directory.resolve("clamd.pid"),
                "LogFile " + log(),
                "TCPSocket " + port,
                "TCPAddr 127.0.0.1",
                "LocalSocket " + socket(),
                "Foreground yes",
                "StreamMaxLength 100M",
                "MaxScanSize 400M",
                "MaxFileSize 100M",
                "ScanMail yes",
                "ScanArchive yes",
                ""));
        process = new ProcessBuilder(findBinary("clamd").orElseThrow().toString(), "-c", config.toString())
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(directory.resolve("clamd.out").toFile()))
                .start();
        if (!shutdownHookAdded) {
            Runtime.getRuntime().addShutdownHook(shutdownHook);
            shutdownHookAdded = true;
        }
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        IOException lastTry = null;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException("clamd exited with status " + process.exitValue() + ": " + tail());
            }
            try {
                if (ping(tcpAddress()) && ping(unixAddress())) {
                    return;
                }
            } catch (IOException notYet) {
                lastTry = notYet;
            }
            sleep(200);
        }
        throw new IOException("clamd did not answer PING within " + START_TIMEOUT.toSeconds() + " s (last: " + lastTry + "): " + tail());
    }

    private boolean shutdownHookAdded;

    /** True when clamd at {@code address} answers {@code zPING} with {@code PONG} within two seconds. */
    static boolean ping(String address) throws IOException {
        ClamdConfig config = ClamdConfig.defaults(address).withTimeout(Duration.ofSeconds(2));
        try (ClamdClient client = new ClamdClient(config)) {
            return client.ping().get().equals("PONG");
        } catch (ExecutionException e) {
            throw new IOException("no PONG from " + address, e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted waiting for clamd");
        }
    }

    /** The TCP port on 127.0.0.1. */
    public int port() {
        return port;
    }

    /** {@code 127.0.0.1:port}, as {@code ClamdConfig.address} takes it. */
    public String tcpAddress() {
        return "127.0.0.1:" + port;
    }

    /** {@code unix:/path}, as {@code ClamdConfig.address} takes it. */
    public String unixAddress() {
        return "unix:" + socket();
    }

    public Path socket() {
        return directory.resolve("clamd.sock");
    }

    public Path log() {
        return directory.resolve("clamd.log");
    }

    /** The last lines of clamd's log and output, for failure messages. */
    public String tail() {
        StringBuilder out = new StringBuilder();
        for (Path p : List.of(log(), directory.resolve("clamd.out"))) {
            try {
                if (Files.exists(p)) {
                    List<String> lines = Files.readAllLines(p, StandardCharsets.ISO_8859_1);
                    out.append('\n').append(p.getFileName()).append(":\n")
                            .append(String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size())));
                }
            } catch (IOException e) {
                out.append("\n(cannot read ").append(p).append(": ").append(e).append(')');
            }
        }
        return out.toString();
    }

    /** Stops clamd (SIGTERM, then SIGKILL) and deletes the directory. */
    @Override
    public void close() throws IOException {
        try {
            stopProcess();
        } finally {
            if (shutdownHookAdded) {
                try {
                    Runtime.getRuntime().removeShutdownHook(shutdownHook);
                } catch (IllegalStateException shuttingDown) {
                    // the hook is running or about to: it kills clamd itself
                }
                shutdownHookAdded = false;
            }
            deleteTree(directory);
        }
    }

    private void stopProcess() throws IOException {
        if (process == null) {
            return;
        }
        Process p = process;
        process = null;
        p.destroy();
        if (!waitFor(p, STOP_TIMEOUT)) {
            p.destroyForcibly();
            if (!waitFor(p, STOP_TIMEOUT)) {
                throw new IOException("clamd (pid " + p.pid() + ") survived a kill");
            }
        }
    }

    private void kill() {
        Process p = process;
        if (p != null) {
            p.destroyForcibly();
        }
    }

    private static boolean waitFor(Process p, Duration timeout) throws IOException {
        try {
            return p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted waiting for clamd to stop");
        }
    }

    private static void sleep(long millis) throws IOException {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted waiting for clamd");
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static Optional<Path> findBinary(String name) {
        return BINARY_DIRS.stream().map(d -> d.resolve(name)).filter(Files::isExecutable).findFirst();
    }

    private static String md5(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has MD5", e);
        }
    }
}
