package io.postern.bench.report;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What one run of a workload against one target measured: numeric metrics (names carry the
 * unit: {@code _per_s}, {@code _mb_per_s}, {@code _ms}, {@code _us}, {@code _kib}), facts that
 * must be equal whichever way the data went (checksums, counts), parameters, and errors.
 */
public final class RunResult {

    private final String workload;
    private final String target;
    private final Instant started = Instant.now();
    private final Map<String, Object> parameters = new LinkedHashMap<>();
    private final Map<String, Double> metrics = new LinkedHashMap<>();
    private final Map<String, String> facts = new LinkedHashMap<>();
    private final List<String> errors = new ArrayList<>();
    private double seconds;

    public RunResult(String workload, String target) {
        this.workload = workload;
        this.target = target;
    }

    public RunResult parameter(String name, Object value) {
        parameters.put(name, value);
        return this;
    }

    public RunResult metric(String name, double value) {
        metrics.put(name, value);
        return this;
    }

    public RunResult fact(String name, String value) {
        facts.put(name, value);
        return this;
    }

    /** Records an error; more than 20 are counted, not kept. */
    public synchronized void error(String message) {
        if (errors.size() < 20) {
            errors.add(message);
        } else if (errors.size() == 20) {
            errors.add("(more errors not kept)");
        }
    }

    public void seconds(double seconds) {
        this.seconds = seconds;
    }

    public double seconds() {
        return seconds;
    }

    public String workload() {
        return workload;
    }

    public String target() {
        return target;
    }

    public Map<String, Double> metrics() {
        return metrics;
    }

    public Map<String, String> facts() {
        return facts;
    }

    public synchronized List<String> errors() {
        return List.copyOf(errors);
    }

    /** One JSON object on one line. */
    public String toJson() {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("workload", workload);
        root.put("target", target);
        root.put("started", started.toString());
        root.put("seconds", seconds);
        root.put("parameters", parameters);
        root.put("metrics", metrics);
        root.put("facts", facts);
        root.put("errors", errors());
        return Json.write(root);
    }

    /** A readable table of the metrics and facts. */
    public String toTable() {
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "%s against %s (%.1f s)%n", workload, target, seconds));
        for (Map.Entry<String, Double> m : metrics.entrySet()) {
            out.append(String.format(Locale.ROOT, "  %-34s %14s%n", m.getKey(), format(m.getValue())));
        }
        for (Map.Entry<String, String> f : facts.entrySet()) {
            out.append(String.format(Locale.ROOT, "  %-34s %14s%n", f.getKey(), f.getValue()));
        }
        for (String e : errors()) {
            out.append("  error: ").append(e).append('\n');
        }
        return out.toString();
    }

    public static String format(double value) {
        if (Double.isNaN(value)) {
            return "-";
        }
        if (value == Math.rint(value) && Math.abs(value) < 1e12) {
            return String.format(Locale.ROOT, "%,d", (long) value);
        }
        if (Math.abs(value) >= 100) {
            return String.format(Locale.ROOT, "%,.1f", value);
        }
        return String.format(Locale.ROOT, "%.3f", value);
    }
}
