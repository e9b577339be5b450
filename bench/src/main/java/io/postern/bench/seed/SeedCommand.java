package io.postern.bench.seed;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.postern.bench.client.ClientRuntime;
import io.postern.bench.client.Credentials;
import io.postern.bench.client.ImapConnection;
import io.postern.bench.client.Response;
import io.postern.bench.client.Target;
import io.postern.bench.report.Json;
import io.postern.bench.workload.Context;
import io.postern.bench.workload.SizeConverter;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.zip.CRC32C;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Fills a mailbox with {@code --messages} deterministic messages of realistic sizes (see
 * {@link MessageGenerator}) and another with one {@code --big-size} message: over IMAP APPEND
 * ({@code --target}), or by writing Maildir files ({@code --maildir}, the user's Maildir root,
 * files owned like that directory). Prints the count, the bytes and the CRC-32C a
 * {@code FETCH 1:* BODY.PEEK[]} of each mailbox must arrive with.
 */
@Command(name = "seed", mixinStandardHelpOptions = true,
        description = "Fill a mailbox with thousands of realistic messages and one big one (deterministic).")
public final class SeedCommand implements Callable<Integer> {

    @Option(names = "--target", description = "imap://HOST:PORT (or imap+starttls://, imaps://): seed over IMAP APPEND.")
    String target;

    @Option(names = "--trust-all", description = "Accept any TLS certificate.")
    boolean trustAll;

    @Option(names = "--user", description = "User (default ${DEFAULT-VALUE}).")
    String user = "bench";

    @Option(names = "--password", description = "Password (default ${DEFAULT-VALUE}).")
    String password = "bench";

    @Option(names = "--maildir", description = "A user's Maildir root: write the files directly instead (before Dovecot reads it, or while it runs).")
    Path maildir;

    @Option(names = "--messages", description = "Messages in --mailbox (default ${DEFAULT-VALUE}).")
    int messages = 4000;

    @Option(names = "--mailbox", description = "(default ${DEFAULT-VALUE})")
    String mailbox = "INBOX";

    @Option(names = "--big-size", description = "Size of the big message; 0: none (default ${DEFAULT-VALUE}).", converter = SizeConverter.class)
    long bigSize = 25L * 1024 * 1024;

    @Option(names = "--big-mailbox", description = "(default ${DEFAULT-VALUE})")
    String bigMailbox = "Big";

    @Option(names = "--seed", description = "Seed of the contents and sizes (default ${DEFAULT-VALUE}).")
    long seed = 42;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if ((target == null) == (maildir == null)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "give exactly one of --target and --maildir");
        }
        if (bigSize != 0 && (bigSize < MessageGenerator.MIN_SIZE || bigSize > Integer.MAX_VALUE - 16)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--big-size: " + bigSize + " (expected: 0, or 2KiB to 2GiB)");
        }
        MessageGenerator generator = new MessageGenerator(seed);
        Sink sink = maildir != null ? new MaildirSink(maildir) : null;
        ClientRuntime runtime = null;
        ImapConnection connection = null;
        long started = System.nanoTime();
        Map<String, Object> report = new LinkedHashMap<>();
        try {
            if (sink == null) {
                runtime = new ClientRuntime(1);
                Context ctx = new Context(runtime, Target.parse(target, trustAll), new Credentials(user, 1, password), Duration.ofHours(1));
                connection = Context.await(ctx.login(0), Duration.ofMinutes(1));
                sink = new ImapSink(connection);
            }
            report.put("mailbox", fill(sink, mailbox, messages, generator::message, generator::size));
            if (bigSize > 0) {
                report.put("big_mailbox", fill(sink, bigMailbox, 1, i -> generator.message(1_000_000, (int) bigSize), i -> (int) bigSize));
            }
        } finally {
            if (connection != null) {
                Context.await(connection.logout(), Duration.ofSeconds(10));
            }
            if (runtime != null) {
                runtime.close();
            }
        }
        report.put("seconds", (System.nanoTime() - started) / 1e9);
        report.put("seed", seed);
        System.out.println(Json.write(report));
        return 0;
    }

    private interface Sink {
        /** Fails unless the mailbox is empty (seeding twice would double it). */
        void open(String mailbox) throws IOException;

        void add(String mailbox, int index, byte[] message) throws IOException;
    }

    private static Map<String, Object> fill(Sink sink, String mailbox, int count, java.util.function.IntFunction<byte[]> messages,
            java.util.function.IntUnaryOperator sizes) throws IOException {
        sink.open(mailbox);
        CRC32C crc = new CRC32C();
        long bytes = 0;
        long smallest = Long.MAX_VALUE;
        long largest = 0;
        for (int i = 0; i < count; i++) {
            byte[] message = messages.apply(i);
            sink.add(mailbox, i, message);
            crc.update(message);
            bytes += message.length;
            smallest = Math.min(smallest, message.length);
            largest = Math.max(largest, message.length);
            if ((i + 1) % 1000 == 0) {
                System.err.printf(Locale.ROOT, "seed: %s: %d of %d messages%n", mailbox, i + 1, count);
            }
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", mailbox);
        m.put("messages", count);
        m.put("bytes", bytes);
        m.put("smallest", count == 0 ? 0 : smallest);
        m.put("largest", largest);
        m.put("fetch_crc32c", String.format("%08x/%d", crc.getValue(), bytes));
        return m;
    }

    /** APPEND over IMAP, LITERAL+ when offered. */
    private static final class ImapSink implements Sink {
        private final ImapConnection c;
        private Boolean literalPlus;

        ImapSink(ImapConnection c) {
            this.c = c;
        }

        @Override
        public void open(String mailbox) throws IOException {
            Duration step = Duration.ofMinutes(1);
            if (literalPlus == null) {
                StringBuilder caps = new StringBuilder();
                c.onUntagged(r -> caps.append(r.text()));
                Context.await(c.command("CAPABILITY"), step);
                c.onUntagged(null);
                literalPlus = Context.await(java.util.concurrent.CompletableFuture.supplyAsync(caps::toString, c.channel().eventLoop()), step)
                        .toUpperCase(Locale.ROOT).contains("LITERAL+");
            }
            if (!mailbox.equalsIgnoreCase("INBOX")) {
                Context.await(Context.create(c, mailbox), step);
            }
            long[] exists = {-1};
            c.onUntagged(r -> {
                if (r.exists() >= 0) {
                    exists[0] = r.exists();
                }
            });
            Context.await(Context.ok(c, "EXAMINE " + Context.quoted(mailbox)), step);
            c.onUntagged(null);
            Context.await(Context.ok(c, "CLOSE"), step);
            long n = Context.await(java.util.concurrent.CompletableFuture.supplyAsync(() -> exists[0], c.channel().eventLoop()), step);
            if (n != 0) {
                throw new IOException(mailbox + " holds " + n + " messages already; seed into empty mailboxes");
            }
        }

        @Override
        public void add(String mailbox, int index, byte[] message) throws IOException {
            ByteBuf buf = Unpooled.wrappedBuffer(message);
            try {
                Response r = Context.await(c.append(mailbox, buf, literalPlus), Duration.ofMinutes(5));
                if (!r.ok()) {
                    throw new IOException("APPEND " + mailbox + ": " + r.text());
                }
            } finally {
                buf.release();
            }
        }
    }

    /** Maildir++ files: INBOX is the root, {@code A/B} is {@code .A.B}; owned like the root. */
    private static final class MaildirSink implements Sink {
        private final Path root;
        private final UserPrincipal owner;
        private final GroupPrincipal group;
        private final long epoch = System.currentTimeMillis() / 1000 - 10_000_000;
        private long sequence;

        MaildirSink(Path root) throws IOException {
            if (!Files.isDirectory(root)) {
                throw new IOException("--maildir " + root + ": not a directory");
            }
            this.root = root;
            PosixFileAttributes attributes = Files.readAttributes(root, PosixFileAttributes.class);
            this.owner = attributes.owner();
            this.group = attributes.group();
        }

        private Path folder(String mailbox) {
            return mailbox.equalsIgnoreCase("INBOX") ? root : root.resolve("." + mailbox.replace('/', '.'));
        }

        @Override
        public void open(String mailbox) throws IOException {
            Path dir = folder(mailbox);
            for (Path d : List.of(dir, dir.resolve("cur"), dir.resolve("new"), dir.resolve("tmp"))) {
                if (!Files.isDirectory(d)) {
                    Files.createDirectories(d);
                    own(d);
                }
            }
            if (!dir.equals(root) && !Files.exists(dir.resolve("maildirfolder"))) {
                own(Files.createFile(dir.resolve("maildirfolder")));
            }
            try (var cur = Files.list(dir.resolve("cur")); var fresh = Files.list(dir.resolve("new"))) {
                if (cur.findAny().isPresent() || fresh.findAny().isPresent()) {
                    throw new IOException(dir + " holds messages already; seed into empty mailboxes");
                }
            }
        }

        @Override
        public void add(String mailbox, int index, byte[] message) throws IOException {
            Path dir = folder(mailbox);
            // Dovecot gives new files UIDs in the order of the time in their names
            String name = String.format(Locale.ROOT, "%d.M%dP%d.postern-bench", epoch + ++sequence, index, ProcessHandle.current().pid());
            Path tmp = dir.resolve("tmp").resolve(name);
            Files.write(tmp, message);
            own(tmp);
            try {
                Files.move(tmp, dir.resolve("cur").resolve(name + ",S=" + message.length + ":2,"), StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("Maildir needs atomic renames in " + dir, e);
            }
        }

        private void own(Path path) throws IOException {
            PosixFileAttributeView view = Files.getFileAttributeView(path, PosixFileAttributeView.class);
            if (!view.readAttributes().owner().equals(owner)) {
                view.setOwner(owner);
                view.setGroup(group);
            }
        }
    }
}
