package io.postern.proxy.routing;

import io.postern.proxy.config.BackendConfig;
import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.config.RoutingConfig;
import java.util.Map;

/** Builds the router a {@code routing} section describes. */
public final class Routers {

    private Routers() {}

    public static Router of(PosternConfig posternConfig) {
        RoutingConfig config = posternConfig.routing();
        Router base = switch (config.strategy()) {
            case "hash" -> new HashRing(config.ring());
            case "http" -> new HttpRouter(config.http(), posternConfig.backends());
            case "ldap" -> new LdapRouter(config.ldap(), posternConfig.backends(), config.defaultBackend());
            case "static" -> key -> new Router.Route(config.defaultBackend(), "default", key);
            default -> throw new IllegalArgumentException("strategy " + config.strategy());
        };
        return new StaticRouter(config, base);
    }

    /**
     * The backend a lookup answer names: by name, else by the host (and port, when given) of its
     * address; the first that matches, or {@code null}.
     *
     * @param port the port, or a negative number when the answer gave none
     */
    static BackendConfig named(Map<String, BackendConfig> backends, String server, int port) {
        BackendConfig backend = backends.get(server);
        if (backend != null) {
            return backend;
        }
        return backends.values().stream()
                .filter(b -> b.address().host().equals(server) && (port < 0 || b.address().port() == port))
                .findFirst()
                .orElse(null);
    }
}
