package io.postern.proxy.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Keeps the README's configuration reference and the example configs true. */
class DocumentedConfigTest {

    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    private static String readme() throws Exception {
        return Files.readString(ROOT.resolve("README.md"));
    }

    @Test
    void theReadmeExampleIsAValidConfiguration(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        String readme = readme();
        int section = readme.indexOf("## Configuration reference");
        assertThat(section).isPositive();
        Matcher yaml = Pattern.compile("```yaml\n(.*?)```", Pattern.DOTALL).matcher(readme);
        assertThat(yaml.find(section)).isTrue();
        // the files it names, as empty stand-ins: the configuration only checks they can be read
        Matcher file = Pattern.compile("(certs/[a-z.-]+)").matcher(yaml.group(1));
        while (file.find()) {
            Files.createDirectories(dir.resolve("certs"));
            Files.writeString(dir.resolve(file.group(1)), "");
        }
        PosternConfig c = PosternConfig.parse(yaml.group(1), dir);
        assertThat(c.tls().certificates()).hasSize(2);
        assertThat(c.limits().commands().maxLineLength()).isEqualTo(64 * 1024);
    }

    @Test
    void everyKeyInTheReferenceTableIsOneTheParserKnowsAndViceVersa() throws Exception {
        String readme = readme();
        int from = readme.indexOf("## Configuration reference");
        assertThat(from).isPositive();
        int to = readme.indexOf("\n## ", from); // other tables (the load driver's workloads) are no keys
        String reference = readme.substring(from, to < 0 ? readme.length() : to);
        Matcher row = Pattern.compile("^\\| `([a-z0-9_.\\[\\]]+)`(?:, `([a-z0-9_]+)`)? \\|", Pattern.MULTILINE).matcher(reference);
        Set<String> documented = new TreeSet<>();
        while (row.find()) {
            documented.add(row.group(1));
            if (row.group(2) != null) {
                documented.add(row.group(2));
            }
        }
        Map<String, Set<String>> sections = Map.ofEntries(
                Map.entry("", PosternConfig.KEYS),
                Map.entry("listeners[].", ListenerConfig.KEYS),
                Map.entry("backends[].", BackendConfig.KEYS),
                Map.entry("backends[].health_check.", BackendConfig.HealthCheck.KEYS),
                Map.entry("routing.", RoutingConfig.KEYS),
                Map.entry("routing.backends[].", RoutingConfig.RingMember.KEYS),
                Map.entry("routing.normalize.", RoutingConfig.Normalize.KEYS),
                Map.entry("routing.http.", RoutingConfig.HttpLookup.KEYS),
                Map.entry("routing.ldap.", RoutingConfig.LdapLookup.KEYS),
                Map.entry("tls.", TlsConfig.KEYS),
                Map.entry("tls.certificates[].", TlsConfig.CertificateConfig.KEYS),
                Map.entry("limits.", LimitsConfig.KEYS),
                Map.entry("timeouts.", TimeoutsConfig.KEYS),
                Map.entry("io.", IoConfig.KEYS),
                Map.entry("admin.", AdminConfig.KEYS),
                Map.entry("policies[].", PoliciesConfig.entryKeys()),
                Map.entry("policies[].match.", PoliciesConfig.MATCH_KEYS),
                Map.entry("policies[].unless.", PoliciesConfig.MATCH_KEYS),
                Map.entry("policies[].acl.", io.postern.policies.acl.AclPolicyFactory.KEYS),
                Map.entry("policies[].acl.commands.", io.postern.policies.acl.AclPolicyFactory.COMMANDS_KEYS),
                Map.entry("policies[].acl.mailboxes[].", io.postern.policies.acl.AclPolicyFactory.MAILBOX_KEYS),
                Map.entry("policies[].acl.login_hours.", io.postern.policies.acl.AclPolicyFactory.HOURS_KEYS),
                Map.entry("policies[].acl.rate_limit.", io.postern.policies.acl.AclPolicyFactory.RATE_KEYS),
                Map.entry("policies[].capabilities.", io.postern.policies.capabilities.CapabilitiesPolicyFactory.KEYS),
                Map.entry("policies[].audit.", io.postern.policies.audit.AuditPolicyFactory.KEYS),
                Map.entry("policies[].audit.rotate.", io.postern.policies.audit.AuditPolicyFactory.ROTATE_KEYS),
                Map.entry("policies[].audit.syslog.", io.postern.policies.audit.AuditPolicyFactory.SYSLOG_KEYS),
                Map.entry("policies[].scan.", io.postern.policies.scan.ScanPolicyFactory.KEYS),
                Map.entry("policies[].scan.rules.", io.postern.policies.scan.ScanPolicyFactory.RULES_KEYS),
                Map.entry("policies[].scan.clamd.", io.postern.policies.scan.ScanPolicyFactory.CLAMD_KEYS),
                Map.entry("policies[].scan.cache.", io.postern.policies.scan.ScanPolicyFactory.CACHE_KEYS));
        Set<String> known = new TreeSet<>();
        sections.forEach((prefix, keys) -> keys.forEach(k -> known.add(prefix + k)));
        // a section (listeners, routing.normalize ...) is documented by the rows of its keys,
        // with or without a row of its own
        java.util.function.Predicate<String> isSection = k -> known.stream().anyMatch(
                other -> other.startsWith(k + ".") || other.startsWith(k + "[]."));
        documented.removeIf(isSection);
        known.removeIf(isSection);
        assertThat(documented).isEqualTo(known);
    }

    @Test
    void theExamplesOfThePoliciesSectionAreValid() throws Exception {
        String readme = readme();
        int section = readme.indexOf("## Policies");
        int end = readme.indexOf("\n## ", section + 1);
        assertThat(section).isPositive();
        Matcher yaml = Pattern.compile("```yaml\n(.*?)```", Pattern.DOTALL).matcher(readme.substring(section, end));
        int examples = 0;
        while (yaml.find()) {
            PosternConfig c = io.postern.proxy.relay.PosternHarness.config("127.0.0.1", 10143, yaml.group(1));
            assertThat(c.policies().entries()).isNotEmpty();
            examples++;
        }
        assertThat(examples).isPositive();
    }

    @Test
    void theDockerExampleIsAValidConfiguration() throws Exception {
        PosternConfig c = PosternConfig.load(ROOT.resolve("docker/postern.example.yml"));
        assertThat(c.backends()).containsKey("legacy");
    }
}
