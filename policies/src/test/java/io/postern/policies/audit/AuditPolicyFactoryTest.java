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
    void failClosedRefusesCommandsWhileTheSinkIsFullAndCountsThem() throws Exception {
        Map<String, Object> m = base();
        m.put("when_full", "fail-closed");
        m.put("queue", 1);
        Policy p = create(m);
        AuditFileSink sink = AuditSinks.all().get(0);
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
        AuditFileSink first = AuditSinks.all().get(0);
        create(m);
        assertThat(AuditSinks.all()).containsExactly(first);
        first.offer(AuditEvent.of("command", java.time.Instant.now()).put("tag", "a1"));
        m.put("fsync", "50ms");
        create(m);
        assertThat(first.isClosed()).isTrue();
        AuditFileSink second = AuditSinks.all().get(0);
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
