package io.postern.proxy.testing;

import java.io.File;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A private OpenLDAP {@code slapd} for integration tests: Debian's binary, started in the
 * foreground ({@code -d stats}) as a child of this JVM, in a temporary directory, on a free
 * loopback port, from a generated {@code slapd.conf} (an {@code mdb} database, the {@code core},
 * {@code cosine}, {@code inetorgperson} and {@code misc} schemas) whose entries are loaded with
 * {@code slapadd} before it starts:
 *
 * <pre>{@code
 * slapd = SlapdFixture.builder().ldif("""
 *         dn: uid=alice,ou=people,dc=postern,dc=test
 *         objectClass: inetOrgPerson
 *         objectClass: inetLocalMailRecipient
 *         uid: alice
 *         cn: Alice
 *         sn: A
 *         mailHost: shard-a
 *         """).start();
 * }</pre>
 *
 * <p>The tree has {@value #SUFFIX} with {@code ou=people}, and a service account
 * {@value #SERVICE_DN} (password {@value #SERVICE_PASSWORD}). Anonymous clients may only bind;
 * bound ones may read everything but passwords, so a search that finds anything proves the bind.
 *
 * <p>Where slapd is missing the test is skipped, or fails when {@value DovecotFixture#REQUIRE_ENV}
 * is {@code 1} (CI sets it, and installs {@code slapd}). Not thread-safe.
 */
public final class SlapdFixture implements AutoCloseable {

    public static final String SUFFIX = "dc=postern,dc=test";
    public static final String PEOPLE = "ou=people," + SUFFIX;
    public static final String SERVICE_DN = "cn=postern,ou=services," + SUFFIX;
    public static final String SERVICE_PASSWORD = "service secret";
    public static final String ADMIN_DN = "cn=admin," + SUFFIX;
    private static final String ADMIN_PASSWORD = "admin secret";

    private static final Logger log = LoggerFactory.getLogger(SlapdFixture.class);
    public static final String HOST = "127.0.0.1";
    public static final String OTHER_HOST = "127.0.0.2";
    private static final Path SCHEMA_DIR = Path.of("/etc/ldap/schema");
    private static final List<String> SCHEMAS = List.of("core", "cosine", "inetorgperson", "misc");
    private static final List<Path> BINARY_DIRS = List.of(Path.of("/usr/sbin"), Path.of("/usr/local/sbin"), Path.of("/sbin"));
    private static final Path MODULE_DIR = Path.of("/usr/lib/ldap");
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(15);
    private static final Pattern SEARCH = Pattern.compile(" SRCH base=\"[^\"]*\" scope=\\d deref=\\d filter=\"([^\"]*)\"");
    private static final int START_ATTEMPTS = 3;

    private final Path directory;
    private final Path slapd;
    private final Thread shutdownHook = new Thread(this::kill, "slapd-fixture-shutdown");
    private Process process;
    private int port;
    private int ldapsPort;
    private boolean tls;
    private boolean paused;

    private SlapdFixture(Path directory, Path slapd) {
        this.directory = directory;
        this.slapd = slapd;
    }

    // ---------------------------------------------------------------- availability

    /** Whether slapd can run here, and if not, why. */
    public record Availability(boolean available, String reason) {}

    public static Availability availability() {
        Optional<Path> slapd = findBinary("slapd");
        if (slapd.isEmpty()) {
            return new Availability(false, "no slapd binary in " + BINARY_DIRS + " (install the Debian package slapd)");
        }
        if (findBinary("slapadd").isEmpty()) {
            return new Availability(false, "no slapadd next to " + slapd.get());
        }
        for (String schema : SCHEMAS) {
            if (!Files.isReadable(SCHEMA_DIR.resolve(schema + ".schema"))) {
                return new Availability(false, "no " + SCHEMA_DIR.resolve(schema + ".schema"));
            }
        }
        return new Availability(true, "slapd at " + slapd.get());
    }

    /** Skips the test where slapd is missing; fails it instead when {@value DovecotFixture#REQUIRE_ENV} is 1. */
    public static void assumeAvailable() {
        Availability availability = availability();
        if (!availability.available() && !DovecotFixture.required()) {
            log.warn("SKIPPING: slapd is not available: {}", availability.reason());
        }
        assumeAvailable(availability, DovecotFixture.required());
    }

    static void assumeAvailable(Availability availability, boolean required) {
        if (availability.available()) {
            return;
        }
        if (required) {
            Assertions.fail("slapd is required (" + DovecotFixture.REQUIRE_ENV + "=1) but not available: " + availability.reason());
        }
        Assumptions.abort("slapd not available: " + availability.reason());
    }

    // ---------------------------------------------------------------- start

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private final StringBuilder ldif = new StringBuilder();
        private Path certificate;
        private Path key;

        private Builder() {}

        /** Entries to load besides the base tree, as LDIF (entries separated by a blank line). */
        public Builder ldif(String entries) {
            ldif.append('\n').append(entries.strip()).append('\n');
            return this;
        }

        /**
         * TLS with this PEM certificate and key: StartTLS on the {@code ldap://} port, and an
         * {@code ldaps://} port. Both then listen on {@value #HOST} and on {@value #OTHER_HOST}
         * (for tests of a certificate that names another host).
         */
        public Builder tls(Path certificatePem, Path keyPem) {
            this.certificate = certificatePem;
            this.key = keyPem;
            return this;
        }

        /** Skips or fails where slapd is not available; otherwise loads the entries and starts slapd. */
        public SlapdFixture start() throws IOException {
            assumeAvailable();
            Path dir = Files.createTempDirectory("postern-slapd-");
            SlapdFixture fixture = new SlapdFixture(dir, findBinary("slapd").orElseThrow());
            try {
                if (certificate != null) {
                    fixture.tls = true;
                    Files.copy(certificate, dir.resolve("server.crt"));
                    fixture.copyKey(key, dir.resolve("server.key"));
                }
                fixture.load(ldif.toString());
                Runtime.getRuntime().addShutdownHook(fixture.shutdownHook);
                fixture.launch(true);
                return fixture;
            } catch (IOException | RuntimeException e) {
                fixture.close();
                throw e;
            }
        }
    }

    private void load(String entries) throws IOException {
        Files.createDirectories(directory.resolve("db"));
        StringBuilder conf = new StringBuilder();
        for (String schema : SCHEMAS) {
            conf.append("include ").append(SCHEMA_DIR.resolve(schema + ".schema")).append('\n');
        }
        if (Files.isDirectory(MODULE_DIR)) { // Debian builds the backends as modules
            conf.append("modulepath ").append(MODULE_DIR).append("\nmoduleload back_mdb\n");
        }
        if (tls) {
            conf.append("TLSCertificateFile ").append(directory.resolve("server.crt")).append('\n')
                    .append("TLSCertificateKeyFile ").append(directory.resolve("server.key")).append('\n');
        }
        conf.append("pidfile ").append(directory.resolve("slapd.pid")).append('\n')
                .append("argsfile ").append(directory.resolve("slapd.args")).append('\n')
                .append("database mdb\nmaxsize 16777216\n")
                .append("suffix \"").append(SUFFIX).append("\"\n")
                .append("rootdn \"").append(ADMIN_DN).append("\"\n")
                .append("rootpw \"").append(ADMIN_PASSWORD).append("\"\n")
                .append("directory ").append(directory.resolve("db")).append('\n')
                .append("index objectClass,uid eq\n")
                .append("access to attrs=userPassword by self read by anonymous auth by * none\n")
                .append("access to * by users read by anonymous auth\n");
        Files.writeString(config(), conf.toString(), StandardCharsets.UTF_8);
        String base = """
                dn: %1$s
                objectClass: dcObject
                objectClass: organization
                o: Postern tests
                dc: postern

                dn: %2$s
                objectClass: organizationalUnit
                ou: people

                dn: ou=services,%1$s
                objectClass: organizationalUnit
                ou: services

                dn: %3$s
                objectClass: applicationProcess
                objectClass: simpleSecurityObject
                cn: postern
                userPassword: %4$s
                """.formatted(SUFFIX, PEOPLE, SERVICE_DN, SERVICE_PASSWORD);
        Path data = directory.resolve("data.ldif");
        Files.writeString(data, base + entries, StandardCharsets.UTF_8);
        String failure = run("slapadd", findBinary("slapadd").orElseThrow().toString(),
                "-f", config().toString(), "-l", data.toString());
        if (failure != null) {
            throw new IOException("slapadd failed: " + failure);
        }
    }

    /** Runs a command to its end (bounded); {@code null} when it succeeded, else its output. */
    private String run(String name, String... command) throws IOException {
        Path output = directory.resolve(name + ".out");
        Process child = new ProcessBuilder(command)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectErrorStream(true)
                .redirectOutput(output.toFile())
                .start();
        if (!waitFor(child, STOP_TIMEOUT)) {
            child.destroyForcibly();
            return name + " did not finish within " + STOP_TIMEOUT.toSeconds() + " s";
        }
        return child.exitValue() == 0 ? null : Files.readString(output, StandardCharsets.UTF_8).strip();
    }

    /**
     * Copies an EC key as SEC1 with its public key ({@code openssl ec}): slapd's GnuTLS refuses a
     * PKCS#8 EC key without it, which is what Bouncy Castle writes. Other keys are copied as they are.
     */
    private void copyKey(Path from, Path to) throws IOException {
        String failure = run("openssl", "openssl", "ec", "-in", from.toString(), "-out", to.toString());
        if (failure != null) {
            log.info("openssl ec did not convert {} ({}); slapd gets it as it is", from, failure);
            Files.copy(from, to, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Starts slapd; on a new free port the first time, on the same port after {@link #stop()}. */
    private void launch(boolean newPort) throws IOException {
        for (int attempt = 1; ; attempt++) {
            if (newPort) {
                try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(HOST));
                        ServerSocket t = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
                    port = s.getLocalPort();
                    ldapsPort = t.getLocalPort();
                }
            }
            String urls = "ldap://" + HOST + ":" + port + "/";
            if (tls) {
                urls += " ldaps://" + HOST + ":" + ldapsPort + "/ ldap://" + OTHER_HOST + ":" + port + "/ ldaps://"
                        + OTHER_HOST + ":" + ldapsPort + "/";
            }
            long offset = Files.isRegularFile(logPath()) ? Files.size(logPath()) : 0;
            process = new ProcessBuilder(slapd.toString(), "-f", config().toString(), "-h", urls, "-d", "stats")
                    .directory(directory.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(logPath().toFile()))
                    .start();
            String problem = awaitReady(offset, Instant.now().plus(START_TIMEOUT));
            if (problem == null) {
                log.info("slapd ready on {}:{} (directory {})", HOST, port, directory);
                return;
            }
            boolean portTaken = logSince(offset).contains("Address already in use");
            if (portTaken && newPort && attempt < START_ATTEMPTS) {
                continue; // lost a race for the free port
            }
            kill();
            throw new IOException("slapd did not start: " + problem + "\n--- " + logPath() + " ---\n" + tail(logSince(offset))
                    + "(an AppArmor profile for slapd, /etc/apparmor.d/usr.sbin.slapd, can forbid its files in "
                    + directory.getParent() + ")");
        }
    }

    private String awaitReady(long offset, Instant deadline) throws IOException {
        IOException last = null;
        while (Instant.now().isBefore(deadline)) {
            if (!process.isAlive()) {
                return "slapd exited with status " + process.exitValue();
            }
            if (logSince(offset).contains("slapd starting")) {
                try (Socket socket = new Socket()) {
                    socket.connect(new InetSocketAddress(HOST, port), 1000);
                    return null;
                } catch (IOException notYet) {
                    last = notYet;
                }
            }
            sleep(Duration.ofMillis(20));
        }
        return "not listening on " + HOST + ":" + port + " within " + START_TIMEOUT.toSeconds() + " s (" + last + ")";
    }

    // ---------------------------------------------------------------- control

    /** {@code ldap://127.0.0.1:PORT}. */
    public String url() {
        return "ldap://" + HOST + ":" + port;
    }

    public int port() {
        return port;
    }

    /** {@code ldap://HOST:PORT} for {@value #HOST} or, with TLS, {@value #OTHER_HOST}. */
    public String url(String host) {
        return "ldap://" + host + ":" + port;
    }

    /** {@code ldaps://HOST:PORT}; only with {@link Builder#tls}. */
    public String ldapsUrl(String host) {
        if (!tls) {
            throw new IllegalStateException("this slapd was started without TLS");
        }
        return "ldaps://" + host + ":" + ldapsPort;
    }

    public Path logPath() {
        return directory.resolve("slapd.log");
    }

    public boolean isRunning() {
        return process != null && process.isAlive();
    }

    /** Stops slapd (SIGTERM, then SIGKILL); the data stays for {@link #restart()}. */
    public void stop() throws IOException {
        if (process == null || !process.isAlive()) {
            return;
        }
        if (paused) {
            resume();
        }
        process.destroy();
        if (!waitFor(process, STOP_TIMEOUT)) {
            log.warn("slapd ignored SIGTERM for {} s; killing it", STOP_TIMEOUT.toSeconds());
            process.destroyForcibly();
            if (!waitFor(process, STOP_TIMEOUT)) {
                throw new IOException("slapd (pid " + process.pid() + ") survived a kill");
            }
        }
    }

    /** Starts slapd again on the same port, with the same data. */
    public void restart() throws IOException {
        stop();
        launch(false);
    }

    /**
     * Stops the process with SIGSTOP: the kernel still accepts connections on its port, but
     * nothing answers, as with a directory that hangs.
     */
    public void pause() throws IOException {
        signal("STOP");
        paused = true;
    }

    public void resume() throws IOException {
        signal("CONT");
        paused = false;
    }

    private void signal(String name) throws IOException {
        Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid()))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (!waitFor(kill, STOP_TIMEOUT) || kill.exitValue() != 0) {
            throw new IOException("kill -" + name + " " + process.pid() + " failed");
        }
    }

    /** The filters of every search slapd has logged so far, in order, as slapd logged them. */
    public List<String> searches() throws IOException {
        List<String> filters = new ArrayList<>();
        Matcher m = SEARCH.matcher(logSince(0));
        while (m.find()) {
            filters.add(m.group(1));
        }
        return filters;
    }

    /** Changes entries of the running slapd with {@code ldapmodify} (Debian's ldap-utils), as its root DN. */
    public void modify(String ldif) throws IOException {
        Path ldapmodify = findBinary("ldapmodify").or(() -> Optional.of(Path.of("/usr/bin/ldapmodify")))
                .filter(Files::isExecutable)
                .orElseThrow(() -> new IOException("no ldapmodify (install the Debian package ldap-utils)"));
        Path file = directory.resolve("modify.ldif");
        Files.writeString(file, ldif, StandardCharsets.UTF_8);
        String failure = run("ldapmodify", ldapmodify.toString(), "-x", "-H", url(), "-D", ADMIN_DN, "-w", ADMIN_PASSWORD,
                "-f", file.toString());
        if (failure != null) {
            throw new IOException("ldapmodify failed: " + failure);
        }
    }

    /** How many connections slapd has accepted so far. */
    public int connectionCount() throws IOException {
        return (int) logSince(0).lines().filter(l -> l.contains(" ACCEPT from IP=")).count();
    }

    /** How many StartTLS requests slapd has logged so far. */
    public int startTlsCount() throws IOException {
        return (int) logSince(0).lines().filter(l -> l.contains(" EXT oid=1.3.6.1.4.1.1466.20037")).count();
    }

    /** Stops slapd and deletes its directory. Idempotent. */
    @Override
    public void close() throws IOException {
        try {
            stop();
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException | IllegalArgumentException notAddedOrShuttingDown) {
                log.debug("slapd shutdown hook not removed: {}", notAddedOrShuttingDown.toString());
            }
            if (Files.exists(directory)) {
                try (Stream<Path> walk = Files.walk(directory)) {
                    for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(p);
                    }
                }
            }
        }
    }

    private void kill() {
        if (process != null) {
            process.destroyForcibly();
        }
    }

    // ---------------------------------------------------------------- helpers

    private Path config() {
        return directory.resolve("slapd.conf");
    }

    private String logSince(long offset) throws IOException {
        if (!Files.isRegularFile(logPath())) {
            return "";
        }
        byte[] all = Files.readAllBytes(logPath());
        int from = (int) Math.min(offset, all.length);
        return new String(all, from, all.length - from, StandardCharsets.ISO_8859_1);
    }

    private static String tail(String text) {
        List<String> lines = text.lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size())) + "\n";
    }

    private static Optional<Path> findBinary(String name) {
        return BINARY_DIRS.stream().map(d -> d.resolve(name)).filter(Files::isExecutable).findFirst();
    }

    private static boolean waitFor(Process p, Duration timeout) throws IOException {
        try {
            return p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for slapd");
        }
    }

    private static void sleep(Duration d) throws IOException {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for slapd");
        }
    }
}
