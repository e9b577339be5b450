package io.postern.tls;

import java.nio.file.Path;
import java.util.List;

/**
 * How a listener speaks TLS, apart from its certificates. Immutable; validated when built.
 *
 * @param protocols the protocol versions offered; {@code null} means {@code [TLSv1.3, TLSv1.2]},
 *     the only ones accepted
 * @param ciphers cipher suites by their IANA names, e.g. {@code TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256};
 *     empty or {@code null} means the provider's defaults. With the OpenSSL provider (BoringSSL) this
 *     restricts TLS 1.2 only: BoringSSL always offers all its TLS 1.3 suites, which are all strong.
 * @param clientAuth whether clients must present a certificate; {@code null} means {@link ClientAuth#NONE}
 * @param clientCa PEM file of the CA certificates client certificates must chain to; required
 *     exactly when {@code clientAuth} is not {@link ClientAuth#NONE}
 * @param provider the TLS implementation; {@code null} means {@link Provider#AUTO}
 */
public record ServerTlsSettings(
        List<String> protocols, List<String> ciphers, ClientAuth clientAuth, Path clientCa, Provider provider) {

    /** Whether a listener asks clients for a certificate. */
    public enum ClientAuth {
        /** No client certificate is asked for. */
        NONE,
        /** A client certificate is asked for; one that does not verify fails the handshake, none is fine. */
        OPTIONAL,
        /** A client certificate that verifies against {@code clientCa} is needed for the handshake. */
        REQUIRE
    }

    /**
     * Fills in defaults and checks the combination.
     *
     * @throws IllegalArgumentException naming the setting, e.g. {@code protocols: TLSv1.1 (expected: ...)}
     */
    public ServerTlsSettings {
        protocols = TlsProtocols.validate(protocols);
        ciphers = ciphers == null ? List.of() : List.copyOf(ciphers);
        for (String cipher : ciphers) {
            if (cipher.isBlank()) {
                throw new IllegalArgumentException("ciphers: blank entry (expected: cipher suite names)");
            }
        }
        clientAuth = clientAuth == null ? ClientAuth.NONE : clientAuth;
        provider = provider == null ? Provider.AUTO : provider;
        if (clientAuth != ClientAuth.NONE && clientCa == null) {
            throw new IllegalArgumentException("clientCa: required when clientAuth is " + clientAuth
                    + " (a PEM file with the CA certificates that sign client certificates)");
        }
        if (clientAuth == ClientAuth.NONE && clientCa != null) {
            throw new IllegalArgumentException(
                    "clientCa: " + clientCa + " is set but clientAuth is NONE (set clientAuth to OPTIONAL or REQUIRE)");
        }
    }

    /** TLS 1.3 and 1.2, the provider's ciphers, no client certificates, {@link Provider#AUTO}. */
    public static ServerTlsSettings defaults() {
        return new ServerTlsSettings(null, null, null, null, null);
    }
}
