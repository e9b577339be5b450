package io.postern.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.postern.tls.ServerTlsSettings.ClientAuth;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class ServerTlsSettingsTest {

    @Test
    void defaults() {
        ServerTlsSettings settings = ServerTlsSettings.defaults();

        assertThat(settings.protocols()).containsExactly("TLSv1.3", "TLSv1.2");
        assertThat(settings.ciphers()).isEmpty();
        assertThat(settings.clientAuth()).isEqualTo(ClientAuth.NONE);
        assertThat(settings.clientCa()).isNull();
        assertThat(settings.provider()).isEqualTo(Provider.AUTO);
    }

    @Test
    void oldProtocolIsRefused() {
        assertThatThrownBy(() -> new ServerTlsSettings(List.of("TLSv1.2", "TLSv1.1"), null, null, null, null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("protocols: TLSv1.1 (expected: some of [TLSv1.3, TLSv1.2])");
        assertThatThrownBy(() -> new ServerTlsSettings(List.of(), null, null, null, null))
                .hasMessage("protocols: empty (expected: some of [TLSv1.3, TLSv1.2])");
    }

    @Test
    void clientAuthNeedsClientCa() {
        assertThatThrownBy(() -> new ServerTlsSettings(null, null, ClientAuth.REQUIRE, null, null))
                .hasMessage("clientCa: required when clientAuth is REQUIRE"
                        + " (a PEM file with the CA certificates that sign client certificates)");
        assertThatThrownBy(() -> new ServerTlsSettings(null, null, ClientAuth.NONE, Path.of("ca.crt"), null))
                .hasMessage("clientCa: ca.crt is set but clientAuth is NONE (set clientAuth to OPTIONAL or REQUIRE)");
    }

    @Test
    void blankCipher() {
        assertThatThrownBy(() -> new ServerTlsSettings(null, List.of(" "), null, null, null))
                .hasMessage("ciphers: blank entry (expected: cipher suite names)");
    }
}
