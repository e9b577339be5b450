package io.postern.proxy.testing;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A private Dovecot 2.3 for integration tests: started from the local {@code dovecot} binary in a
 * temporary directory, on free loopback ports, from {@code dovecot/dovecot.conf.template} on the
 * test class path. One instance per test class:
 *
 * <pre>{@code
 * private static DovecotFixture dovecot;
 *
 * @BeforeAll
 * static void startDovecot() throws IOException {
 *     dovecot = DovecotFixture.builder().user("alice", "secret").start();
 *     dovecot.seedMessage("alice", "INBOX", rfc822Bytes);
 * }
 *
 * @AfterAll
 * static void stopDovecot() throws IOException {
 *     if (dovecot != null) {
 *         dovecot.close();
 *     }
 * }
 * }</pre>
 *
 * <p>Plain by default ({@code ssl = no}): the plain port offers no STARTTLS and {@link #tlsPort()}
 * stays closed. With {@link Builder#tls(Path, Path)} Dovecot runs with {@code ssl = yes}: the plain
 * port offers STARTTLS, {@link #tlsPort()} serves implicit TLS (imaps), and plain-text logins are
 * still accepted on the plain port ({@code disable_plaintext_auth = no}).
 *
 * <p>{@link Builder#start()} first calls {@link #assumeAvailable()}: where Dovecot cannot run, the
 * test class is skipped, or fails when the environment variable {@value #REQUIRE_ENV} is {@code 1}
 * (CI sets it, so a machine without Dovecot cannot pass by skipping).
 *
 * <p>Dovecot runs in the foreground ({@code dovecot -F}) as a child of this JVM; it needs root,
 * and keeps mail under a non-root system user ({@value #DEFAULT_MAIL_USER} unless changed), which
 * is created when missing. Messages are served with CRLF line ends: seed CRLF messages to compare
 * bytes, as Dovecot turns every bare LF into CRLF in {@code FETCH BODY[]}.
 *
 * <p>Not thread-safe; one test thread at a time.
 */
public final class DovecotFixture implements AutoCloseable {

    /** Set to {@code 1} to turn "Dovecot is not available" from a skip into a failure. */
    public static final String REQUIRE_ENV = "POSTERN_REQUIRE_DOVECOT";
    /** The system user that owns the mail, as Dovecot refuses mail access as uid 0. */
    public static final String DEFAULT_MAIL_USER = "vmail";

    static final String TEMPLATE_RESOURCE = "/dovecot/dovecot.conf.template";

    private static final Logger log = LoggerFactory.getLogger(DovecotFixture.class);
    private static final String HOST = "127.0.0.1";
    private static final List<Path> EXTRA_BINARY_DIRS =
            List.of(Path.of("/usr/sbin"), Path.of("/usr/local/sbin"), Path.of("/sbin"));
    private static final Pattern USER_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._@+-]*");
    private static final Pattern FOLDER_SEGMENT = Pattern.compile("[A-Za-z0-9 _+-]+");
    private static final Pattern PLACEHOLDER = Pattern.compile("@[A-Z_]+@");
    private static final int START_ATTEMPTS = 3;
    private static final Duration PROCESS_TIMEOUT = Duration.ofSeconds(15);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(15);
    private static final int LOG_TAIL_LINES = 40;
    private static final Set<PosixFilePermission> DIR_0755 = PosixFilePermissions.fromString("rwxr-xr-x");
    private static final Set<PosixFilePermission> DIR_0700 = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> FILE_0644 = PosixFilePermissions.fromString("rw-r--r--");
    private static final Set<PosixFilePermission> FILE_0600 = PosixFilePermissions.fromString("rw-------");

    private final String name;
    private final Path directory;
    private final Binaries binaries;
    private final MailUser mailUser;
    private final boolean keepDirectory;
    private final boolean tls;
    private final Set<String> users = new HashSet<>();
    private final long seedEpochSecond = Instant.now().getEpochSecond();
    private final AtomicLong seedSequence = new AtomicLong();
    private final Thread shutdownHook;

    private boolean shutdownHookAdded;
    private Process process;
    private int port;
    private int tlsPort;
    private int proxyPort;
    private boolean stopped;

    /** Lines added at the end of the configuration ({@link Builder#setting}). */
    private List<String> settings = List.of();

    private DovecotFixture(
            String name, Path directory, Binaries binaries, MailUser mailUser, boolean keepDirectory, boolean tls) {
        this.name = name;
        this.directory = directory;
        this.binaries = binaries;
        this.mailUser = mailUser;
        this.keepDirectory = keepDirectory;
        this.tls = tls;
        this.shutdownHook = new Thread(this::killProcesses, "dovecot-fixture-" + name + "-shutdown");
    }

    // ---------------------------------------------------------------- availability

    /** Whether Dovecot can be started here, and if not, why. */
    public record Availability(boolean available, String reason) {}

    /** True when a private Dovecot can be started on this machine. */
    public static boolean available() {
        return availability().available();
    }

    /** Whether a private Dovecot can be started here: the binaries are present and we are root. */
    public static Availability availability() {
        Optional<Path> dovecot = findBinary("dovecot");
        if (dovecot.isEmpty()) {
            return new Availability(false, "no dovecot binary on PATH or in " + EXTRA_BINARY_DIRS
                    + " (install the Debian package dovecot-imapd)");
        }
        if (findBinary("doveadm").isEmpty()) {
            return new Availability(false, "no doveadm binary next to " + dovecot.get());
        }
        String processOwner;
        try {
            processOwner = Files.getOwner(Path.of("/proc/self")).getName();
        } catch (IOException e) {
            return new Availability(false, "cannot tell the process owner from /proc/self: " + e);
        }
        if (!processOwner.equals("root")) {
            return new Availability(false, "running as " + processOwner + ", but the Dovecot fixture needs root");
        }
        return new Availability(true, "dovecot at " + dovecot.get() + ", running as root");
    }

    /** True when {@value #REQUIRE_ENV}{@code =1}: a missing Dovecot fails instead of skipping. */
    public static boolean required() {
        return "1".equals(System.getenv(REQUIRE_ENV));
    }

    /**
     * Skips the current test (or test class, from {@code @BeforeAll}) when Dovecot is not available;
     * fails it instead when {@link #required()}.
     */
    public static void assumeAvailable() {
        assumeAvailable(availability(), required());
    }

    static void assumeAvailable(Availability availability, boolean required) {
        if (availability.available()) {
            return;
        }
        if (required) {
            Assertions.fail("Dovecot is required (" + REQUIRE_ENV + "=1) but not available: " + availability.reason());
        }
        Assumptions.abort("Dovecot not available: " + availability.reason());
    }

    // ---------------------------------------------------------------- start

    /** A builder; {@link Builder#start()} starts Dovecot. */
    public static Builder builder() {
        return new Builder();
    }

    /** Starts a Dovecot with the default settings and no users; add them with {@link #addUser}. */
    public static DovecotFixture start() throws IOException {
        return builder().start();
    }

    /** Settings of a {@link DovecotFixture}; every setting has a default. */
    public static final class Builder {
        private String name = "postern-test";
        private String mailUser = DEFAULT_MAIL_USER;
        private Duration startTimeout = Duration.ofSeconds(20);
        private boolean keepDirectory;
        private Path tlsCertificate;
        private Path tlsKey;
        private final Map<String, String> users = new LinkedHashMap<>();
        private final List<String> settings = new java.util.ArrayList<>();

        private Builder() {}

        /**
         * A line of Dovecot configuration added at the end ({@code imap_capability = IMAP4rev1 IDLE}),
         * or several: a later value of a setting wins, and a {@code service NAME { ... }} block
         * named again is merged with the template's.
         */
        public Builder setting(String line) {
            settings.add(line);
            return this;
        }

        /** The instance name: in the greeting ({@code Dovecot NAME ready.}) and in {@code ID} as "x-backend". */
        public Builder name(String name) {
            if (!USER_NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("name: " + name + " (expected: " + USER_NAME + ")");
            }
            this.name = name;
            return this;
        }

        /** A mail user with a plain-text password; more can be added after start. */
        public Builder user(String user, String password) {
            checkUser(user, password);
            if (users.putIfAbsent(user, password) != null) {
                throw new IllegalArgumentException("user " + user + " given twice");
            }
            return this;
        }

        /** The non-root system user that owns the mail (default {@value #DEFAULT_MAIL_USER}). */
        public Builder mailUser(String mailUser) {
            if (!USER_NAME.matcher(mailUser).matches()) {
                throw new IllegalArgumentException("mailUser: " + mailUser + " (expected: " + USER_NAME + ")");
            }
            this.mailUser = mailUser;
            return this;
        }

        /** How long to wait for the greeting (default 20 s). */
        public Builder startTimeout(Duration startTimeout) {
            if (startTimeout.isNegative() || startTimeout.isZero()) {
                throw new IllegalArgumentException("startTimeout: " + startTimeout + " (expected: > 0)");
            }
            this.startTimeout = startTimeout;
            return this;
        }

        /** Keep the temporary directory (config, log, mail) after {@link #stop()}, for debugging. */
        public Builder keepDirectory(boolean keepDirectory) {
            this.keepDirectory = keepDirectory;
            return this;
        }

        /**
         * Turns TLS on ({@code ssl = yes}, at least TLS 1.2) with a server certificate and its key:
         * the plain port then offers STARTTLS and {@link DovecotFixture#tlsPort()} serves implicit
         * TLS. Both files are copied into the fixture's directory at {@link #start()}.
         *
         * @param certificatePem the server certificate, then any intermediates, as PEM
         * @param keyPem its private key as unencrypted PEM (PKCS#8, PKCS#1 or SEC1)
         */
        public Builder tls(Path certificatePem, Path keyPem) {
            this.tlsCertificate = requireRegularFile("tls certificate", certificatePem);
            this.tlsKey = requireRegularFile("tls key", keyPem);
            return this;
        }

        /**
         * Skips or fails (see {@link #assumeAvailable()}) where Dovecot is not available; otherwise
         * starts it and returns once the IMAP port has sent its greeting.
         *
         * @throws IOException when Dovecot does not start; the message holds the tail of its log
         */
        public DovecotFixture start() throws IOException {
            assumeAvailable();
            Binaries binaries = Binaries.find();
            MailUser owner = MailUser.ensure(mailUser);
            Path directory = createDirectory();
            DovecotFixture fixture =
                    new DovecotFixture(name, directory, binaries, owner, keepDirectory, tlsCertificate != null);
            fixture.settings = List.copyOf(settings);
            try {
                if (tlsCertificate != null) {
                    fixture.writeTlsConfig(tlsCertificate, tlsKey);
                }
                for (Map.Entry<String, String> user : users.entrySet()) {
                    fixture.addUser(user.getKey(), user.getValue());
                }
                fixture.launch(startTimeout);
            } catch (IOException | RuntimeException e) {
                try {
                    fixture.stop();
                } catch (IOException | RuntimeException cleanup) {
                    e.addSuppressed(cleanup);
                }
                throw e;
            }
            return fixture;
        }
    }

    private static Path requireRegularFile(String what, Path file) {
        if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
            throw new IllegalArgumentException(what + ": " + file + " (expected: a readable file)");
        }
        return file;
    }

    private static Path createDirectory() throws IOException {
        Path directory = Files.createTempDirectory("postern-dovecot-");
        // Dovecot's auth process runs as user dovecot and reads passwd here; mail is owned by vmail.
        Files.setPosixFilePermissions(directory, DIR_0755);
        for (Path p = directory.getParent(); p != null; p = p.getParent()) {
            if (!Files.getPosixFilePermissions(p).contains(PosixFilePermission.OTHERS_EXECUTE)) {
                throw new IOException("Dovecot's users cannot traverse " + p + " ("
                        + PosixFilePermissions.toString(Files.getPosixFilePermissions(p))
                        + "), a parent of the temporary directory; point java.io.tmpdir elsewhere, e.g. /tmp");
            }
        }
        // Users live in passwd.d (see addUser); the template's shared passwd file stays empty.
        Files.createFile(directory.resolve("passwd"));
        Files.setPosixFilePermissions(directory.resolve("passwd"), FILE_0644);
        for (String sub : List.of("passwd.d", "mail")) {
            Files.createDirectories(directory.resolve(sub));
            Files.setPosixFilePermissions(directory.resolve(sub), DIR_0755);
        }
        return directory;
    }

    /**
     * Copies the pair into the directory and names it in {@code tls.conf}, which the template
     * includes. Dovecot reads {@code <file} values in its config process, as root: the key can
     * stay private to root.
     */
    private void writeTlsConfig(Path certificatePem, Path keyPem) throws IOException {
        Path certificate = directory.resolve("server.crt");
        Path key = directory.resolve("server.key");
        Files.copy(certificatePem, certificate);
        Files.setPosixFilePermissions(certificate, FILE_0644);
        Files.copy(keyPem, key);
        Files.setPosixFilePermissions(key, FILE_0600);
        Path tlsConfig = directory.resolve("tls.conf");
        Files.writeString(tlsConfig, "ssl_cert = <" + certificate + "\n"
                + "ssl_key = <" + key + "\n"
                + "ssl_min_protocol = TLSv1.2\n", StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(tlsConfig, FILE_0644);
    }

    private void launch(Duration startTimeout) throws IOException {
        Runtime.getRuntime().addShutdownHook(shutdownHook);
        shutdownHookAdded = true;
        long started = System.nanoTime();
        for (int attempt = 1; ; attempt++) {
            int[] ports = freeLoopbackPorts(3);
            port = ports[0];
            tlsPort = ports[1];
            proxyPort = ports[2];
            writeConfig();
            long logOffset = Files.isRegularFile(logPath()) ? Files.size(logPath()) : 0;
            process = new ProcessBuilder(binaries.dovecot().toString(), "-F", "-c", configPath().toString())
                    .directory(directory.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(outputPath().toFile()))
                    .start();
            String problem = awaitGreeting(Instant.now().plus(startTimeout));
            if (problem == null) {
                log.info("Dovecot {} ready on {}:{} in {} ms (directory {})",
                        name, HOST, port, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), directory);
                return;
            }
            boolean portTaken = !process.isAlive() && logSince(logOffset).contains("Address already in use");
            if (portTaken && attempt < START_ATTEMPTS) {
                log.warn("Dovecot {} lost a race for a free port (attempt {}), retrying on other ports", name, attempt);
                continue;
            }
            throw new IOException("Dovecot " + name + " did not start: " + problem + "\n" + describeLogs());
        }
    }

    /** Returns null once the greeting was read, or why it was not. */
    private String awaitGreeting(Instant deadline) throws IOException {
        InetSocketAddress address = new InetSocketAddress(HOST, port);
        String expected = "Dovecot " + name + " ready.";
        IOException lastFailure = null;
        while (true) {
            if (!process.isAlive()) {
                return "dovecot -F exited with status " + process.exitValue();
            }
            long remaining = Duration.between(Instant.now(), deadline).toMillis();
            if (remaining <= 0) {
                return "no greeting on " + HOST + ":" + port + " within the start timeout (last attempt: "
                        + lastFailure + ")";
            }
            try (Socket socket = new Socket()) {
                socket.connect(address, (int) Math.min(remaining, 1000));
                socket.setSoTimeout((int) Math.min(remaining, 2000));
                String greeting = readLine(socket.getInputStream());
                if (greeting.startsWith("* OK") && greeting.contains(expected)) {
                    return null;
                }
                return "unexpected greeting on " + HOST + ":" + port + ": " + greeting;
            } catch (IOException notYet) {
                // Refused until the master has bound the port; kept for the timeout message.
                lastFailure = notYet;
                sleep(Duration.ofMillis(20));
            }
        }
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        for (int b = in.read(); b != -1 && b != '\n'; b = in.read()) {
            if (b != '\r') {
                line.append((char) b);
            }
        }
        return line.toString();
    }

    private void writeConfig() throws IOException {
        String template;
        try (InputStream in = DovecotFixture.class.getResourceAsStream(TEMPLATE_RESOURCE)) {
            if (in == null) {
                throw new IOException("no " + TEMPLATE_RESOURCE + " on the test class path");
            }
            template = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        Map<String, String> values = Map.of(
                "@NAME@", name,
                "@DIR@", directory.toString(),
                "@SSL@", tls ? "yes" : "no",
                "@MAIL_USER@", mailUser.name(),
                "@UID@", Integer.toString(mailUser.uid()),
                "@GID@", Integer.toString(mailUser.gid()),
                "@PORT@", Integer.toString(port),
                "@TLS_PORT@", Integer.toString(tlsPort),
                "@PROXY_PORT@", Integer.toString(proxyPort));
        String config = template + (settings.isEmpty() ? "" : "\n" + String.join("\n", settings) + "\n");
        for (Map.Entry<String, String> value : values.entrySet()) {
            config = config.replace(value.getKey(), value.getValue());
        }
        for (String line : config.split("\n")) {
            Matcher left = PLACEHOLDER.matcher(line);
            if (!line.strip().startsWith("#") && left.find()) {
                throw new IOException(TEMPLATE_RESOURCE + " has a placeholder the fixture does not fill: " + line);
            }
        }
        Files.writeString(configPath(), config, StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(configPath(), FILE_0644);
    }

    private static int[] freeLoopbackPorts(int count) throws IOException {
        // Hold all sockets until every port is picked, so the ports differ.
        List<ServerSocket> sockets = new ArrayList<>();
        try {
            int[] ports = new int[count];
            for (int i = 0; i < count; i++) {
                ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(HOST));
                sockets.add(socket);
                ports[i] = socket.getLocalPort();
            }
            return ports;
        } finally {
            for (ServerSocket socket : sockets) {
                socket.close();
            }
        }
    }

    // ---------------------------------------------------------------- accessors

    /** The instance name, as in the greeting and the "x-backend" ID field. */
    public String name() {
        return name;
    }

    /** The loopback address Dovecot listens on: {@code 127.0.0.1}. */
    public String host() {
        return HOST;
    }

    /** The plain IMAP port; it offers STARTTLS when the fixture was built with TLS. */
    public int port() {
        return port;
    }

    /**
     * The implicit TLS (imaps) port when the fixture was built with {@link Builder#tls(Path, Path)};
     * otherwise a reserved port that stays closed.
     */
    public int tlsPort() {
        return tlsPort;
    }

    /** True when Dovecot runs with {@code ssl = yes}: STARTTLS on {@link #port()}, imaps on {@link #tlsPort()}. */
    public boolean tlsEnabled() {
        return tls;
    }

    /** A plain IMAP port that expects a HAProxy PROXY v1/v2 header first (from 127.0.0.0/8). */
    public int proxyPort() {
        return proxyPort;
    }

    /** The temporary directory with the config, passwd file, log and mail. */
    public Path directory() {
        return directory;
    }

    public Path configPath() {
        return directory.resolve("dovecot.conf");
    }

    /** Dovecot's log ({@code log_path}); kept until {@link #stop()} deletes the directory. */
    public Path logPath() {
        return directory.resolve("dovecot.log");
    }

    /** What {@code dovecot -F} wrote to stdout and stderr (configuration errors land here). */
    public Path outputPath() {
        return directory.resolve("dovecot.out");
    }

    /** True while the Dovecot master process runs. */
    public boolean isRunning() {
        return process != null && process.isAlive();
    }

    /** The last lines of the log, for assertion messages. */
    public String logTail(int lines) throws IOException {
        return readTail(lines);
    }

    // ---------------------------------------------------------------- users and mail

    /**
     * Adds a user with a plain-text password and creates its (empty) Maildir. Works before and
     * after start: the user's line goes into a file of its own, {@code passwd.d/USER}, which
     * Dovecot reads on the user's first lookup (a shared passwd file would be re-checked at most
     * once a second).
     */
    public void addUser(String user, String password) throws IOException {
        checkUser(user, password);
        if (users.contains(user)) {
            throw new IllegalArgumentException("user " + user + " exists already");
        }
        ensureMaildir(user, "INBOX");
        Path passwd = passwdDirectory().resolve(user);
        // Names of users start with a letter or digit: this cannot clash with one.
        Path temporary = passwdDirectory().resolve(".new-" + user);
        Files.writeString(temporary, user + ":{PLAIN}" + password + "::::::\n", StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(temporary, FILE_0644);
        Files.move(temporary, passwd, StandardCopyOption.ATOMIC_MOVE);
        users.add(user);
    }

    private Path passwdDirectory() {
        return directory.resolve("passwd.d");
    }

    /**
     * Delivers a message into a user's folder by writing a Maildir file (tmp, then renamed into cur),
     * as a local delivery agent would; works before and after start. Messages of one folder get
     * UIDs in the order they were seeded. {@code folder} is {@code INBOX} or a name such as
     * {@code Archive} or {@code Archive/2024} (ASCII letters, digits, space, {@code _+-}; {@code /}
     * separates levels); the folder is created when missing, but not subscribed.
     */
    public void seedMessage(String user, String folder, byte[] rfc822) throws IOException {
        if (!users.contains(user)) {
            throw new IllegalArgumentException("unknown user " + user + "; add it with addUser first");
        }
        if (rfc822.length == 0) {
            throw new IllegalArgumentException("an empty message cannot be seeded");
        }
        Path folderDir = ensureMaildir(user, folder);
        long sequence = seedSequence.incrementAndGet();
        // Dovecot assigns UIDs to new files in the order of the time in their names.
        String baseName = String.format(Locale.ROOT, "%d.M0P%dQ%d.postern-fixture",
                seedEpochSecond + sequence, ProcessHandle.current().pid(), sequence);
        Path temporary = folderDir.resolve("tmp").resolve(baseName);
        Files.write(temporary, rfc822, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        Files.setPosixFilePermissions(temporary, FILE_0600);
        mailUser.chown(temporary);
        try {
            Files.move(temporary, folderDir.resolve("cur").resolve(baseName + ":2,"), StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("Maildir needs atomic renames within " + folderDir, e);
        }
    }

    /** Creates (if missing) and returns the Maildir directory of a folder, owned by the mail user. */
    private Path ensureMaildir(String user, String folder) throws IOException {
        Path home = directory.resolve("mail").resolve(user);
        Path maildir = home.resolve("Maildir");
        Path folderDir = maildir.resolve(maildirFolderName(folder));
        List<Path> dirs = new ArrayList<>(List.of(home, maildir));
        if (!folderDir.equals(maildir)) {
            dirs.add(folderDir);
        }
        for (String sub : List.of("cur", "new", "tmp")) {
            dirs.add(maildir.resolve(sub));
            dirs.add(folderDir.resolve(sub));
        }
        for (Path dir : dirs) {
            if (!Files.isDirectory(dir)) {
                Files.createDirectories(dir);
                Files.setPosixFilePermissions(dir, DIR_0700);
                mailUser.chown(dir);
            }
        }
        Path marker = folderDir.resolve("maildirfolder");
        if (!folderDir.equals(maildir) && !Files.exists(marker)) {
            Files.createFile(marker);
            Files.setPosixFilePermissions(marker, FILE_0600);
            mailUser.chown(marker);
        }
        return folderDir;
    }

    /** Maildir++ layout: INBOX is the root; {@code A/B} is {@code .A.B}. */
    private static String maildirFolderName(String folder) {
        if (folder.equalsIgnoreCase("INBOX")) {
            return "";
        }
        String[] segments = folder.split("/", -1);
        for (String segment : segments) {
            if (!FOLDER_SEGMENT.matcher(segment).matches()) {
                throw new IllegalArgumentException("folder: " + folder
                        + " (expected: INBOX or names of " + FOLDER_SEGMENT + " separated by /)");
            }
        }
        return "." + String.join(".", segments);
    }

    private static void checkUser(String user, String password) {
        if (!USER_NAME.matcher(user).matches()) {
            throw new IllegalArgumentException("user: " + user + " (expected: " + USER_NAME + ")");
        }
        if (password.isEmpty() || password.chars().anyMatch(c -> c == ':' || c < 0x20 || c == 0x7f)) {
            throw new IllegalArgumentException(
                    "password of " + user + ": must be non-empty, without ':' and control characters");
        }
    }

    // ---------------------------------------------------------------- stop

    /**
     * Stops Dovecot ({@code doveadm stop}; if that fails or hangs, kills the master named in
     * {@code run/master.pid}), waits for it to exit, and deletes the directory unless kept.
     * Lines of the log marked Error, Fatal or Panic are logged as a warning first.
     * Idempotent.
     *
     * @throws IOException when Dovecot outlives the kill, or the directory cannot be deleted
     */
    public void stop() throws IOException {
        if (stopped) {
            return;
        }
        stopped = true;
        try {
            if (process != null) {
                stopProcess();
            }
            if (shutdownHookAdded) {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
                shutdownHookAdded = false;
            }
            reportLoggedErrors();
        } finally {
            if (keepDirectory) {
                log.info("Dovecot {} stopped; kept its directory {}", name, directory);
            } else {
                deleteRecursively(directory);
            }
        }
    }

    @Override
    public void close() throws IOException {
        stop();
    }

    private void stopProcess() throws IOException {
        if (process.isAlive()) {
            String failure = null;
            ProcessResult doveadm = run(List.of(binaries.doveadm().toString(), "-c", configPath().toString(), "stop"));
            if (doveadm.exitCode() != 0) {
                failure = "doveadm stop exited with " + doveadm.exitCode() + ": " + doveadm.output();
            } else if (!waitFor(process, STOP_TIMEOUT)) {
                failure = "Dovecot still runs " + STOP_TIMEOUT.toSeconds() + " s after doveadm stop";
            }
            if (failure != null) {
                log.warn("{}; killing the master process", failure);
                killProcesses();
                if (!waitFor(process, STOP_TIMEOUT)) {
                    throw new IOException("Dovecot " + name + " (pid " + process.pid() + ") survived a kill: "
                            + failure + "\n" + describeLogs());
                }
            }
        }
    }

    /** Kills the master process (and what it started); used as a fallback and by the shutdown hook. */
    private void killProcesses() {
        List<ProcessHandle> handles = new ArrayList<>();
        Path pidFile = directory.resolve("run").resolve("master.pid");
        if (Files.isRegularFile(pidFile)) {
            try {
                String pid = Files.readString(pidFile, StandardCharsets.US_ASCII).trim();
                ProcessHandle.of(Long.parseLong(pid)).ifPresent(handles::add);
            } catch (IOException | NumberFormatException e) {
                log.warn("cannot read Dovecot's {}, killing the child process only: {}", pidFile, e.toString());
            }
        }
        if (process != null) {
            process.descendants().forEach(handles::add);
            handles.add(process.toHandle());
        }
        handles.forEach(ProcessHandle::destroyForcibly);
    }

    private void reportLoggedErrors() throws IOException {
        if (!Files.isRegularFile(logPath())) {
            return;
        }
        List<String> errors;
        try (Stream<String> lines = Files.lines(logPath(), StandardCharsets.ISO_8859_1)) {
            errors = lines.filter(l -> l.contains(" Error: ") || l.contains(" Fatal: ") || l.contains(" Panic: "))
                    .collect(Collectors.toList());
        }
        if (!errors.isEmpty()) {
            log.warn("Dovecot {} logged {} error(s):\n{}", name, errors.size(), String.join("\n", errors));
        }
    }

    private static void deleteRecursively(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        List<Path> paths;
        try (Stream<Path> walk = Files.walk(root)) {
            paths = walk.sorted(Comparator.reverseOrder()).collect(Collectors.toList());
        }
        for (Path path : paths) {
            Files.deleteIfExists(path);
        }
    }

    // ---------------------------------------------------------------- logs

    private String describeLogs() throws IOException {
        StringBuilder text = new StringBuilder();
        text.append("--- ").append(logPath()).append(" (last ").append(LOG_TAIL_LINES).append(" lines) ---\n")
                .append(readTail(LOG_TAIL_LINES));
        if (Files.isRegularFile(outputPath()) && Files.size(outputPath()) > 0) {
            text.append("--- ").append(outputPath()).append(" ---\n")
                    .append(tail(Files.readAllLines(outputPath(), StandardCharsets.ISO_8859_1), LOG_TAIL_LINES));
        }
        return text.toString();
    }

    private String logSince(long offset) throws IOException {
        if (!Files.isRegularFile(logPath())) {
            return "";
        }
        byte[] log = Files.readAllBytes(logPath());
        int from = (int) Math.min(offset, log.length);
        return new String(log, from, log.length - from, StandardCharsets.ISO_8859_1);
    }

    private String readTail(int lines) throws IOException {
        if (!Files.isRegularFile(logPath())) {
            return "(no log written)\n";
        }
        return tail(Files.readAllLines(logPath(), StandardCharsets.ISO_8859_1), lines);
    }

    private static String tail(List<String> lines, int count) {
        StringBuilder text = new StringBuilder();
        for (String line : lines.subList(Math.max(0, lines.size() - count), lines.size())) {
            text.append(line).append('\n');
        }
        return text.toString();
    }

    // ---------------------------------------------------------------- processes and users

    private record Binaries(Path dovecot, Path doveadm) {
        static Binaries find() throws IOException {
            return new Binaries(
                    findBinary("dovecot").orElseThrow(() -> new IOException("dovecot binary vanished")),
                    findBinary("doveadm").orElseThrow(() -> new IOException("doveadm binary vanished")));
        }
    }

    private static Optional<Path> findBinary(String binary) {
        List<Path> dirs = new ArrayList<>();
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(File.pathSeparator)) {
                if (!dir.isEmpty()) {
                    dirs.add(Path.of(dir));
                }
            }
        }
        dirs.addAll(EXTRA_BINARY_DIRS);
        return dirs.stream().map(d -> d.resolve(binary)).filter(Files::isExecutable).findFirst();
    }

    /** The non-root owner of the mail. */
    private record MailUser(String name, int uid, int gid, UserPrincipal owner, GroupPrincipal group) {

        static MailUser ensure(String name) throws IOException {
            ProcessResult uid = run(List.of("id", "-u", name));
            if (uid.exitCode() != 0) {
                Path useradd = findBinary("useradd").orElseThrow(() -> new IOException(
                        "mail user " + name + " is missing and there is no useradd to create it"));
                log.info("creating the system user {} that owns the test mail", name);
                ProcessResult created = run(List.of(useradd.toString(),
                        "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name));
                uid = run(List.of("id", "-u", name));
                // A parallel test JVM may have created it first: only the final state counts.
                if (uid.exitCode() != 0) {
                    throw new IOException("cannot create mail user " + name + ": useradd exited with "
                            + created.exitCode() + ": " + created.output());
                }
            }
            ProcessResult gid = run(List.of("id", "-g", name));
            ProcessResult groupName = run(List.of("id", "-gn", name));
            if (gid.exitCode() != 0 || groupName.exitCode() != 0) {
                throw new IOException("cannot read the group of " + name + ": " + gid.output() + groupName.output());
            }
            UserPrincipalLookupService lookup = Path.of("/").getFileSystem().getUserPrincipalLookupService();
            return new MailUser(name, Integer.parseInt(uid.output().trim()), Integer.parseInt(gid.output().trim()),
                    lookup.lookupPrincipalByName(name),
                    lookup.lookupPrincipalByGroupName(groupName.output().trim()));
        }

        void chown(Path path) throws IOException {
            PosixFileAttributeView view = Files.getFileAttributeView(path, PosixFileAttributeView.class);
            view.setOwner(owner);
            view.setGroup(group);
        }
    }

    private record ProcessResult(int exitCode, String output) {}

    private static ProcessResult run(List<String> command) throws IOException {
        // Output goes to a file, not a pipe, so a hanging command cannot block us past the timeout.
        Path output = Files.createTempFile("postern-dovecot-cmd-", ".out");
        try {
            Process child = new ProcessBuilder(command)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectErrorStream(true)
                    .redirectOutput(output.toFile())
                    .start();
            if (!waitFor(child, PROCESS_TIMEOUT)) {
                child.destroyForcibly();
                throw new IOException(command + " did not finish within " + PROCESS_TIMEOUT.toSeconds() + " s");
            }
            return new ProcessResult(child.exitValue(), Files.readString(output, StandardCharsets.UTF_8));
        } finally {
            Files.delete(output);
        }
    }

    private static boolean waitFor(Process child, Duration timeout) throws IOException {
        try {
            return child.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for " + child.info().command().orElse("a process"));
        }
    }

    private static void sleep(Duration duration) throws IOException {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for Dovecot");
        }
    }
}
