package io.postern.proxy.docker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.metrics.DashboardQueries;
import io.postern.proxy.testing.DovecotFixture;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The files under {@code docker/} checked without Docker (these machines have no engine): the
 * Postern configurations parse, every file the compose files mount exists, the image runs as a
 * non-root user, HAProxy and Prometheus accept their configurations ({@code haproxy -c},
 * {@code promtool check config}).
 */
class DockerFilesTest {

    private static final Path DOCKER = Path.of("..", "docker").toAbsolutePath().normalize();

    @TempDir
    Path tmp;

    /** A configuration from {@code docker/}, its token file pointed at a stand-in. */
    private PosternConfig parseWithToken(Path file) throws Exception {
        Path token = tmp.resolve("admin.token");
        Files.writeString(token, "stand-in\n");
        String yaml = Files.readString(file).replace("/run/postern/admin.token", token.toString());
        return PosternConfig.parse(yaml, file.getParent());
    }

    @Test
    void thePosternConfigurationsAreValid() throws Exception {
        PosternConfig compose = parseWithToken(DOCKER.resolve("compose/postern.yml"));
        assertThat(compose.backends()).containsOnlyKeys("shard-a", "shard-b");
        assertThat(compose.admin().requiresToken()).isTrue();
        PosternConfig scaleOut = parseWithToken(DOCKER.resolve("scale-out/postern.yml"));
        assertThat(scaleOut.listeners().get(0).proxyProtocol()).isTrue();
        assertThat(scaleOut.routing()).isEqualTo(compose.routing()); // every instance routes alike
    }

    @Test
    void theImageIsBuiltInTwoStagesAndRunsAsANonRootUser() throws Exception {
        List<String> lines = Files.readAllLines(DOCKER.resolve("Dockerfile"));
        List<String> froms = lines.stream().filter(l -> l.startsWith("FROM ")).toList();
        assertThat(froms).hasSize(2);
        assertThat(froms.get(0)).contains("maven").endsWith(" AS build");
        assertThat(froms.get(1)).contains("-jre");
        int lastFrom = lines.indexOf(froms.get(1));
        assertThat(lines.subList(lastFrom, lines.size())).contains("USER postern");
        for (String copy : lines.subList(lastFrom, lines.size()).stream().filter(l -> l.startsWith("COPY docker/")).toList()) {
            assertThat(DOCKER.getParent().resolve(copy.split(" ")[1])).exists();
        }
    }

    @Test
    void everyFileTheComposeFilesMountExists() throws Exception {
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        JsonNode compose = yaml.readTree(DOCKER.resolve("compose.yml").toFile());
        List<String> services = new ArrayList<>();
        compose.path("services").fieldNames().forEachRemaining(services::add);
        assertThat(services).contains("postern", "dovecot-a", "dovecot-b", "clamd", "prometheus", "grafana");
        List<String> mounts = new ArrayList<>();
        compose.path("services").forEach(s -> s.path("volumes").forEach(v -> mounts.add(v.asText())));
        String override = Files.readString(DOCKER.resolve("scale-out/compose.override.yml"));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("- (\\./[^:]+):").matcher(override);
        while (m.find()) {
            mounts.add(m.group(1) + ":x");
        }
        int files = 0;
        for (String mount : mounts) {
            String source = mount.substring(0, mount.indexOf(':'));
            if (source.startsWith(".")) { // a path relative to docker/, not a named volume
                Path path = DOCKER.resolve(source).normalize();
                assertThat(path).as(mount).exists();
                files++;
            }
        }
        assertThat(files).isGreaterThanOrEqualTo(8);
    }

    @Test
    void haproxyAcceptsTheScaleOutConfiguration() throws Exception {
        assertThat(run("haproxy", "-c", "-f", DOCKER.resolve("scale-out/haproxy.cfg").toString()))
                .contains("Configuration file is valid");
    }

    @Test
    void prometheusAcceptsItsConfiguration() throws Exception {
        Path token = tmp.resolve("admin.token");
        Files.writeString(token, "stand-in\n");
        // the alert rules Prometheus loads in the compose file (promtool checks them too)
        Path rules = DOCKER.resolveSibling("dashboards").resolve("prometheus");
        assertThat(DashboardQueries.ruleFiles(rules.getParent())).isNotEmpty();
        Path config = tmp.resolve("prometheus.yml");
        Files.writeString(config, Files.readString(DOCKER.resolve("compose/prometheus.yml"))
                .replace("/run/postern/admin.token", token.toString())
                .replace("/etc/prometheus/postern", rules.toString()));
        assertThat(run("promtool", "check", "config", config.toString())).contains("SUCCESS")
                .contains("postern-alerts.yml").doesNotContain(".test.yml");
    }

    /** Runs a tool that CI installs; skipped here when it is missing, unless CI's flag is set. */
    private static String run(String... command) throws Exception {
        boolean present = Files.isExecutable(Path.of("/usr/bin", command[0])) || Files.isExecutable(Path.of("/usr/sbin", command[0]));
        if (!present) {
            assertThat(DovecotFixture.required()).as(command[0] + " is required in CI but missing").isFalse();
            Assumptions.abort(command[0] + " is not installed");
        }
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(command[0] + " did not finish within 60 s");
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }
}
