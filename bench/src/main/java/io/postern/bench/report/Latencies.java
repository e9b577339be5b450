package io.postern.bench.report;

import java.util.Arrays;

/** Recorded durations in nanoseconds, kept whole (runs are bounded in count) for exact percentiles. */
public final class Latencies {

    private long[] values = new long[1024];
    private int size;
    private boolean sorted;

    public void add(long nanos) {
        if (size == values.length) {
            values = Arrays.copyOf(values, size * 2);
        }
        values[size++] = nanos;
        sorted = false;
    }

    public int count() {
        return size;
    }

    /** The value below which {@code p} percent of the values lie (nearest rank); NaN when empty. */
    public double percentileNanos(double p) {
        if (size == 0) {
            return Double.NaN;
        }
        if (!sorted) {
            Arrays.sort(values, 0, size);
            sorted = true;
        }
        int rank = (int) Math.ceil(p / 100.0 * size);
        return values[Math.max(0, Math.min(size - 1, rank - 1))];
    }

    public double percentileMillis(double p) {
        return percentileNanos(p) / 1e6;
    }

    public double percentileMicros(double p) {
        return percentileNanos(p) / 1e3;
    }

    /** Adds {@code PREFIX_p50_ms}, {@code _p90_ms}, {@code _p99_ms} (or {@code _us}) to a result. */
    public void report(RunResult result, String prefix, boolean micros) {
        String unit = micros ? "_us" : "_ms";
        for (int p : new int[] {50, 90, 99}) {
            result.metric(prefix + "_p" + p + unit, micros ? percentileMicros(p) : percentileMillis(p));
        }
    }
}
