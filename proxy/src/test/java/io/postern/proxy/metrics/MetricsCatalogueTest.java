package io.postern.proxy.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Meter;
import io.postern.policies.scan.ScanVerdict;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The meter catalogue: the README's table is the one {@link PosternMeter#markdownTable()} makes,
 * names and tags follow the rules, and what Prometheus shows is what the table says.
 */
class MetricsCatalogueTest {

    private static final Path README = Path.of("..", "README.md");
    private static final String START = "<!-- metrics-table:start (generated from PosternMeter; MetricsCatalogueTest) -->\n";
    private static final String END = "<!-- metrics-table:end -->";

    /** Tags that would grow with users or traffic: never allowed. */
    private static final Set<String> FORBIDDEN_TAGS = Set.of("user", "mailbox", "client", "address", "tag", "session");

    @Test
    void theReadmeTableIsTheCatalogue() throws Exception {
        String readme = Files.readString(README);
        int start = readme.indexOf(START);
        int end = readme.indexOf(END);
        assertThat(start).as("README marker " + START.strip()).isNotNegative();
        assertThat(end).as("README marker " + END).isGreaterThan(start);
        assertThat(readme.substring(start + START.length(), end))
                .as("the README's metrics table; paste PosternMeter.markdownTable() between the markers")
                .isEqualTo(PosternMeter.markdownTable());
    }

    @Test
    void namesAreDottedLowercaseUnderPosternAndTagsAreBounded() {
        Set<String> names = new HashSet<>();
        for (PosternMeter m : PosternMeter.values()) {
            assertThat(m.meterName()).matches("postern(\\.[a-z]+)+");
            assertThat(names.add(m.meterName())).as("unique " + m.meterName()).isTrue();
            assertThat(m.tagKeys()).doesNotContainAnyElementsOf(FORBIDDEN_TAGS).allMatch(k -> k.matches("[a-z]+"));
            assertThat(m.description()).isNotBlank().endsWith(".");
        }
        assertThat(PosternMeter.values()).hasSizeGreaterThanOrEqualTo(19);
    }

    @Test
    void aTagValueCountThatDoesNotMatchTheKeysIsRefused() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> PosternMeter.COMMANDS.tags("imap", "FETCH"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("postern.commands");
    }

    @Test
    void everyMeterScrapesUnderThePrometheusNameTheTableGives() {
        try (PosternMetrics metrics = new PosternMetrics()) {
            ListenerMeters l = metrics.listener("imap");
            l.opened();
            l.closed(PosternMetrics.SessionOutcome.LOGOUT);
            l.login("PLAIN", PosternMetrics.LoginResult.OK);
            l.commandCompleted("UID FETCH", "OK", 1_000, 2_000_000);
            l.commandCompleted("XYZZY", "NO", 1_000, -1);
            metrics.backendConnect("a", 1_000_000, true);
            metrics.tlsHandshake(true, true, "TLSv1.3");
            metrics.tlsHandshake(false, false, null);
            metrics.policyVerdict("p", PosternMetrics.PolicyStage.COMMAND, PosternMetrics.Verdict.REJECT);
            metrics.scanned(ScanVerdict.blocked("clamd", "Eicar"), Duration.ofMillis(3));
            metrics.gauge(PosternMeter.BACKEND_UP, () -> 1, "a");
            metrics.gauge(PosternMeter.BACKEND_SESSIONS, () -> 0, "a");
            metrics.gauge(PosternMeter.CERTIFICATE_EXPIRY, () -> 42.5, "imaps", "server.crt");
            metrics.reloaded(true);
            PrometheusText scrape = new PrometheusText(new String(metrics.scrape(null).body(), java.nio.charset.StandardCharsets.UTF_8));
            for (PosternMeter m : PosternMeter.values()) {
                String name = m.type() == Meter.Type.TIMER ? m.prometheusName() + "_count" : m.prometheusName();
                assertThat(scrape.names()).as(m.meterName()).contains(name);
                for (PrometheusText.Sample s : scrape.find(name)) {
                    assertThat(s.labels().keySet()).as(name).containsExactlyInAnyOrderElementsOf(m.tagKeys());
                }
            }
            assertThat(scrape.sum("postern_commands_total", "command", "other", "status", "NO")).as("an unknown command").isEqualTo(1);
            assertThat(scrape.sum("postern_commands_total", "command", "UID FETCH")).isEqualTo(1);
            assertThat(scrape.find("postern_command_duration_seconds_bucket", "command", "UID FETCH", "stage", "backend"))
                    .filteredOn(s -> s.labels().get("le").equals("0.005")).singleElement()
                    .satisfies(s -> assertThat(s.value()).as("2 ms in the 5 ms bucket").isEqualTo(1));
            assertThat(scrape.sum("postern_tls_handshakes_total", "side", "backend", "result", "failed", "protocol", "unknown"))
                    .isEqualTo(1);
            assertThat(scrape.sum("postern_scans_total", "result", "blocked")).isEqualTo(1);
            assertThat(scrape.sum("postern_scans_total", "result", "clean")).isZero();
            assertThat(scrape.sum("postern_tls_certificate_expiry_days")).isEqualTo(42.5);
        }
    }

    @Test
    void metricNamesAreFoundInPromql() {
        assertThat(DashboardQueries.metricNames(
                "sum by (listener) (rate(postern_commands_total{status=~\"NO|BAD\", listener=\"$listener\"}[$__rate_interval]))"
                        + " / ignoring(status) sum(rate(postern_commands_total[5m])) > 0.05"))
                .containsExactly("postern_commands_total");
        assertThat(DashboardQueries.metricNames("histogram_quantile(0.99, sum by (le, command) "
                + "(rate(postern_command_duration_seconds_bucket{stage=\"backend\"}[5m])))"))
                .containsExactly("postern_command_duration_seconds_bucket");
        assertThat(DashboardQueries.metricNames("postern_backend_up == 0 and on(backend) postern_backend_sessions offset 5m > 1e3"))
                .containsExactlyInAnyOrder("postern_backend_up", "postern_backend_sessions");
        assertThat(DashboardQueries.metricNames("sum(jvm_memory_used_bytes{area=\"heap\"}) by (id)"))
                .containsExactly("jvm_memory_used_bytes");
    }

    @Test
    void everyDashboardAndRuleFileHasQueries() throws Exception {
        assertThat(DashboardQueries.dashboards(DashboardQueries.DASHBOARDS)).hasSize(3);
        assertThat(DashboardQueries.ruleFiles(DashboardQueries.DASHBOARDS)).hasSizeGreaterThanOrEqualTo(1);
        Set<String> used = DashboardQueries.metricNames(DashboardQueries.DASHBOARDS);
        Set<String> known = new HashSet<>();
        Arrays.stream(PosternMeter.values()).forEach(m -> {
            known.add(m.prometheusName());
            for (String suffix : new String[] {"_bucket", "_count", "_sum", "_max"}) {
                known.add(m.prometheusName() + suffix);
            }
        });
        // every postern_ name the dashboards use is one the catalogue has (the IT checks the rest against a scrape)
        assertThat(used.stream().filter(n -> n.startsWith("postern_"))).isSubsetOf(known);
    }
}
