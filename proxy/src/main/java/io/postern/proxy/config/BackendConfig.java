package io.postern.proxy.config;

import java.time.Duration;
import java.util.Set;

/**
 * {@code backends[i]}: an IMAP server Postern relays to.
 *
 * @param name unique, referred to by {@code routing}
 * @param address the server's IMAP port
 * @param tls {@code none} (this build)
 * @param connectTimeout how long a TCP connect may take before the client gets {@code NO [UNAVAILABLE]}
 * @param loginTimeout how long greeting plus login at the backend may take
 */
public record BackendConfig(String name, HostPort address, String tls, Duration connectTimeout, Duration loginTimeout) {

    static final Set<String> KEYS = Set.of("name", "address", "tls", "ca", "connect_timeout", "login_timeout");

    static BackendConfig read(ConfigNode n) throws ConfigException {
        n.requireMapping(KEYS);
        String name = n.get("name").requiredString();
        HostPort address = HostPort.parse(n.get("address"));
        if (address.port() == 0) {
            throw n.get("address").error("port 0 is not a backend port");
        }
        String tls = n.get("tls").oneOf("none", "none", "starttls", "implicit");
        if (!tls.equals("none")) {
            throw n.get("tls").error("\"" + tls + "\" is not supported by this build yet (expected: none)");
        }
        if (!n.get("ca").isMissing()) {
            throw n.get("ca").error("backend TLS is not supported by this build yet; leave ca unset");
        }
        Duration connect = n.get("connect_timeout").duration(Duration.ofSeconds(5), Duration.ofMillis(10));
        Duration login = n.get("login_timeout").duration(Duration.ofSeconds(30), Duration.ofMillis(10));
        return new BackendConfig(name, address, tls, connect, login);
    }
}
