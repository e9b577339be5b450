package io.postern.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class BackendTlsSettingsTest {

    private static final String PIN = "33:60:BB:8F:B2:15:85:7F:42:35:7E:FB:F2:9A:3F:31:96:50:69:05:B6:DB:5E:F7:D9:DF:DB:FA:4C:1D:3A:11";

    @Test
    void verifiedDefaults() {
        BackendTlsSettings settings = BackendTlsSettings.verified("imap.example.com");

        assertThat(settings.serverName()).isEqualTo("imap.example.com");
        assertThat(settings.ca()).isNull();
        assertThat(settings.pinnedSha256()).isEmpty();
        assertThat(settings.insecure()).isFalse();
        assertThat(settings.protocols()).containsExactly("TLSv1.3", "TLSv1.2");
        assertThat(settings.provider()).isEqualTo(Provider.AUTO);
    }

    @Test
    void pinsAreNormalised() {
        BackendTlsSettings settings = new BackendTlsSettings(null, "b.test", List.of(PIN), false, null, null);

        assertThat(settings.pinnedSha256())
                .containsExactly("3360bb8fb215857f42357efbf29a3f3196506905b6db5ef7d9dfdbfa4c1d3a11");
    }

    @Test
    void badPin() {
        assertThatThrownBy(() -> new BackendTlsSettings(null, "b.test", List.of("AB:CD"), false, null, null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("pinnedSha256: 'AB:CD' is not a SHA-256 fingerprint (expected: 64 hex digits");
        assertThatThrownBy(() -> new BackendTlsSettings(null, "b.test", List.of(PIN.replace('B', 'X')), false, null, null))
                .hasMessageStartingWith("pinnedSha256: ");
    }

    @Test
    void serverNameIsRequiredUnlessInsecure() {
        assertThatThrownBy(() -> new BackendTlsSettings(null, null, null, false, null, null))
                .hasMessage("serverName: required unless insecure is true"
                        + " (the name the backend's certificate is for, e.g. imap.example.com)");
        assertThat(new BackendTlsSettings(null, null, null, true, null, null).insecure()).isTrue();
    }

    @Test
    void badServerName() {
        assertThatThrownBy(() -> BackendTlsSettings.verified("bad name.test"))
                .hasMessageStartingWith("serverName: 'bad name.test' is not a host name");
    }

    @Test
    void contradictions() {
        assertThatThrownBy(() -> new BackendTlsSettings(null, null, List.of(PIN), true, null, null))
                .hasMessage("insecure: cannot be combined with pinnedSha256 (remove one)");
        assertThatThrownBy(() -> new BackendTlsSettings(Path.of("ca.crt"), null, null, true, null, null))
                .hasMessage("insecure: cannot be combined with ca (remove one)");
        assertThatThrownBy(() -> new BackendTlsSettings(Path.of("ca.crt"), "b.test", List.of(PIN), false, null, null))
                .hasMessage("ca: not used when pinnedSha256 is set, pins replace CA and name checks (remove one)");
        assertThatThrownBy(() -> new BackendTlsSettings(null, "b.test", null, false, List.of("SSLv3"), null))
                .hasMessage("protocols: SSLv3 (expected: some of [TLSv1.3, TLSv1.2])");
    }
}
