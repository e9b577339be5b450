package io.postern.policies.audit;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes audit records to a file, one JSON object per line, on a thread of its own behind a
 * bounded queue ({@link AuditSink}), so producers (event loops) never wait for the disk unless
 * the queue is full and the mode is {@link WhenFull#BLOCK}.
 *
 * <p>The file is rotated by size and by age to {@code <file>.<first seq, 12 digits>}; the chain
 * goes on in the new file. At start, the chain goes on from the last whole record of the file
 * (or of its newest rotated predecessor); a file whose last line is torn (a crash mid-write) is
 * rotated aside as it is, so {@code audit verify} reports the torn line.
 *
 * <p>Thread-safety: {@link #offer} and the counters may be used from any thread.
 */
public final class AuditFileSink extends AuditSink {

    private static final Logger log = LoggerFactory.getLogger(AuditFileSink.class);

    /**
     * @param file the current log file
     * @param key the HMAC key
     * @param fsyncInterval {@link Duration#ZERO} to force every record to disk before the next is written; otherwise the most time between forces
     * @param queueCapacity the most events waiting for the writer
     * @param whenFull what a full queue does
     * @param maxSize rotate when the file would grow past this many bytes (0: never)
     * @param maxAge rotate when the file is older than this ({@link Duration#ZERO}: never)
     */
    public record Settings(Path file, byte[] key, Duration fsyncInterval, int queueCapacity, WhenFull whenFull, long maxSize,
            Duration maxAge) {}

    private final Settings settings;
    private final AtomicLong fsyncs = new AtomicLong();
    private final AtomicLong rotations = new AtomicLong();

    // writer thread only (and the constructor)
    private FileChannel channel;
    private long fileSize;
    private Instant fileOpened;
    private long lastForceNanos;
    private boolean unforced;

    public AuditFileSink(Settings settings) throws IOException {
        this(settings, Clock.systemUTC());
    }

    AuditFileSink(Settings settings, Clock clock) throws IOException {
        super(settings.file().toString(), settings.key(), settings.queueCapacity(), settings.whenFull(), clock);
        this.settings = settings;
        Path parent = settings.file().toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        AuditChain chain = resume();
        open();
        start(chain, "postern-audit-" + settings.file().getFileName());
    }

    public Settings settings() {
        return settings;
    }

    public long fsyncs() {
        return fsyncs.get();
    }

    public long rotations() {
        return rotations.get();
    }

    // ---------------------------------------------------------------- writer thread

    @Override
    protected long pollMillis() {
        return settings.fsyncInterval().isZero() ? 200 : Math.max(1, settings.fsyncInterval().toMillis());
    }

    @Override
    protected Duration retryDelay(int attempt) {
        return Duration.ofSeconds(1);
    }

    @Override
    protected void output(List<String> records) throws IOException {
        for (String line : records) {
            byte[] bytes = line.getBytes(StandardCharsets.UTF_8);
            rotateIfDue(bytes.length);
            writeFully(bytes);
            if (settings.fsyncInterval().isZero()) {
                force();
            }
        }
    }

    @Override
    protected void afterPass() throws IOException {
        if (unforced && System.nanoTime() - lastForceNanos >= settings.fsyncInterval().toNanos()) {
            force();
        }
    }

    @Override
    protected void finish() throws IOException {
        force();
        channel.close();
    }

    @Override
    protected void recover() throws IOException {
        reopen();
    }

    private void writeFully(byte[] bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            channel.write(b);
        }
        fileSize += bytes.length;
        unforced = true;
    }

    private void force() throws IOException {
        if (unforced && channel != null && channel.isOpen()) {
            channel.force(false);
            fsyncs.incrementAndGet();
            unforced = false;
        }
        lastForceNanos = System.nanoTime();
    }

    private void rotateIfDue(int next) throws IOException {
        boolean bySize = settings.maxSize() > 0 && fileSize > 0 && fileSize + next > settings.maxSize();
        boolean byAge = !settings.maxAge().isZero() && fileSize > 0
                && !clock.instant().isBefore(fileOpened.plus(settings.maxAge()));
        if (bySize || byAge) {
            force();
            channel.close();
            Path rotated = rotatedName(firstSeqOf(settings.file()));
            Files.move(settings.file(), rotated, StandardCopyOption.ATOMIC_MOVE);
            rotations.incrementAndGet();
            log.info("audit log rotated to {}", rotated);
            open();
        }
    }

    private Path rotatedName(long firstSeq) {
        Path p = settings.file().resolveSibling(settings.file().getFileName() + "." + String.format("%012d", firstSeq));
        for (int i = 1; Files.exists(p) && i < 1000; i++) {
            p = settings.file().resolveSibling(settings.file().getFileName() + "." + String.format("%012d", firstSeq) + "-" + i);
        }
        return p;
    }

    private void reopen() throws IOException {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException e) {
                log.debug("closing the failed audit log: {}", e.toString());
            }
        }
        open();
    }

    private void open() throws IOException {
        channel = FileChannel.open(settings.file(), StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        fileSize = channel.size();
        fileOpened = clock.instant(); // a file found at start ages from now
    }

    // ---------------------------------------------------------------- where the chain goes on

    /** Finds the last whole record of the current file or its newest predecessor; moves a torn file aside. */
    private AuditChain resume() throws IOException {
        Path file = settings.file();
        if (Files.exists(file) && Files.size(file) > 0) {
            byte[] all = Files.readAllBytes(file);
            if (all[all.length - 1] != '\n') {
                long first = firstSeqOf(file);
                Path aside = rotatedName(first == Long.MAX_VALUE ? 0 : first);
                Files.move(file, aside, StandardCopyOption.ATOMIC_MOVE);
                log.warn("the audit log {} ends in a torn line (a crash while writing); moved to {}, which audit verify reports",
                        file, aside);
                return chainFrom(all);
            }
            return chainFrom(all);
        }
        Path newest = null;
        long newestSeq = -1;
        try (Stream<Path> siblings = Files.list(file.toAbsolutePath().getParent())) {
            for (Path p : (Iterable<Path>) siblings::iterator) {
                String n = p.getFileName().toString();
                String prefix = file.getFileName() + ".";
                if (n.startsWith(prefix) && n.length() >= prefix.length() + 12
                        && n.substring(prefix.length(), prefix.length() + 12).chars().allMatch(Character::isDigit)) {
                    long s = Long.parseLong(n.substring(prefix.length(), prefix.length() + 12));
                    if (s >= newestSeq) {
                        newestSeq = s;
                        newest = p;
                    }
                }
            }
        }
        return newest != null ? chainFrom(Files.readAllBytes(newest)) : AuditChain.fresh(settings.key());
    }

    private AuditChain chainFrom(byte[] all) {
        int end = all.length;
        while (end > 0) {
            if (all[end - 1] != '\n') { // a torn tail: step back to the line end before it
                while (end > 0 && all[end - 1] != '\n') {
                    end--;
                }
                continue;
            }
            int start = end - 1;
            while (start > 0 && all[start - 1] != '\n') {
                start--;
            }
            String line = new String(all, start, end - 1 - start, StandardCharsets.UTF_8);
            long seq = AuditVerifier.seqOf(line);
            int at = line.lastIndexOf(AuditChain.MAC_FIELD);
            if (seq >= 0 && at >= 0 && line.length() == at + AuditChain.MAC_FIELD.length() + AuditChain.MAC_HEX + 2) {
                byte[] mac = HexFormat.of().parseHex(line, at + AuditChain.MAC_FIELD.length(),
                        at + AuditChain.MAC_FIELD.length() + AuditChain.MAC_HEX);
                log.info("audit log {}: the chain goes on after seq {}", settings.file(), seq);
                return new AuditChain(settings.key(), seq, mac);
            }
            end = start;
        }
        return AuditChain.fresh(settings.key());
    }

    private static long firstSeqOf(Path file) throws IOException {
        try (var r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String first = r.readLine();
            long s = first == null ? -1 : AuditVerifier.seqOf(first);
            return s < 0 ? Long.MAX_VALUE : s;
        }
    }
}
