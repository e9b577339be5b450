package io.postern.proxy.routing;

import io.postern.proxy.config.RoutingConfig;
import java.util.concurrent.CompletableFuture;

/**
 * {@code routing.strategy: static} and the {@code routing.static} overrides of every strategy:
 * a user to backend map; users it does not name go to {@code next}, with the normalised key.
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

    @Override
    public CompletableFuture<Route> lookup(Login login) {
        String key = config.normalize().apply(login.user());
        String backend = config.staticRoutes().get(key);
        if (backend != null) {
            return CompletableFuture.completedFuture(new Route(backend, "static", key));
        }
        return next.lookup(new Login(key, login.password(), login.client(), login.attempt()));
    }

    @Override
    public java.util.Map<String, com.github.benmanes.caffeine.cache.Cache<?, ?>> caches() {
        return next.caches();
    }

    @Override
    public void close() {
        next.close();
    }
}
