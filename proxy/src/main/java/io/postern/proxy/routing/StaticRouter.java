package io.postern.proxy.routing;

import io.postern.proxy.config.RoutingConfig;
import java.util.Map;

/** {@code routing.strategy: static}: a user to backend map, and a default for everyone else. */
public final class StaticRouter implements Router {

    private final Map<String, String> routes;
    private final String defaultBackend;

    public StaticRouter(RoutingConfig config) {
        this.routes = config.staticRoutes();
        this.defaultBackend = config.defaultBackend();
    }

    @Override
    public String route(String user) {
        return routes.getOrDefault(user, defaultBackend);
    }
}
