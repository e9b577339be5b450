package io.postern.bench.workload;

import io.postern.bench.client.ClientRuntime;
import io.postern.bench.client.Target;
import io.postern.bench.report.Json;
import io.postern.bench.report.Output;
import io.postern.bench.report.RunResult;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Runs one workload against two targets interleaved (A B A B ...), so that a machine whose load
 * changes under the run moves both sides alike, and prints per-metric medians and B/A ratios.
 */
@Command(name = "compare",
        description = "Run a workload against --a and --b interleaved (A B A B ...); print medians and ratios B/A.",
        subcommands = {LoginWorkload.class, NoopWorkload.class, FetchWorkload.class, AppendWorkload.class,
            IdleWorkload.class, MixedWorkload.class})
public final class CompareCommand {

    @Option(names = "--a", required = true, description = "The reference target, e.g. the backend directly.")
    String a;

    @Option(names = "--b", required = true, description = "The target compared with it, e.g. Postern in front of it.")
    String b;

    @Option(names = "--label-a", description = "Name of A in the output (default ${DEFAULT-VALUE}).")
    String labelA = "direct";

    @Option(names = "--label-b", description = "Name of B in the output (default ${DEFAULT-VALUE}).")
    String labelB = "postern";

    @Option(names = "--rounds", description = "Rounds; each runs A then B (default ${DEFAULT-VALUE}).")
    int rounds = 3;

    @Option(names = "--pause", description = "Pause between runs, to let the previous one's sockets close (default ${DEFAULT-VALUE}).",
            converter = DurationConverter.class)
    java.time.Duration pause = java.time.Duration.ofSeconds(1);

    int compare(WorkloadCommand workload) throws Exception {
        if (rounds < 1 || rounds > 100) {
            throw new IllegalArgumentException("--rounds: " + rounds + " (expected: 1..100)");
        }
        CommonOptions common = workload.common();
        Target targetA = common.target(a);
        Target targetB = common.target(b);
        List<RunResult> resultsA = new ArrayList<>();
        List<RunResult> resultsB = new ArrayList<>();
        try (ClientRuntime runtime = new ClientRuntime(common.threads())) {
            for (int round = 1; round <= rounds; round++) {
                for (boolean sideA : new boolean[] {true, false}) {
                    Target target = sideA ? targetA : targetB;
                    RunResult result;
                    try {
                        result = workload.runOnce(runtime, target);
                    } catch (Exception e) {
                        // one failed run is an error of the comparison, not the end of it
                        result = new RunResult(workload.name(), target.toString());
                        result.error(e.toString());
                    }
                    result.parameter("round", round).parameter("side", sideA ? labelA : labelB);
                    Output.emit(result, common.json());
                    (sideA ? resultsA : resultsB).add(result);
                    Thread.sleep(pause.toMillis());
                }
            }
        }
        Summary summary = summarize(workload.name(), resultsA, resultsB);
        Output.json(summary.json, common.json());
        System.err.print(summary.table);
        boolean clean = resultsA.stream().allMatch(r -> r.errors().isEmpty())
                && resultsB.stream().allMatch(r -> r.errors().isEmpty());
        return clean && summary.factsEqual ? 0 : 1;
    }

    private record Summary(String json, String table, boolean factsEqual) {}

    private Summary summarize(String workload, List<RunResult> resultsA, List<RunResult> resultsB) {
        Set<String> names = new LinkedHashSet<>();
        resultsA.forEach(r -> names.addAll(r.metrics().keySet()));
        resultsB.forEach(r -> names.addAll(r.metrics().keySet()));
        Map<String, Object> metrics = new LinkedHashMap<>();
        StringBuilder table = new StringBuilder();
        table.append(String.format(Locale.ROOT, "%n%s: %s = %s, %s = %s, %d interleaved rounds, medians%n",
                workload, labelA, a, labelB, b, rounds));
        table.append(String.format(Locale.ROOT, "  %-34s %14s %14s %8s %15s%n",
                "metric", labelA, labelB, labelB + "/" + labelA, "range of rounds"));
        for (String name : names) {
            double[] va = values(resultsA, name);
            double[] vb = values(resultsB, name);
            double ma = median(va);
            double mb = median(vb);
            double[] perRound = new double[Math.min(va.length, vb.length)];
            for (int i = 0; i < perRound.length; i++) {
                perRound[i] = vb[i] / va[i];
            }
            double ratio = mb / ma;
            double min = Arrays.stream(perRound).filter(d -> !Double.isNaN(d)).min().orElse(Double.NaN);
            double max = Arrays.stream(perRound).filter(d -> !Double.isNaN(d)).max().orElse(Double.NaN);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("a", ma);
            m.put("b", mb);
            m.put("ratio", ratio);
            m.put("ratio_min", min);
            m.put("ratio_max", max);
            if (name.endsWith("_us") || name.endsWith("_ms")) {
                m.put("added", mb - ma);
            }
            metrics.put(name, m);
            table.append(String.format(Locale.ROOT, "  %-34s %14s %14s %8s %15s%n", name, RunResult.format(ma),
                    RunResult.format(mb), ratio(ratio), ratio(min) + "-" + ratio(max)));
        }
        Map<String, Object> facts = new LinkedHashMap<>();
        boolean equal = true;
        List<RunResult> all = new ArrayList<>(resultsA);
        all.addAll(resultsB);
        Set<String> factNames = new LinkedHashSet<>();
        all.forEach(r -> factNames.addAll(r.facts().keySet()));
        for (String fact : factNames) {
            Set<String> seen = new LinkedHashSet<>();
            all.forEach(r -> seen.add(r.facts().get(fact)));
            boolean same = seen.size() == 1;
            equal &= same;
            facts.put(fact, same ? seen.iterator().next() : "DIFFERENT: " + seen);
            table.append(String.format(Locale.ROOT, "  %-34s %s%n", fact, same ? "same both ways: " + seen.iterator().next()
                    : "DIFFERENT: " + seen));
        }
        int errors = all.stream().mapToInt(r -> r.errors().size()).sum();
        if (errors > 0) {
            table.append("  errors in the runs: ").append(errors).append(" (see the JSON lines)\n");
        }
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("compare", workload);
        root.put("a", Map.of("label", labelA, "target", a));
        root.put("b", Map.of("label", labelB, "target", b));
        root.put("rounds", rounds);
        root.put("metrics", metrics);
        root.put("facts", facts);
        root.put("facts_equal", equal);
        root.put("errors", errors);
        return new Summary(Json.write(root), table.toString(), equal);
    }

    private static String ratio(double r) {
        return Double.isNaN(r) ? "-" : String.format(Locale.ROOT, "%.3f", r);
    }

    private static double[] values(List<RunResult> results, String name) {
        return results.stream().mapToDouble(r -> r.metrics().getOrDefault(name, Double.NaN)).toArray();
    }

    static double median(double[] values) {
        double[] v = Arrays.stream(values).filter(d -> !Double.isNaN(d)).sorted().toArray();
        if (v.length == 0) {
            return Double.NaN;
        }
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
