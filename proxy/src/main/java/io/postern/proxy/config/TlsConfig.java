package io.postern.proxy.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * {@code tls}: the certificates Postern presents to clients, and how it speaks TLS.
 *
 * @param certificates the first one is the default; the others are chosen by SNI
 * @param protocols enabled protocol versions
 * @param ciphers enabled cipher suites; empty for the provider's defaults
 * @param provider {@code auto} (OpenSSL when it loads, else the JDK), {@code openssl} or {@code jdk}
 * @param reloadInterval how often the certificate files are checked for changes; zero turns that off
 *     (SIGHUP still reloads)
 */
public record TlsConfig(
        List<CertificateConfig> certificates,
        List<String> protocols,
        List<String> ciphers,
        String provider,
        Duration reloadInterval) {

    static final Set<String> KEYS = Set.of("certificates", "protocols", "ciphers", "provider", "reload_interval");
    static final List<String> DEFAULT_PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");
    private static final Set<String> KNOWN_PROTOCOLS = Set.of("TLSv1.3", "TLSv1.2");

    /**
     * {@code tls.certificates[i]}.
     *
     * @param keyPasswordFile the password of an encrypted PKCS#8 key, or {@code null}
     * @param serverNames SNI names this certificate answers; empty for the names in the certificate
     */
    public record CertificateConfig(Path cert, Path key, Path keyPasswordFile, List<String> serverNames) {

        static final Set<String> KEYS = Set.of("cert", "key", "key_password_file", "server_names");

        static CertificateConfig read(ConfigNode n) throws ConfigException {
            n.requireMapping(KEYS);
            if (n.get("cert").isMissing()) {
                throw n.get("cert").error("required");
            }
            if (n.get("key").isMissing()) {
                throw n.get("key").error("required");
            }
            return new CertificateConfig(
                    n.get("cert").file(true),
                    n.get("key").file(true),
                    n.get("key_password_file").file(true),
                    List.copyOf(n.get("server_names").strings()));
        }
    }

    /** The protocols of {@code tls}, or the defaults when there is no {@code tls} section. */
    public static List<String> defaultProtocols(TlsConfig tls) {
        return tls == null ? DEFAULT_PROTOCOLS : tls.protocols();
    }

    static TlsConfig read(ConfigNode n) throws ConfigException {
        n.requireMapping(KEYS);
        List<CertificateConfig> certificates = new ArrayList<>();
        for (ConfigNode item : n.get("certificates").list()) {
            certificates.add(CertificateConfig.read(item));
        }
        if (certificates.isEmpty()) {
            throw n.get("certificates").error("at least one certificate is required");
        }
        List<String> protocols = n.get("protocols").isMissing() ? DEFAULT_PROTOCOLS : n.get("protocols").strings();
        for (String p : protocols) {
            if (!KNOWN_PROTOCOLS.contains(p)) {
                throw n.get("protocols").error("unknown protocol \"" + p + "\" (expected: TLSv1.3, TLSv1.2)");
            }
        }
        if (protocols.isEmpty()) {
            throw n.get("protocols").error("at least one protocol is required");
        }
        List<String> ciphers = n.get("ciphers").strings();
        String provider = n.get("provider").oneOf("auto", "auto", "openssl", "jdk");
        Duration reload = n.get("reload_interval").duration(Duration.ofSeconds(30), Duration.ZERO);
        return new TlsConfig(List.copyOf(certificates), List.copyOf(protocols), List.copyOf(ciphers), provider, reload);
    }
}
