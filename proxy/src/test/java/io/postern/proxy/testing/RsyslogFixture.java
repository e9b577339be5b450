package io.postern.proxy.testing;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * A private rsyslog (Debian's {@code rsyslogd}) in the foreground on a free loopback port,
 * receiving RFC 5424 over TCP, or over TLS (RFC 5425, the {@code gtls} driver) with a given
 * certificate, and writing each message twice: the raw message as received ({@link #raw()}) and
 * the fields rsyslog parsed from it, separated by {@code |} ({@link #parsed()}: PRI, version,
 * timestamp, hostname, app-name, procid, msgid, structured data, msg). It can be stopped and
 * started again on the same port (a receiver that goes away and comes back).
 *
 * <p>Where rsyslogd is missing the test is skipped, or fails when
 * {@value DovecotFixture#REQUIRE_ENV} is 1.
 */
public final class RsyslogFixture implements AutoCloseable {

    private static final Path RSYSLOGD = Path.of("/usr/sbin/rsyslogd");
    private static final Path GTLS = Path.of("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so");
    private static final Duration START_TIMEOUT = Duration.ofSeconds(20);

    private final Path dir;
    private final int port;
    private final Path config;
    private Process process;

    private RsyslogFixture(Path dir, int port, Path cert, Path key, Path ca) throws IOException {
        this.dir = dir;
        this.port = port;
        this.config = dir.resolve("rsyslog.conf");
        String tls = cert == null ? "" : """
                global(DefaultNetstreamDriverCAFile="%s" DefaultNetstreamDriverCertFile="%s" DefaultNetstreamDriverKeyFile="%s")
                """.formatted(ca, cert, key);
        String module = cert == null ? "module(load=\"imtcp\")"
                : "module(load=\"imtcp\" StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\")";
        Files.writeString(config, """
                global(workDirectory="%1$s" maxMessageSize="64k")
                %2$s
                %3$s
                input(type="imtcp" address="127.0.0.1" port="%4$d" ruleset="audit")
                template(name="raw" type="string" string="%%rawmsg%%\\n")
                template(name="parsed" type="string" string="%%pri%%|%%protocol-version%%|%%timereported:::date-rfc3339%%|%%hostname%%|%%app-name%%|%%procid%%|%%msgid%%|%%structured-data%%|%%msg%%\\n")
                ruleset(name="audit") {
                  action(type="omfile" file="%1$s/raw.log" template="raw")
                  action(type="omfile" file="%1$s/parsed.log" template="parsed")
                }
                """.formatted(dir, tls, module, port));
    }

    /** Skips the test where rsyslogd (and, for TLS, its gtls driver) is missing; fails instead when required. */
    public static void assumeAvailable(boolean tls) {
        boolean there = Files.isExecutable(RSYSLOGD) && (!tls || Files.exists(GTLS));
        String reason = "rsyslogd" + (tls ? " with rsyslog-gnutls" : "") + " is not installed";
        if (!there && DovecotFixture.required()) {
            Assertions.fail("rsyslog is required (" + DovecotFixture.REQUIRE_ENV + "=1) but " + reason);
        }
        Assumptions.assumeTrue(there, reason);
    }

    /** A receiver over plain TCP. */
    public static RsyslogFixture plain(Path dir) throws IOException {
        assumeAvailable(false);
        RsyslogFixture f = new RsyslogFixture(Files.createDirectories(dir), freePort(), null, null, null);
        f.start();
        return f;
    }

    /** A receiver over TLS with {@code cert} and {@code key} (PEM) issued by {@code ca}. */
    public static RsyslogFixture tls(Path dir, Path cert, Path key, Path ca) throws IOException {
        assumeAvailable(true);
        RsyslogFixture f = new RsyslogFixture(Files.createDirectories(dir), freePort(), cert, key, ca);
        f.start();
        return f;
    }

    public int port() {
        return port;
    }

    /** Starts rsyslogd (again) and waits until it accepts connections. */
    public void start() throws IOException {
        if (process != null && process.isAlive()) {
            return;
        }
        process = new ProcessBuilder(RSYSLOGD.toString(), "-n", "-f", config.toString(), "-i", dir.resolve("rsyslogd.pid").toString())
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("rsyslogd.out").toFile()))
                .start();
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException("rsyslogd exited with " + process.exitValue() + ": "
                        + Files.readString(dir.resolve("rsyslogd.out"), StandardCharsets.UTF_8));
            }
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
                return;
            } catch (IOException notYet) {
                sleep(50);
            }
        }
        throw new IOException("rsyslogd did not listen on " + port + " within " + START_TIMEOUT);
    }

    /** Stops rsyslogd (SIGTERM; it writes what it received first) and waits for it to exit. */
    public void stop() throws IOException {
        if (process == null) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(START_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                process.waitFor(START_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while stopping rsyslogd", e);
        }
        process = null;
    }

    /** The messages as received, one a line (empty before the first). */
    public List<String> raw() throws IOException {
        return lines("raw.log");
    }

    /** The fields rsyslog parsed, one message a line. */
    public List<String> parsed() throws IOException {
        return lines("parsed.log");
    }

    /** Waits until at least {@code count} messages were written (bounded), and returns them raw. */
    public List<String> awaitRaw(int count) throws IOException {
        for (int i = 0; i < 500 && raw().size() < count; i++) {
            sleep(20);
        }
        return raw();
    }

    /**
     * Waits until at least {@code count} messages were written parsed (bounded), and returns them:
     * rsyslog writes its two files each on its own, so the parsed one may lag the raw one.
     */
    public List<String> awaitParsed(int count) throws IOException {
        for (int i = 0; i < 500 && parsed().size() < count; i++) {
            sleep(20);
        }
        return parsed();
    }

    private List<String> lines(String name) throws IOException {
        Path p = dir.resolve(name);
        return Files.exists(p) ? Files.readAllLines(p, StandardCharsets.UTF_8) : List.of();
    }

    @Override
    public void close() throws IOException {
        stop();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static void sleep(long millis) throws IOException {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
