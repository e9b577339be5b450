package io.postern.proxy.routing;

import io.postern.proxy.config.RoutingConfig;

/**
 * {@code routing.strategy: static} and the {@code routing.static} overrides of every strategy:
 * a user to backend map; users it does not name go to {@code next}.
 */
public final class StaticRouter implements Router {

    private final RoutingConfig config;
    private final Router next;

    StaticRouter(RoutingConfig config, Router next) {
        this.config = config;
        this.next = next;
    }

    @Override
    public Route route(String user) {
        String key = config.normalize().apply(user);
        String backend = config.staticRoutes().get(key);
        return backend != null ? new Route(backend, "static", key) : next.route(key);
    }
}
