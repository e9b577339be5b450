package io.postern.policies.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.postern.policies.Command;
import io.postern.policies.CommandCompletion;
import io.postern.policies.CommandVerdict;
import io.postern.policies.Decision;
import io.postern.policies.Policy;
import io.postern.policies.PolicyConfigException;
import io.postern.policies.SessionInfo;
import io.postern.policies.engine.MapSettings;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuditPolicyFactoryTest {

    @TempDir
    Path dir;

    private Path keyFile() throws Exception {
        Path k = dir.resolve("k");
        Files.writeString(k, "0123456789abcdef0123\n");
        return k;
    }

    private Policy create(Map<String, Object> audit) throws PolicyConfigException {
        return new AuditPolicyFactory().create("audit-0", new MapSettings(audit, "policies[0].audit"));
    }

    private Map<String, Object> base() throws Exception {
        Map<String, Object> m = new HashMap<>();
        m.put("file", dir.resolve("audit.log").toString());
        m.put("key_file", keyFile().toString());
        return m;
    }

    @AfterEach
    void closeSinks() {
        AuditSinks.closeAll();
    }

    @Test
    void errorsNameTheKeyPath() throws Exception {
        assertThatThrownBy(() -> create(Map.of("key_file", keyFile().toString())))
                .hasMessageStartingWith("policies[0].audit.file: required");
        Map<String, Object> m = base();
        m.put("key_file", dir.resolve("missing").toString());
        assertThatThrownBy(() -> create(m)).hasMessageStartingWith("policies[0].audit.key_file: cannot be read");
        Map<String, Object> shortKey = base();
        Files.writeString(dir.resolve("short"), "abc");
        shortKey.put("key_file", dir.resolve("short").toString());
        assertThatThrownBy(() -> create(shortKey)).hasMessageContaining("policies[0].audit.key_file").hasMessageContaining("at least 16");
        Map<String, Object> mode = base();
        mode.put("when_full", "later");
        assertThatThrownBy(() -> create(mode)).hasMessageStartingWith("policies[0].audit.when_full: \"later\" is not one of");
        Map<String, Object> events = base();
        events.put("events", List.of("login", "reads"));
        assertThatThrownBy(() -> create(events)).hasMessageStartingWith("policies[0].audit.events: \"reads\"");
        Map<String, Object> rotate = base();
        rotate.put("rotate", Map.of("max_size", "1KiB"));
        assertThatThrownBy(() -> create(rotate)).hasMessageStartingWith("policies[0].audit.rotate.max_size:");
        Map<String, Object> unknown = base();
        unknown.put("fsnyc", "each");
        assertThatThrownBy(() -> create(unknown)).hasMessageContaining("fsnyc");
    }

    @Test
    void syslogSettingsAreCheckedWithTheirKeyPaths() throws Exception {
        Map<String, Object> noHost = base();
        noHost.put("syslog", Map.of("port", 514));
        assertThatThrownBy(() -> create(noHost)).hasMessageStartingWith("policies[0].audit.syslog.host: required");
        Map<String, Object> port = base();
        port.put("syslog", Map.of("host", "127.0.0.1", "port", 70000));
        assertThatThrownBy(() -> create(port)).hasMessageStartingWith("policies[0].audit.syslog.port:");
        Map<String, Object> caWithoutTls = base();
        caWithoutTls.put("syslog", Map.of("host", "127.0.0.1", "ca", keyFile().toString()));
        assertThatThrownBy(() -> create(caWithoutTls)).hasMessageStartingWith("policies[0].audit.syslog.ca: only with tls: true");
        Map<String, Object> missingCa = base();
        missingCa.put("syslog", Map.of("host", "127.0.0.1", "tls", true, "ca", dir.resolve("nope.pem").toString()));
        assertThatThrownBy(() -> create(missingCa)).hasMessageStartingWith("policies[0].audit.syslog.ca: cannot be read");
        Map<String, Object> facility = base();
        facility.put("syslog", Map.of("host", "127.0.0.1", "facility", "finance"));
        assertThatThrownBy(() -> create(facility)).hasMessageStartingWith("policies[0].audit.syslog.facility: \"finance\" is not a syslog facility");
        Map<String, Object> app = base();
        app.put("syslog", Map.of("host", "127.0.0.1", "app_name", "post ern"));
        assertThatThrownBy(() -> create(app)).hasMessageStartingWith("policies[0].audit.syslog.app_name: \"post ern\"");
        Map<String, Object> hostname = base();
        hostname.put("syslog", Map.of("host", "127.0.0.1", "hostname", "x".repeat(256)));
        assertThatThrownBy(() -> create(hostname)).hasMessageStartingWith("policies[0].audit.syslog.hostname:");
        Map<String, Object> unknown = base();
        unknown.put("syslog", Map.of("host", "127.0.0.1", "protocol", "udp"));
        assertThatThrownBy(() -> create(unknown)).hasMessageContaining("policies[0].audit.syslog").hasMessageContaining("protocol");
        Map<String, Object> neither = new HashMap<>();
        neither.put("key_file", keyFile().toString());
        assertThatThrownBy(() -> create(neither)).hasMessageStartingWith("policies[0].audit.file: required");
    }

    @Test
    void aSyslogOnlyPolicyMakesOneSyslogSinkThatKeepsTryingAnAbsentReceiver() throws Exception {
        Map<String, Object> m = new HashMap<>();
        m.put("key_file", keyFile().toString());
        m.put("when_full", "fail-closed");
        int port;
        try (java.net.ServerSocket closed = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = closed.getLocalPort();
        } // nothing listens there now
        m.put("syslog", Map.of("host", "127.0.0.1", "port", port, "facility", "local3", "hostname", "gw-1"));
        Policy p = create(m);
        assertThat(AuditSinks.all()).hasSize(1);
        AuditSyslogSink sink = (AuditSyslogSink) AuditSinks.all().get(0);
        assertThat(sink.target()).isEqualTo("syslog://127.0.0.1:" + port);
        assertThat(sink.settings().facility()).isEqualTo(19);
        assertThat(sink.settings().hostname()).isEqualTo("gw-1");
        assertThat(sink.settings().appName()).isEqualTo("postern");
        assertThat(sink.available()).isFalse();
        assertThat(sink.state()).isEqualTo(AuditSink.State.FAILING);
        SessionInfo s = new SessionInfo("9", "fin", Set.of(), "imap", InetAddress.getLoopbackAddress(), false, "LOGIN", "b");
        assertThat(decide(p, s, "a1 SELECT INBOX")).isEqualTo(Decision.Kind.REJECT);
        assertThat(sink.refusedCommands()).isEqualTo(1);
    }

    @Test
    void expungedUidsAreRecordedOnlyWhenTheCountsAgree() throws Exception {
        Policy p = create(base());
        assertThat(p.wantsDeletedUids()).isTrue();
        SessionInfo s = new SessionInfo("8", "fin", Set.of(), "imap", InetAddress.getLoopbackAddress(), false, "LOGIN", "b");
        var untagged = p.untaggedListeners().get(0).listener();
        var done = p.completionListeners().get(0);
        assertThat(decide(p, s, "e1 EXPUNGE")).isEqualTo(Decision.Kind.PROCEED);
        untagged.onUntagged(s, "EXPUNGE", 3, "");
        untagged.onUntagged(s, "EXPUNGE", 3, "");
        done.onCompleted(s, new CommandCompletion("e1", "EXPUNGE", "OK", null, Duration.ofMillis(1), false, null, null,
                List.of("4", "7")));
        assertThat(decide(p, s, "e2 EXPUNGE")).isEqualTo(Decision.Kind.PROCEED);
        untagged.onUntagged(s, "EXPUNGE", 1, ""); // another session flagged one more, or cleared one: the counts differ
        done.onCompleted(s, new CommandCompletion("e2", "EXPUNGE", "OK", null, Duration.ofMillis(1), false, null, null,
                List.of("9", "12")));
        assertThat(decide(p, s, "c1 CLOSE")).isEqualTo(Decision.Kind.PROCEED);
        done.onCompleted(s, new CommandCompletion("c1", "CLOSE", "OK", null, Duration.ofMillis(1), false, null, null,
                List.of("15")));
        assertThat(decide(p, s, "e3 EXPUNGE")).isEqualTo(Decision.Kind.PROCEED);
        done.onCompleted(s, new CommandCompletion("e3", "EXPUNGE", "NO", null, Duration.ofMillis(1), false, null, null,
                List.of("20")));
        AuditSinks.closeAll();
        List<String> lines = Files.readAllLines(dir.resolve("audit.log"));
        assertThat(lines).hasSize(4);
        assertThat(lines.get(0)).contains("\"expunged_seqs\":[\"3\",\"3\"],\"expunged_uids\":[\"4\",\"7\"]");
        assertThat(lines.get(1)).contains("\"expunged_seqs\":[\"1\"],\"deleted_uids\":[\"9\",\"12\"]")
                .doesNotContain("expunged_uids");
        assertThat(lines.get(2)).contains("\"command\":\"CLOSE\"").contains("\"expunged_uids\":[\"15\"]");
        assertThat(lines.get(3)).contains("\"status\":\"NO\"").doesNotContain("_uids");
        Map<String, Object> logins = base();
        logins.put("events", List.of("login"));
        assertThat(create(logins).wantsDeletedUids()).isFalse();
        Map<String, Object> fetchOnly = base();
        fetchOnly.put("commands", List.of("FETCH"));
        assertThat(create(fetchOnly).wantsDeletedUids()).isFalse();
    }

    @Test
    void failClosedRefusesCommandsWhileTheSinkIsFullAndCountsThem() throws Exception {
        Map<String, Object> m = base();
        m.put("when_full", "fail-closed");
        m.put("queue", 1);
        Policy p = create(m);
        AuditFileSink sink = (AuditFileSink) AuditSinks.all().get(0);
        SessionInfo s = new SessionInfo("7", "fin", Set.of(), "imap", InetAddress.getLoopbackAddress(), false, "LOGIN", "b");
        assertThat(decide(p, s, "a1 SELECT INBOX")).isEqualTo(Decision.Kind.PROCEED);
        sink.pauseWriter();
        p.completionListeners().get(0).onCompleted(s, new CommandCompletion("a1", "SELECT", "OK", null, Duration.ofMillis(1), false));
        p.completionListeners().get(0).onCompleted(s, new CommandCompletion("a2", "NOOP", "OK", null, Duration.ofMillis(1), false));
        assertThat(sink.available()).isFalse();
        assertThat(decide(p, s, "a3 FETCH 1 FLAGS")).isEqualTo(Decision.Kind.REJECT);
        assertThat(decide(p, s, "a4 LOGOUT")).isEqualTo(Decision.Kind.PROCEED);
        assertThat(sink.refusedCommands()).isEqualTo(1);
        sink.unpauseWriter();
        for (int i = 0; i < 500 && !sink.available(); i++) {
            Thread.sleep(10);
        }
        assertThat(decide(p, s, "a5 FETCH 1 FLAGS")).isEqualTo(Decision.Kind.PROCEED);
    }

    @Test
    void aReloadWithTheSameSettingsKeepsTheSinkAndOtherSettingsGoOnWithTheChain() throws Exception {
        Map<String, Object> m = base();
        create(m);
        AuditFileSink first = (AuditFileSink) AuditSinks.all().get(0);
        create(m);
        assertThat(AuditSinks.all()).containsExactly(first);
        first.offer(AuditEvent.of("command", java.time.Instant.now()).put("tag", "a1"));
        m.put("fsync", "50ms");
        create(m);
        assertThat(first.isClosed()).isTrue();
        AuditFileSink second = (AuditFileSink) AuditSinks.all().get(0);
        assertThat(second).isNotSameAs(first);
        second.offer(AuditEvent.of("command", java.time.Instant.now()).put("tag", "a2"));
        AuditSinks.closeAll();
        AuditVerifier.Result r = AuditVerifier.verify(AuditChain.readKey(keyFile()), List.of(dir.resolve("audit.log")));
        assertThat(r.ok()).as(r.describe()).isTrue();
        assertThat(r.records()).isEqualTo(2);
    }

    private static Decision.Kind decide(Policy p, SessionInfo s, String line) {
        Command c = Command.parse(line);
        CommandVerdict v = new CommandVerdict(c);
        p.commandPolicies().get(0).onCommand(s, c, v);
        return v.decision().kind();
    }

    @Test
    void appendSizesComeFromLiteralAnnouncementsNotTheirData() {
        byte[] w = "a1 APPEND Box {12+}\r\nab {999}\r\ncdefg\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        Command c = new Command("a1", "APPEND", w, 10, true, true);
        assertThat(SessionState.literalBytes(c)).isEqualTo(12);
        Command partial = Command.parse("a2 APPEND Box (\\Seen) {3456}");
        assertThat(SessionState.literalBytes(partial)).isEqualTo(3456);
    }
}
