package io.postern.policies.audit;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What every audit sink shares: a bounded queue that producers (event loops) hand events to, a
 * writer thread of the sink's own that seals them ({@link AuditChain}) in queue order and hands
 * the records to the subclass's {@link #output}, the {@link WhenFull} modes, gap records where
 * events were dropped, retries while the output fails, and a close that writes everything
 * accepted.
 *
 * <p>Thread-safety: {@link #offer}, {@link #available()}, {@link #state()} and the counters may
 * be used from any thread; the {@code protected} hooks run on the writer thread only.
 */
public abstract class AuditSink implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AuditSink.class);

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

    /** A sink's condition, for metrics and the status page. */
    public enum State {
        /** Writing, with room in the queue. */
        OK,
        /** The queue is full. */
        FULL,
        /** The output fails (file not writable, receiver unreachable); the writer retries. */
        FAILING,
        CLOSED;

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private static final String STOP = new String("stop");
    /** In the queue where events were dropped: {@code GAP_MARKER + count} becomes a gap record in its place. */
    private static final String GAP_MARKER = "\u0000gap:";
    private static final int BATCH = 256;
    /** How long a blocked producer or close waits before it looks again whether the sink closed or its writer ended. */
    private static final long WAIT_SLICE_MILLIS = 100;
    /** At close, how many more attempts a failing output gets before what is left is given up. */
    private static final int ATTEMPTS_AT_CLOSE = 3;

    private final String target;
    private final byte[] key;
    private final int queueCapacity;
    private final WhenFull whenFull;
    protected final Clock clock;
    private final BlockingQueue<String> queue;
    private Thread writer;
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong written = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong droppedTotal = new AtomicLong();
    private final AtomicLong writeFailures = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private volatile boolean failing;
    private volatile boolean closed;
    private volatile CountDownLatch paused;
    private volatile CountDownLatch parked;

    // writer thread only
    private AuditChain chain;

    /**
     * @param target what the sink writes to, for log lines and metrics (a file, {@code syslog://host:port})
     */
    protected AuditSink(String target, byte[] key, int queueCapacity, WhenFull whenFull, Clock clock) {
        this.target = target;
        this.key = key.clone();
        this.queueCapacity = queueCapacity;
        this.whenFull = whenFull;
        this.clock = clock;
        // drop and fail-closed: one place more, for a gap marker
        this.queue = new ArrayBlockingQueue<>(queueCapacity + (whenFull == WhenFull.BLOCK ? 0 : 1));
    }

    /** Starts the writer with the chain that goes on from {@code chain}; the subclass's constructor calls it last. */
    protected final void start(AuditChain chain, String threadName) {
        this.chain = chain;
        writer = new Thread(this::run, threadName);
        writer.setDaemon(true);
        writer.start();
    }

    /** What the sink writes to: a file's path, {@code syslog://host:port}. */
    public String target() {
        return target;
    }

    public WhenFull whenFull() {
        return whenFull;
    }

    public int queueCapacity() {
        return queueCapacity;
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
            log.warn("an audit event arrived after {} was closed and is lost", target);
            return false;
        }
        boolean ok;
        if (whenFull == WhenFull.BLOCK) {
            try {
                // waits for room; a close meanwhile (the writer gives up on an output that stays down) lets go
                while (!(ok = queue.offer(body, WAIT_SLICE_MILLIS, TimeUnit.MILLISECONDS)) && !closed) {
                    // still full, still open: wait on
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                ok = false;
            }
        } else {
            ok = queue.size() < queueCapacity;
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

    /** False while the queue is full or the output fails: what {@code fail-closed} refuses commands on. */
    public boolean available() {
        return !failing && !closed && outputUp() && queue.size() < queueCapacity;
    }

    /** The sink's condition now. */
    public State state() {
        if (closed) {
            return State.CLOSED;
        }
        if (failing || !outputUp()) {
            return State.FAILING;
        }
        return queue.size() >= queueCapacity ? State.FULL : State.OK;
    }

    /**
     * Whether the output is known to work; a subclass that learns of a failure before it writes
     * (a receiver that closed the connection) says so here. Any thread.
     */
    protected boolean outputUp() {
        return true;
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

    /** Events written (gap records not counted). */
    public long written() {
        return written.get();
    }

    /** Events dropped since the sink started (each also reported in a gap record once there was room). */
    public long dropped() {
        return droppedTotal.get();
    }

    /** Failed attempts to write (each followed by a retry). */
    public long writeFailures() {
        return writeFailures.get();
    }

    /** Events waiting for the writer: the queue depth. */
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

    /**
     * Writes everything accepted, then closes the output. Waits for the writer; while the output
     * fails, it gets a few more attempts, then what is left is given up (and logged as lost).
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        unpauseWriter();
        try {
            while (!queue.offer(STOP, WAIT_SLICE_MILLIS, TimeUnit.MILLISECONDS) && writer.isAlive()) {
                // a full queue: the writer takes from it, or gives up (output down) and ends
            }
            writer.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            log.warn("interrupted while closing the audit sink {}; {} events were still queued", target, queue.size());
        }
    }

    // ---------------------------------------------------------------- writer thread hooks

    /**
     * Writes sealed records, each a line ending in {@code \n}, in order. After a failure the same
     * records (sealed anew) come again, after {@link #recover()}.
     */
    protected abstract void output(List<String> records) throws IOException;

    /** After each pass of the writer (a batch written, or a poll that found nothing): a force when one is due. */
    protected void afterPass() throws IOException {}

    /** How long the writer waits for an event before {@link #afterPass()}. */
    protected long pollMillis() {
        return 200;
    }

    /** How long to wait before the {@code attempt}-th retry (0 first). */
    protected abstract Duration retryDelay(int attempt);

    /** Makes the output usable again after a failure (reopen, reconnect); may throw to be retried later. */
    protected abstract void recover() throws IOException;

    /** At close, after the last records: forces and closes the output. */
    protected abstract void finish() throws IOException;

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
        int lost = queue.size() - (queue.contains(STOP) ? 1 : 0);
        if (lost > 0) {
            droppedTotal.addAndGet(lost);
            log.error("{} audit events for {} could not be written at shutdown", lost, target);
        }
        try {
            finish();
        } catch (IOException e) {
            log.error("closing the audit sink {} failed: {}", target, e.toString());
        }
    }

    /** Writes the batch, retrying after {@link #retryDelay} while the output fails. True to stop. */
    private boolean writeWithRetry(List<String> batch, boolean stopping) {
        for (int attempt = 0; ; attempt++) {
            try {
                write(batch);
                failing = false;
                return false;
            } catch (IOException e) {
                failing = true;
                writeFailures.incrementAndGet();
                if (attempt == 0 || attempt % 10 == 0) {
                    log.error("writing the audit sink {} failed (attempt {}): {}", target, attempt + 1, e.toString());
                }
                if ((stopping || closed) && attempt >= ATTEMPTS_AT_CLOSE - 1) {
                    droppedTotal.addAndGet(batch.size());
                    log.error("{} audit events for {} could not be written at shutdown", batch.size(), target);
                    return true;
                }
                try {
                    Thread.sleep(retryDelay(attempt).toMillis());
                    recover();
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return true;
                } catch (IOException again) {
                    log.debug("recovering the audit sink {} failed: {}", target, again.toString());
                }
            }
        }
    }

    private void write(List<String> batch) throws IOException {
        AuditChain before = new AuditChain(key, chain.lastSeq(), chain.lastMac());
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
            output(lines);
            afterPass();
        } catch (IOException e) {
            chain = before; // the batch is written again after the retry, sealed anew
            throw e;
        }
        written.addAndGet(lines.size() - gaps); // gap records are not accepted events
    }

    private String gapRecord(long count) {
        return AuditEvent.of("gap", clock.instant()).put("dropped", count).body();
    }
}
