package io.postern.proxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

public class PosternConfigTest {

    public static final String GOOD = """
            listeners:
              - name: imap
                bind: 127.0.0.1:1143
                tls: none
            backends:
              - name: shard-a
                address: 127.0.0.1:10143
                tls: none
              - name: shard-b
                address: "[::1]:11143"
                connect_timeout: 750ms
            routing:
              strategy: static
              static: { alice: shard-b }
              default: shard-a
            policies: []
            limits:
              max_line_length: 32KiB
              max_literal_size_after_auth: 50MiB
              max_login_failures: 5
            timeouts:
              pre_auth: 30s
              idle: 40m
            io:
              event_loop_threads: 3
              write_buffer_low: 32KiB
              write_buffer_high: 1MiB
            """;

    @Test
    void readsEveryKey() throws Exception {
        PosternConfig c = PosternConfig.parse(GOOD);
        assertThat(c.listeners()).singleElement().satisfies(l -> {
            assertThat(l.name()).isEqualTo("imap");
            assertThat(l.bind()).isEqualTo(new HostPort("127.0.0.1", 1143));
            assertThat(l.tls()).isEqualTo("none");
        });
        assertThat(c.backends().get("shard-b").address()).isEqualTo(new HostPort("::1", 11143));
        assertThat(c.backends().get("shard-b").connectTimeout()).isEqualTo(Duration.ofMillis(750));
        assertThat(c.backends().get("shard-a").connectTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(c.routing().staticRoutes()).containsEntry("alice", "shard-b");
        assertThat(c.routing().defaultBackend()).isEqualTo("shard-a");
        assertThat(c.limits().commands().maxLineLength()).isEqualTo(32 * 1024);
        assertThat(c.limits().commands().maxLiteralSizeAfterAuth()).isEqualTo(50L * 1024 * 1024);
        assertThat(c.limits().commands().maxLiteralSizeBeforeAuth()).isEqualTo(8192);
        assertThat(c.limits().maxLoginFailures()).isEqualTo(5);
        assertThat(c.timeouts().preAuth()).isEqualTo(Duration.ofSeconds(30));
        assertThat(c.timeouts().idle()).isEqualTo(Duration.ofMinutes(40));
        assertThat(c.io()).isEqualTo(new IoConfig(3, 32 * 1024, 1024 * 1024));
        assertThat(c.io().threads()).isEqualTo(3);
        assertThat(c.io().waterMark().high()).isEqualTo(1024 * 1024);
    }

    @Test
    void defaultsWhenOptionalSectionsAreAbsent() throws Exception {
        PosternConfig c = PosternConfig.parse("""
                listeners: [{name: imap, bind: "127.0.0.1:1143"}]
                backends: [{name: only, address: "127.0.0.1:10143"}]
                routing: {strategy: static}
                """);
        assertThat(c.routing().defaultBackend()).isEqualTo("only");
        assertThat(c.timeouts().preAuth()).isEqualTo(Duration.ofSeconds(60));
        assertThat(c.timeouts().idle()).isEqualTo(Duration.ofMinutes(35));
        assertThat(c.limits().maxLoginFailures()).isEqualTo(3);
        assertThat(c.io()).isEqualTo(new IoConfig(0, 64 * 1024, 256 * 1024));
        assertThat(c.io().threads()).as("one per core").isEqualTo(Runtime.getRuntime().availableProcessors());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "default: shard-a|default: shard-c|routing.default: unknown backend \"shard-c\"",
        "bind: 127.0.0.1:1143|bind: 127.0.0.1|listeners[0].bind: expected host:port, found \"127.0.0.1\"",
        "bind: 127.0.0.1:1143|bind: 127.0.0.1:70000|listeners[0].bind: port 70000 is out of range (expected: 0 to 65535)",
        "  - name: shard-b|  - name: shard-a|backends[1].name: duplicate backend name \"shard-a\"",
        "static: { alice: shard-b }|static: { alice: nowhere }|routing.static.alice: unknown backend \"nowhere\"",
        "max_line_length: 32KiB|max_line_length: 10|limits.max_line_length: 10 is out of range (expected: 64 to 67108864)",
        "max_line_length: 32KiB|max_line_length: lots|limits.max_line_length: expected a size such as 65536, 64KiB or 64MiB, found \"lots\"",
        "pre_auth: 30s|pre_auth: soon|timeouts.pre_auth: expected a duration such as 500ms, 60s, 35m or 1h, found \"soon\"",
        "strategy: static|strategy: magic|routing.strategy: \"magic\" is not one of static, hash, http, ldap",
        "strategy: static|strategy: ldap|routing.ldap: required for strategy ldap (at least url and base)",
        "strategy: static|strategy: http|routing.http: required for strategy http (at least url)",
        "strategy: static|strategy: hash|routing.backends: the hash strategy needs at least one backend in the ring",
        "tls: none\\nbackends|tls: implicit\\nbackends|listeners[0].tls: \"implicit\" needs certificates under tls.certificates",
        "tls: none\\nbackends|tls: none\\n    require_tls: true\\nbackends|listeners[0].require_tls: needs tls: starttls or implicit on this listener",
        "tls: none\\n  - name: shard-b|tls: starttls\\n    pin_sha256: [abc]\\n  - name: shard-b|backends[0].pin_sha256: \"abc\" is not a SHA-256 fingerprint (64 hex digits)",
        "tls: none\\n  - name: shard-b|tls: none\\n    insecure: true\\n  - name: shard-b|backends[0].tls: ca, server_name, pin_sha256 and insecure need tls: starttls or implicit",
        "tls: none\\n  - name: shard-b|tls: implicit\\n    ca: /nonexistent/ca.pem\\n  - name: shard-b|backends[0].ca: cannot read file /nonexistent/ca.pem",
        "idle: 40m|idle: 40m\\n  colour: blue|timeouts.colour: unknown key (known keys: idle, pre_auth, shutdown_grace)",
        "policies: []|policies: [{name: x}]|policies[0]: no policy type (expected one of: acl, audit, capabilities, no_delete, scan)",
        "policies: []|policies: [{acl: {read_only: often}}]|policies[0].acl.read_only: expected true or false, found \"often\"",
        "policies: []|policies: [{acl: {colour: red}}]|policies[0].acl.colour: unknown key (known keys: allowed_addresses, commands, login_hours, mailboxes, rate_limit, read_only, require_tls)",
        "policies: []|policies: [{acl: {mailboxes: [{pattern: x, action: vanish}]}}]|policies[0].acl.mailboxes[0].action: \"vanish\" is not one of allow, deny, hide",
        "policies: []|policies: [{acl: {rate_limit: {max_delay: 1s}}}]|policies[0].acl.rate_limit: set commands_per_second, bytes_per_second or both",
        "policies: []|policies: [{acl: {allowed_addresses: [10.0.0.0/33]}}]|policies[0].acl.allowed_addresses: \"10.0.0.0/33\": prefix length 33 is out of range (expected: 0 to 32)",
        "policies: []|policies: [{match: {groups: [ghosts]}, acl: {read_only: true}}]|policies[0].match.groups[0]: unknown group \"ghosts\" (define it under groups)",
        "policies: []|policies: [{acl: {read_only: true}, capabilities: {add: [X]}}]|policies[0]: one policy type per entry, found acl and capabilities",
        "tls: none\\n  - name: shard-b|tls: none\\n    warm_connections: 2\\n    proxy_protocol: v2\\n  - name: shard-b|backends[0].warm_connections: a connection made ahead cannot carry the PROXY header of a client not yet known; remove warm_connections or proxy_protocol",
        "write_buffer_high: 1MiB|write_buffer_high: 16KiB|io.write_buffer_high: 16384 is below write_buffer_low (32768)",
        "event_loop_threads: 3|event_loop_threads: -1|io.event_loop_threads: -1 is out of range (expected: 0 to 1024)",
        "write_buffer_low: 32KiB|write_buffer_low: 100|io.write_buffer_low: 100 is out of range (expected: 1024 to 67108864)",
        "policies: []|policies: [{capabilities: {remove: [\"A B\"]}}]|policies[0].capabilities.remove[0]: \"A B\" is not a capability name",
    })
    void badValuesNameTheirKeyPath(String from, String to, String message) {
        String yaml = GOOD.replace(from.replace("\\n", "\n"), to.replace("\\n", "\n"));
        assertThat(yaml).as("the test must change the configuration").isNotEqualTo(GOOD);
        assertThatThrownBy(() -> PosternConfig.parse(yaml))
                .isInstanceOf(ConfigException.class)
                .hasMessage(message);
    }

    @Test
    void tlsSectionWithRelativeFilesResolvedAgainstTheConfigDirectory(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Files.createDirectories(dir.resolve("certs"));
        java.nio.file.Files.writeString(dir.resolve("certs/server.crt"), "x");
        java.nio.file.Files.writeString(dir.resolve("certs/server.key"), "x");
        java.nio.file.Files.writeString(dir.resolve("postern.yml"), GOOD.replace("tls: none\nbackends", "tls: implicit\nbackends")
                + "tls:\n  certificates:\n    - {cert: certs/server.crt, key: certs/server.key, server_names: [mail.test]}\n"
                + "  protocols: [TLSv1.3]\n  provider: jdk\n  reload_interval: 0s\n");
        PosternConfig c = PosternConfig.load(dir.resolve("postern.yml"));
        assertThat(c.tls().certificates()).singleElement().satisfies(cert -> {
            assertThat(cert.cert()).isEqualTo(dir.resolve("certs/server.crt"));
            assertThat(cert.serverNames()).containsExactly("mail.test");
        });
        assertThat(c.tls().protocols()).containsExactly("TLSv1.3");
        assertThat(c.tls().reloadInterval()).isZero();
        assertThat(c.listeners().get(0).requireTls()).as("implicit TLS is always TLS").isTrue();
        java.nio.file.Files.writeString(dir.resolve("bad.yml"), GOOD + "tls:\n  certificates:\n    - {cert: certs/missing.crt, key: certs/server.key}\n");
        assertThatThrownBy(() -> PosternConfig.load(dir.resolve("bad.yml")))
                .hasMessage("tls.certificates[0].cert: cannot read file " + dir.resolve("certs/missing.crt"));
    }

    @Test
    void unknownTopLevelKeyAndMissingSections() {
        assertThatThrownBy(() -> PosternConfig.parse(GOOD + "listners: []\n"))
                .hasMessageStartingWith("listners: unknown key (known keys: admin, backends, groups, io, limits, listeners,");
        assertThatThrownBy(() -> PosternConfig.parse("backends: [{name: a, address: \"127.0.0.1:1\"}]\nrouting: {}\n"))
                .hasMessage("listeners: at least one listener is required");
        assertThatThrownBy(() -> PosternConfig.parse(""))
                .hasMessage("the configuration is empty");
        assertThatThrownBy(() -> PosternConfig.parse("listeners: [\n"))
                .hasMessageStartingWith("not valid YAML: ");
    }
}
