package io.postern.proxy.soak;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * What the soak's sessions did, counted from every event loop at once; constant in size, so
 * that it does not itself grow the heap the soak measures.
 */
final class SoakStats {

    /** The commands of the workload. */
    enum Command { LOGIN, CREATE, SELECT, NOOP, FETCH, APPEND, IDLE, STORE, EXPUNGE, LOGOUT }

    /** How a session ended on purpose without LOGOUT. */
    enum Abrupt { BETWEEN_COMMANDS, AFTER_FETCH, MID_APPEND, IN_IDLE }

    private static final int KEPT_ERRORS = 10;
    /** Latency buckets: bucket i holds [2^i, 2^(i+1)) microseconds. */
    private static final int BUCKETS = 40;

    final AtomicLong sessionsStarted = new AtomicLong();
    final AtomicLong sessionsLoggedOut = new AtomicLong();
    final AtomicLong fetchedBytes = new AtomicLong();
    final AtomicLong bodiesVerified = new AtomicLong();
    final AtomicLong appendedBytes = new AtomicLong();
    private final Map<Command, AtomicLong> commands = new EnumMap<>(Command.class);
    private final Map<Command, AtomicLongArray> latencies = new EnumMap<>(Command.class);
    private final Map<Abrupt, AtomicLong> abrupt = new EnumMap<>(Abrupt.class);
    private final AtomicLong errors = new AtomicLong();
    private final Queue<String> firstErrors = new ConcurrentLinkedQueue<>();

    SoakStats() {
        for (Command c : Command.values()) {
            commands.put(c, new AtomicLong());
            latencies.put(c, new AtomicLongArray(BUCKETS));
        }
        for (Abrupt a : Abrupt.values()) {
            abrupt.put(a, new AtomicLong());
        }
    }

    void completed(Command command, long nanos) {
        commands.get(command).incrementAndGet();
        long micros = Math.max(1, TimeUnit.NANOSECONDS.toMicros(nanos));
        int bucket = Math.min(BUCKETS - 1, 63 - Long.numberOfLeadingZeros(micros));
        latencies.get(command).incrementAndGet(bucket);
    }

    void abrupt(Abrupt how) {
        abrupt.get(how).incrementAndGet();
    }

    long abruptEnds() {
        return abrupt.values().stream().mapToLong(AtomicLong::get).sum();
    }

    /** Something the workload did not provoke: a wrong answer, an unexpected close, a stall. */
    void error(String what) {
        if (errors.incrementAndGet() <= KEPT_ERRORS) {
            firstErrors.add(what);
        }
    }

    long errors() {
        return errors.get();
    }

    List<String> firstErrors() {
        return new ArrayList<>(firstErrors);
    }

    long commands() {
        return commands.values().stream().mapToLong(AtomicLong::get).sum();
    }

    /** The upper bound of the bucket that holds the {@code q} quantile, in milliseconds. */
    private double quantileMillis(Command command, double q) {
        AtomicLongArray buckets = latencies.get(command);
        long total = 0;
        for (int i = 0; i < BUCKETS; i++) {
            total += buckets.get(i);
        }
        long rank = (long) Math.ceil(total * q);
        long seen = 0;
        for (int i = 0; i < BUCKETS; i++) {
            seen += buckets.get(i);
            if (seen >= rank && total > 0) {
                return (1L << (i + 1)) / 1000.0;
            }
        }
        return 0;
    }

    /** A few lines for the log and the report. */
    String summary() {
        StringBuilder s = new StringBuilder();
        s.append(String.format("sessions: %d started, %d logged out, %d ended abruptly on purpose %s%n",
                sessionsStarted.get(), sessionsLoggedOut.get(), abruptEnds(), abrupt));
        s.append(String.format("commands: %d; bodies fetched and verified: %d (%d MB); appended: %d MB%n",
                commands(), bodiesVerified.get(), fetchedBytes.get() >> 20, appendedBytes.get() >> 20));
        s.append("latency (count, p50 <=, p99 <= ms):");
        for (Command c : Command.values()) {
            s.append(String.format(" %s %d/%.1f/%.1f", c, commands.get(c).get(), quantileMillis(c, 0.5),
                    quantileMillis(c, 0.99)));
        }
        s.append(String.format("%nerrors not provoked by the workload: %d%s", errors.get(),
                firstErrors.isEmpty() ? "" : "; first: " + String.join(" | ", firstErrors)));
        return s.toString();
    }
}
