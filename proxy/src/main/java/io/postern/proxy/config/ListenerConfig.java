package io.postern.proxy.config;

import java.util.Set;

/**
 * {@code listeners[i]}: one address Postern accepts clients on.
 *
 * @param name unique, used in logs and metrics
 * @param bind the address to listen on
 * @param tls {@code none} (this build); {@code starttls} and {@code implicit} come with the TLS work
 */
public record ListenerConfig(String name, HostPort bind, String tls, boolean requireTls, boolean proxyProtocol) {

    static final Set<String> KEYS = Set.of("name", "bind", "tls", "require_tls", "proxy_protocol");

    static ListenerConfig read(ConfigNode n) throws ConfigException {
        n.requireMapping(KEYS);
        String name = n.get("name").requiredString();
        HostPort bind = HostPort.parse(n.get("bind"));
        String tls = n.get("tls").oneOf("none", "none", "starttls", "implicit");
        if (!tls.equals("none")) {
            throw n.get("tls").error("\"" + tls + "\" is not supported by this build yet (expected: none)");
        }
        boolean requireTls = n.get("require_tls").bool(false);
        if (requireTls) {
            throw n.get("require_tls").error("needs a TLS listener, which this build does not support yet");
        }
        boolean proxyProtocol = n.get("proxy_protocol").bool(false);
        if (proxyProtocol) {
            throw n.get("proxy_protocol").error("the PROXY protocol is not supported by this build yet");
        }
        return new ListenerConfig(name, bind, tls, requireTls, proxyProtocol);
    }
}
