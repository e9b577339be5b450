package io.postern.proxy.config;

import java.nio.file.Path;
import java.util.Set;

/**
 * {@code listeners[i]}: one address Postern accepts clients on.
 *
 * @param name unique, used in logs and metrics
 * @param bind the address to listen on
 * @param tls {@code none}, {@code starttls} (plain first, STARTTLS offered) or {@code implicit}
 *     (TLS from the first byte, port 993 style)
 * @param requireTls for {@code starttls}: no login before TLS ({@code LOGINDISABLED})
 * @param clientAuth {@code none}, {@code optional} or {@code required} client certificates
 * @param clientCa the CA that signs client certificates, when {@code clientAuth} is not {@code none}
 * @param proxyTrusted where a PROXY protocol header is believed from (the load balancers)
 * @param compress offer COMPRESS=DEFLATE (RFC 4978) to clients after login
 */
public record ListenerConfig(
        String name,
        HostPort bind,
        String tls,
        boolean requireTls,
        boolean proxyProtocol,
        String clientAuth,
        Path clientCa,
        java.util.List<Cidr> proxyTrusted,
        boolean compress) {

    static final Set<String> KEYS =
            Set.of("name", "bind", "tls", "require_tls", "proxy_protocol", "proxy_trusted", "client_auth", "client_ca",
                    "compress");

    public boolean usesTls() {
        return !tls.equals("none");
    }

    static ListenerConfig read(ConfigNode n) throws ConfigException {
        n.requireMapping(KEYS);
        String name = n.get("name").requiredString();
        HostPort bind = HostPort.parse(n.get("bind"));
        String tls = n.get("tls").oneOf("none", "none", "starttls", "implicit");
        boolean requireTls = n.get("require_tls").bool(false);
        if (requireTls && tls.equals("none")) {
            throw n.get("require_tls").error("needs tls: starttls or implicit on this listener");
        }
        boolean proxyProtocol = n.get("proxy_protocol").bool(false);
        java.util.List<Cidr> trusted = new java.util.ArrayList<>();
        java.util.List<String> blocks = n.get("proxy_trusted").isMissing()
                ? java.util.List.of("127.0.0.0/8", "::1/128")
                : n.get("proxy_trusted").strings();
        for (String block : blocks) {
            trusted.add(Cidr.parse(n.get("proxy_trusted"), block));
        }
        String clientAuth = n.get("client_auth").oneOf("none", "none", "optional", "required");
        Path clientCa = n.get("client_ca").file(true);
        if (!clientAuth.equals("none") && tls.equals("none")) {
            throw n.get("client_auth").error("client certificates need tls: starttls or implicit");
        }
        if (clientAuth.equals("none") && clientCa != null) {
            throw n.get("client_ca").error("set, but client_auth is none (set client_auth: optional or required)");
        }
        if (!clientAuth.equals("none") && clientCa == null) {
            throw n.get("client_ca").error("required when client_auth is " + clientAuth);
        }
        return new ListenerConfig(name, bind, tls, requireTls || tls.equals("implicit"), proxyProtocol, clientAuth, clientCa,
                java.util.List.copyOf(trusted), n.get("compress").bool(true));
    }
}
