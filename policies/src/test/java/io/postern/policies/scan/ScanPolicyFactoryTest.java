package io.postern.policies.scan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.postern.policies.ContentDirection;
import io.postern.policies.ContentInspector;
import io.postern.policies.ContentVerdict;
import io.postern.policies.Policy;
import io.postern.policies.PolicyConfigException;
import io.postern.policies.SessionInfo;
import io.postern.policies.engine.MapSettings;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ScanPolicyFactoryTest {

    private static final SessionInfo SESSION = new SessionInfo("s1", "alice", Set.of(), "imap", null, false);

    private static Policy create(Map<String, ?> settings) throws PolicyConfigException {
        return new ScanPolicyFactory().create("scan-test", new MapSettings(settings, "policies[0].scan"));
    }

    private static ContentVerdict inspect(Policy p, ContentDirection d, String message) throws Exception {
        try (ContentInspector i = p.contentPolicies().get(0).inspect(SESSION, d)) {
            i.onData(ByteBuffer.wrap(message.replace("\n", "\r\n").getBytes(StandardCharsets.ISO_8859_1)));
            return i.onEnd().get();
        }
    }

    private static final String EXE_MESSAGE = """
            Subject: x
            MIME-Version: 1.0
            Content-Type: multipart/mixed; boundary=b

            --b
            Content-Type: text/plain

            hello
            --b
            Content-Type: application/octet-stream; name="setup.exe"

            just bytes
            --b--
            """;

    @Test
    void errorsNameTheKeyPath() {
        assertThatThrownBy(() -> create(Map.of("downlaod", "replace")))
                .isInstanceOf(PolicyConfigException.class).hasMessageContaining("policies[0].scan").hasMessageContaining("downlaod");
        assertThatThrownBy(() -> create(Map.of("clamd", Map.of("address", "127.0.0.1:3310", "on_failure", "maybe"))))
                .hasMessageContaining("policies[0].scan.clamd.on_failure").hasMessageContaining("fail-open");
        assertThatThrownBy(() -> create(Map.of("clamd", Map.of("timeout", "1s"))))
                .hasMessageContaining("policies[0].scan.clamd.address").hasMessageContaining("required");
        assertThatThrownBy(() -> create(Map.of("rules", Map.of("blocked_file_types", List.of("exe")))))
                .hasMessageContaining("policies[0].scan.rules.blocked_file_types");
        assertThatThrownBy(() -> create(Map.of("rules", Map.of("sha256_deny", List.of("abc")))))
                .hasMessageContaining("policies[0].scan.rules").hasMessageContaining("64 hex digits");
        assertThatThrownBy(() -> create(Map.of("download", "strip")))
                .hasMessageContaining("policies[0].scan.download").hasMessageContaining("replace, refuse");
        assertThatThrownBy(() -> create(Map.of("directions", List.of("sideways"))))
                .hasMessageContaining("policies[0].scan.directions");
    }

    @Test
    void anUploadWithABlockedPartIsRefusedWithItsReason() throws Exception {
        ContentVerdict v = inspect(create(Map.of()), ContentDirection.UPLOAD, EXE_MESSAGE);
        assertThat(v.kind()).isEqualTo(ContentVerdict.Kind.REFUSE);
        assertThat(v.code()).isEqualTo("POLICY");
        assertThat(v.reason()).contains("setup.exe").contains(".exe");
        assertThat(v.result()).isEqualTo("blocked");
    }

    @Test
    void aDownloadWithABlockedPartReplacesExactlyThatPart() throws Exception {
        String wire = EXE_MESSAGE.replace("\n", "\r\n");
        ContentVerdict v = inspect(create(Map.of()), ContentDirection.DOWNLOAD, EXE_MESSAGE);
        assertThat(v.kind()).isEqualTo(ContentVerdict.Kind.REPLACE);
        assertThat(v.replacements()).singleElement().satisfies(r -> {
            assertThat(wire.substring((int) r.start(), (int) r.end()))
                    .isEqualTo("Content-Type: application/octet-stream; name=\"setup.exe\"\r\n\r\njust bytes");
            assertThat(new String(r.bytes(), StandardCharsets.UTF_8)).startsWith("Content-Type: text/plain")
                    .contains("setup.exe").doesNotEndWith("\n");
        });
        ContentVerdict refused = inspect(create(Map.of("download", "refuse")), ContentDirection.DOWNLOAD, EXE_MESSAGE);
        assertThat(refused.kind()).isEqualTo(ContentVerdict.Kind.REFUSE);
    }

    @Test
    void aCleanMessagePassesAndDirectionsSelect() throws Exception {
        String clean = EXE_MESSAGE.replace("setup.exe", "notes.txt");
        assertThat(inspect(create(Map.of()), ContentDirection.UPLOAD, clean).kind()).isEqualTo(ContentVerdict.Kind.PASS);
        Policy uploadsOnly = create(Map.of("directions", List.of("upload")));
        assertThat(uploadsOnly.contentPolicies().get(0).inspect(SESSION, ContentDirection.DOWNLOAD)).isNull();
    }

    @Test
    void aBlockedRootPartRefusesTheDownloadEvenInReplaceMode() throws Exception {
        String single = """
                Subject: x
                Content-Type: application/octet-stream; name="a.exe"

                bytes
                """;
        assertThat(inspect(create(Map.of()), ContentDirection.DOWNLOAD, single).kind()).isEqualTo(ContentVerdict.Kind.REFUSE);
    }
}
