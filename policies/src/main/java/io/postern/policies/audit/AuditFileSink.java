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
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes audit records to a file, one JSON object per line, on a thread of its own behind a
 * bounded queue, so producers (event loops) never wait for the disk unless the queue is full
 * and the mode is {@link WhenFull#BLOCK}.
 *
 * <p>Records are sealed ({@link AuditChain}) on the writer thread in the order they were taken
 * from the queue. The file is rotated by size and by age to {@code <file>.<first seq, 12
 * digits>}; the chain goes on in the new file. At start, the chain goes on from the last whole
 * record of the file (or of its newest rotated predecessor); a file whose last line is torn (a
 * crash mid-write) is rotated aside as it is, so {@code audit verify} reports the torn line.
 *
 * <p>Thread-safety: {@link #offer} and the counters may be used from any thread.
 */
public final class AuditFileSink implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AuditFileSink.class);

    /** What {@link #offer} does when the queue is full. */
    public enum WhenFull {
        /** The producer waits for room (backpressure on the sessions that produce events). */
        BLOCK,
        /** The event is dropped and counted; a {@code gap} record with the count follows when there is room. */
        DROP,
        /** As {@code DROP}, and {@link #available()} is false, so audited users' new commands are refused. */
        FAIL_CLOSED;

        public static WhenFull parse(String s) {
            return valueOf(s.toUpperCase(Locale.ROOT).replace('-', '_'));
        }

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

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

    private static final String STOP = new String("stop");
    /** In the queue where events were dropped: {@code GAP_MARKER + count} becomes a gap record in its place. */
    private static final String GAP_MARKER = "\u0000gap:";
    private static final int BATCH = 256;

    private final Settings settings;
    private final Clock clock;
    private final BlockingQueue<String> queue;
    private final Thread writer;
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong written = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong droppedTotal = new AtomicLong();
    private final AtomicLong writeFailures = new AtomicLong();
    private final AtomicLong fsyncs = new AtomicLong();
    private final AtomicLong rotations = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private volatile boolean failing;
    private volatile boolean closed;
    private volatile CountDownLatch paused;
    private volatile CountDownLatch parked;

    // writer thread only
    private AuditChain chain;
    private FileChannel channel;
    private long fileSize;
    private Instant fileOpened;
    private long lastForceNanos;
    private boolean unforced;

    public AuditFileSink(Settings settings) throws IOException {
        this(settings, Clock.systemUTC());
    }

    AuditFileSink(Settings settings, Clock clock) throws IOException {
        this.settings = settings;
        this.clock = clock;
        // drop and fail-closed: one place more, for a gap marker
        this.queue = new ArrayBlockingQueue<>(settings.queueCapacity() + (settings.whenFull() == WhenFull.BLOCK ? 0 : 1));
        Path parent = settings.file().toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        resume();
        open();
        writer = new Thread(this::run, "postern-audit-" + settings.file().getFileName());
        writer.setDaemon(true);
        writer.start();
    }

    public Settings settings() {
        return settings;
    }

    /**
     * Hands an event to the writer. Returns {@code false} when it was dropped (queue full in
     * {@code drop} or {@code fail-closed} mode, or the sink closed); in {@code block} mode it
     * waits for room.
     */
    public boolean offer(AuditEvent event) {
        String body = event.body();
        if (closed) {
            dropped.incrementAndGet();
            droppedTotal.incrementAndGet();
            log.warn("an audit event arrived after {} was closed and is lost", settings.file());
            return false;
        }
        boolean ok;
        if (settings.whenFull() == WhenFull.BLOCK) {
            try {
                queue.put(body);
                ok = true;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                ok = false;
            }
        } else {
            ok = queue.size() < settings.queueCapacity();
            if (ok) {
                long gap = dropped.getAndSet(0);
                if (gap > 0 && !queue.offer(GAP_MARKER + gap)) {
                    dropped.addAndGet(gap); // no room after all: the gap record waits
                }
                ok = queue.offer(body);
            }
        }
        if (ok) {
            accepted.incrementAndGet();
        } else {
            dropped.incrementAndGet();
            droppedTotal.incrementAndGet();
        }
        return ok;
    }

    /** False while the queue is full or the file cannot be written: what {@code fail-closed} refuses commands on. */
    public boolean available() {
        return !failing && queue.size() < settings.queueCapacity();
    }

    public boolean isClosed() {
        return closed;
    }

    /** Counts a command refused because this sink was unavailable ({@code fail-closed}). */
    public void refusedCommand() {
        refused.incrementAndGet();
    }

    /** Commands refused with {@code NO [UNAVAILABLE]} while this sink was unavailable. */
    public long refusedCommands() {
        return refused.get();
    }

    public long accepted() {
        return accepted.get();
    }

    public long written() {
        return written.get();
    }

    /** Events dropped since the sink started (each also reported in a gap record once there was room). */
    public long dropped() {
        return droppedTotal.get();
    }

    public long writeFailures() {
        return writeFailures.get();
    }

    public long fsyncs() {
        return fsyncs.get();
    }

    public long rotations() {
        return rotations.get();
    }

    public int queued() {
        return queue.size();
    }

    /**
     * For tests: the writer stops taking events until {@link #unpauseWriter()}; returns once it
     * has stopped (within its poll interval), so events offered after this stay queued.
     */
    public void pauseWriter() {
        CountDownLatch parked = new CountDownLatch(1);
        this.parked = parked;
        paused = new CountDownLatch(1);
        try {
            if (!parked.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the audit writer did not pause");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** For tests: the writer goes on. */
    public void unpauseWriter() {
        CountDownLatch p = paused;
        paused = null;
        if (p != null) {
            p.countDown();
        }
    }

    /** Writes and forces everything accepted, then closes the file. Waits for the writer. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        unpauseWriter();
        try {
            queue.put(STOP);
            writer.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            log.warn("interrupted while closing the audit log {}; {} events were still queued", settings.file(), queue.size());
        }
    }

    // ---------------------------------------------------------------- writer thread

    private void run() {
        List<String> batch = new ArrayList<>(BATCH);
        boolean stop = false;
        while (!stop) {
            CountDownLatch p = paused;
            if (p != null) {
                try {
                    CountDownLatch ack = parked;
                    if (ack != null) {
                        ack.countDown();
                    }
                    p.await();
                } catch (InterruptedException e) {
                    return;
                }
            }
            try {
                String first = queue.poll(pollMillis(), TimeUnit.MILLISECONDS);
                if (first != null) {
                    batch.add(first);
                    queue.drainTo(batch, BATCH - 1);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                stop = true;
            }
            if (!batch.isEmpty() && batch.get(batch.size() - 1) == STOP) {
                batch.remove(batch.size() - 1);
                stop = true;
            }
            stop |= writeWithRetry(batch, stop);
            batch.clear();
        }
        try {
            force();
            channel.close();
        } catch (IOException e) {
            log.error("closing the audit log {} failed: {}", settings.file(), e.toString());
        }
    }

    private long pollMillis() {
        return settings.fsyncInterval().isZero() ? 200 : Math.max(1, settings.fsyncInterval().toMillis());
    }

    /** Writes the batch, retrying once a second while the file cannot be written. True to stop. */
    private boolean writeWithRetry(List<String> batch, boolean stopping) {
        for (int attempt = 0; ; attempt++) {
            try {
                write(batch);
                failing = false;
                return false;
            } catch (IOException e) {
                failing = true;
                writeFailures.incrementAndGet();
                log.error("writing the audit log {} failed (attempt {}): {}", settings.file(), attempt + 1, e.toString());
                if (stopping && attempt >= 2) {
                    log.error("{} audit events could not be written at shutdown", batch.size());
                    return true;
                }
                try {
                    Thread.sleep(1000);
                    reopen();
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return true;
                } catch (IOException again) {
                    log.error("reopening the audit log {} failed: {}", settings.file(), again.toString());
                }
            }
        }
    }

    private void write(List<String> batch) throws IOException {
        AuditChain before = new AuditChain(settings.key(), chain.lastSeq(), chain.lastMac());
        long idleGap = batch.isEmpty() && queue.isEmpty() ? dropped.getAndSet(0) : 0; // no event came after the drops
        List<String> lines = new ArrayList<>(batch.size() + 1);
        long gaps = 0;
        for (String body : batch) {
            if (body.startsWith(GAP_MARKER)) {
                lines.add(chain.seal(gapRecord(Long.parseLong(body.substring(GAP_MARKER.length())))));
                gaps++;
            } else {
                lines.add(chain.seal(body));
            }
        }
        if (idleGap > 0) {
            lines.add(chain.seal(gapRecord(idleGap)));
            batch.add(GAP_MARKER + idleGap); // written again as such if this write fails
            gaps++;
        }
        try {
            for (String line : lines) {
                byte[] bytes = line.getBytes(StandardCharsets.UTF_8);
                rotateIfDue(bytes.length);
                writeFully(bytes);
                written.incrementAndGet();
                if (settings.fsyncInterval().isZero()) {
                    force();
                }
            }
        } catch (IOException e) {
            chain = before; // the batch is written again after the retry, sealed anew
            throw e;
        }
        written.addAndGet(-gaps); // gap records are not accepted events
        if (unforced && System.nanoTime() - lastForceNanos >= settings.fsyncInterval().toNanos()) {
            force();
        }
    }

    private String gapRecord(long count) {
        return AuditEvent.of("gap", clock.instant()).put("dropped", count).body();
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
    private void resume() throws IOException {
        Path file = settings.file();
        chain = AuditChain.fresh(settings.key());
        if (Files.exists(file) && Files.size(file) > 0) {
            byte[] all = Files.readAllBytes(file);
            if (all[all.length - 1] != '\n') {
                long first = firstSeqOf(file);
                Path aside = rotatedName(first == Long.MAX_VALUE ? 0 : first);
                Files.move(file, aside, StandardCopyOption.ATOMIC_MOVE);
                log.warn("the audit log {} ends in a torn line (a crash while writing); moved to {}, which audit verify reports",
                        file, aside);
                chainFrom(all);
                return;
            }
            chainFrom(all);
            return;
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
        if (newest != null) {
            chainFrom(Files.readAllBytes(newest));
        }
    }

    private void chainFrom(byte[] all) {
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
                chain = new AuditChain(settings.key(), seq, mac);
                log.info("audit log {}: the chain goes on after seq {}", settings.file(), seq);
                return;
            }
            end = start;
        }
    }

    private static long firstSeqOf(Path file) throws IOException {
        try (var r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String first = r.readLine();
            long s = first == null ? -1 : AuditVerifier.seqOf(first);
            return s < 0 ? Long.MAX_VALUE : s;
        }
    }
}
