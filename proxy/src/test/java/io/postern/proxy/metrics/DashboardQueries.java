package io.postern.proxy.metrics;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The PromQL of {@code dashboards/}: every {@code expr} of every Grafana dashboard panel (and
 * template variable query) and every Prometheus alert rule, and the metric names they use.
 */
public final class DashboardQueries {

    /** {@code dashboards/} of the repository, seen from a module directory. */
    public static final Path DASHBOARDS = Path.of("..", "dashboards").toAbsolutePath().normalize();

    private static final Set<String> KEYWORDS = Set.of("by", "without", "on", "ignoring", "group_left", "group_right",
            "bool", "and", "or", "unless", "offset", "inf", "nan", "atan2");
    private static final Pattern IDENTIFIER = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");

    private DashboardQueries() {}

    /** The Grafana dashboards, {@code dashboards/grafana/*.json}. */
    public static List<Path> dashboards(Path root) {
        return list(root.resolve("grafana"), ".json");
    }

    /** The alert rule files, {@code dashboards/prometheus/*-alerts.yml}. */
    public static List<Path> ruleFiles(Path root) {
        return list(root.resolve("prometheus"), "-alerts.yml");
    }

    /** Every PromQL expression of the dashboards and rule files under {@code root}. */
    public static List<String> expressions(Path root) throws IOException {
        List<String> exprs = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (Path d : dashboards(root)) {
            collect(json.readTree(d.toFile()), exprs);
        }
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        for (Path r : ruleFiles(root)) {
            for (JsonNode group : yaml.readTree(r.toFile()).path("groups")) {
                for (JsonNode rule : group.path("rules")) {
                    exprs.add(rule.path("expr").asText());
                }
            }
        }
        return exprs;
    }

    /** The metric names used by every expression under {@code root}. */
    public static Set<String> metricNames(Path root) throws IOException {
        Set<String> names = new LinkedHashSet<>();
        for (String e : expressions(root)) {
            names.addAll(metricNames(e));
        }
        return names;
    }

    /**
     * The metric names of one PromQL expression: identifiers that are not functions, keywords,
     * label names (inside braces, or in {@code by (...)} and the like), durations or Grafana
     * variables.
     */
    public static Set<String> metricNames(String promql) {
        String e = promql.replaceAll("\"(?:[^\"\\\\]|\\\\.)*\"", "\"\"") // string literals
                .replaceAll("\\{[^}]*\\}", " ") // label matchers
                .replaceAll("\\[[^\\]]*\\]", " ") // ranges and subqueries
                .replaceAll("(?i)\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)", " ")
                .replaceAll("\\$\\{?[a-zA-Z0-9_]+\\}?", " ") // Grafana variables
                .replaceAll("(?i)\\boffset\\s+-?[0-9a-z]+", " ") // offset durations
                .replaceAll("\\b\\d+(\\.\\d+)?(e[+-]?\\d+)?\\b", " ");
        Set<String> names = new LinkedHashSet<>();
        Matcher m = IDENTIFIER.matcher(e);
        while (m.find()) {
            String id = m.group();
            int after = m.end();
            while (after < e.length() && Character.isWhitespace(e.charAt(after))) {
                after++;
            }
            boolean function = after < e.length() && e.charAt(after) == '(';
            if (!function && !KEYWORDS.contains(id.toLowerCase(java.util.Locale.ROOT))) {
                names.add(id);
            }
        }
        return names;
    }

    private static void collect(JsonNode node, List<String> out) {
        if (node.isObject()) {
            node.fields().forEachRemaining(f -> {
                if (f.getKey().equals("expr") && f.getValue().isTextual()) {
                    out.add(f.getValue().asText());
                } else if (f.getKey().equals("query") && f.getValue().isTextual() && f.getValue().asText().contains("label_values")) {
                    out.add(f.getValue().asText().replaceAll("^label_values\\((.*),\\s*[a-z_]+\\)$", "$1"));
                } else {
                    collect(f.getValue(), out);
                }
            });
        } else if (node.isArray()) {
            node.forEach(n -> collect(n, out));
        }
    }

    private static List<Path> list(Path dir, String suffix) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(suffix)).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
