package io.postern.proxy.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * {@code backends[i]}: an IMAP server Postern relays to.
 *
 * @param name unique, referred to by {@code routing}
 * @param address the server's IMAP port
 * @param tls {@code none}, {@code starttls} or {@code implicit}
 * @param ca PEM CA certificates that verify the backend; {@code null} for the system trust store
 * @param serverName the name the backend's certificate must carry (and the SNI sent); defaults to
 *     the host of {@code address}
 * @param pinSha256 SHA-256 fingerprints (hex) of acceptable backend certificates; when set they
 *     replace CA and name verification (for self-signed backends)
 * @param insecure accept any certificate; must be spelled out, and is logged at start
 * @param connectTimeout how long a TCP connect may take before the client gets {@code NO [UNAVAILABLE]}
 * @param loginTimeout how long greeting, TLS and login at the backend may take
 * @param forwardClientAddress send {@code ID} with the client's address, port and Postern's session
 *     id before logging in (Dovecot believes it from {@code login_trusted_networks})
 * @param fallback the backend its users go to while this one is down, or {@code null}
 * @param maxSessions sessions at most at once through this Postern; 0 for no limit
 * @param healthCheck how the backend is probed
 * @param proxyProtocol {@code none}, or {@code v1}/{@code v2}: open every connection with a PROXY
 *     protocol header carrying the client's address (for backends with {@code haproxy = yes})
 * @param compress after login, ask a backend that offers {@code COMPRESS=DEFLATE} to compress
 *     (for backends across a slow or metered link)
 * @param warmConnections connections made, greeted and kept ready ahead of logins, per event
 *     loop; 0 for none (every login connects when it arrives)
 * @param warmIdleTimeout how long a ready connection waits unused before it is closed; keep it
 *     well below the backend's timeout for connections that do not log in
 */
public record BackendConfig(
        String name,
        HostPort address,
        String tls,
        Path ca,
        String serverName,
        List<String> pinSha256,
        boolean insecure,
        Duration connectTimeout,
        Duration loginTimeout,
        boolean forwardClientAddress,
        String fallback,
        int maxSessions,
        HealthCheck healthCheck,
        String proxyProtocol,
        boolean compress,
        int warmConnections,
        Duration warmIdleTimeout) {

    static final Set<String> KEYS = Set.of(
            "name", "address", "tls", "ca", "server_name", "pin_sha256", "insecure", "connect_timeout", "login_timeout",
            "forward_client_address", "fallback", "max_sessions", "health_check", "proxy_protocol", "compress",
            "warm_connections", "warm_idle_timeout");

    /**
     * {@code backends[i].health_check}: a probe connects, reads the greeting and closes, every
     * {@code interval}; {@code fall} failed probes in a row mark the backend down, {@code rise}
     * good ones mark it up again. A failed connect of a login counts as a failed probe.
     */
    public record HealthCheck(boolean enabled, Duration interval, Duration timeout, int fall, int rise) {
        static final Set<String> KEYS = Set.of("enabled", "interval", "timeout", "fall", "rise");

        static HealthCheck read(ConfigNode n) throws ConfigException {
            n.requireMapping(KEYS);
            return new HealthCheck(
                    n.get("enabled").bool(true),
                    n.get("interval").duration(Duration.ofSeconds(10), Duration.ofMillis(50)),
                    n.get("timeout").duration(Duration.ofSeconds(3), Duration.ofMillis(10)),
                    n.get("fall").integer(3, 1, 100),
                    n.get("rise").integer(2, 1, 100));
        }
    }

    public boolean usesTls() {
        return !tls.equals("none");
    }

    static BackendConfig read(ConfigNode n) throws ConfigException {
        n.requireMapping(KEYS);
        String name = n.get("name").requiredString();
        HostPort address = HostPort.parse(n.get("address"));
        if (address.port() == 0) {
            throw n.get("address").error("port 0 is not a backend port");
        }
        String tls = n.get("tls").oneOf("none", "none", "starttls", "implicit");
        Path ca = n.get("ca").file(true);
        String serverName = n.get("server_name").string(address.host());
        List<String> pins = n.get("pin_sha256").strings().stream()
                .map(p -> p.replace(":", "").toLowerCase(Locale.ROOT))
                .toList();
        for (String pin : pins) {
            if (!pin.matches("[0-9a-f]{64}")) {
                throw n.get("pin_sha256").error("\"" + pin + "\" is not a SHA-256 fingerprint (64 hex digits)");
            }
        }
        boolean insecure = n.get("insecure").bool(false);
        if (tls.equals("none") && (ca != null || !pins.isEmpty() || insecure || !n.get("server_name").isMissing())) {
            throw n.get("tls").error("ca, server_name, pin_sha256 and insecure need tls: starttls or implicit");
        }
        if (ca != null && !pins.isEmpty()) {
            throw n.get("pin_sha256").error("pins replace CA and name checks; remove ca or pin_sha256");
        }
        if (insecure && (ca != null || !pins.isEmpty())) {
            throw n.get("insecure").error("insecure: true turns verification off; remove ca and pin_sha256 or insecure");
        }
        Duration connect = n.get("connect_timeout").duration(Duration.ofSeconds(5), Duration.ofMillis(10));
        Duration login = n.get("login_timeout").duration(Duration.ofSeconds(30), Duration.ofMillis(10));
        boolean forward = n.get("forward_client_address").bool(false);
        String fallback = n.get("fallback").string(null);
        if (name.equals(fallback)) {
            throw n.get("fallback").error("a backend cannot be its own fallback");
        }
        int maxSessions = n.get("max_sessions").integer(0, 0, 10_000_000);
        HealthCheck health = HealthCheck.read(n.get("health_check"));
        String proxyProtocol = n.get("proxy_protocol").oneOf("none", "none", "v1", "v2");
        int warm = n.get("warm_connections").integer(0, 0, 1000);
        if (warm > 0 && !proxyProtocol.equals("none")) {
            throw n.get("warm_connections").error("a connection made ahead cannot carry the PROXY header of a client not yet known;"
                    + " remove warm_connections or proxy_protocol");
        }
        Duration warmIdle = n.get("warm_idle_timeout").duration(Duration.ofSeconds(10), Duration.ofMillis(10));
        return new BackendConfig(name, address, tls, ca, serverName, pins, insecure, connect, login, forward, fallback,
                maxSessions, health, proxyProtocol, n.get("compress").bool(false), warm, warmIdle);
    }
}
