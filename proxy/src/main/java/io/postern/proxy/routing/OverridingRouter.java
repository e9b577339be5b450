package io.postern.proxy.routing;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;

/**
 * Runtime route overrides (the admin API's "move a user"), consulted before the configured
 * router: a user whose routing key is overridden goes to the override's backend. The configured
 * router still runs first, for the routing key and because a lookup service may refuse the
 * login. Overrides live in memory only: a restart forgets them.
 */
public final class OverridingRouter implements Router {

    /** Routing key to backend name; shared by every router a reload builds, thread-safe. */
    public static final class Overrides {
        private final ConcurrentHashMap<String, String> byKey = new ConcurrentHashMap<>();

        public void put(String key, String backend) {
            byKey.put(key, backend);
        }

        public String remove(String key) {
            return byKey.remove(key);
        }

        public String get(String key) {
            return byKey.get(key);
        }

        public Map<String, String> snapshot() {
            return Map.copyOf(byKey);
        }
    }

    private final Router configured;
    private final Overrides overrides;
    private final Predicate<String> backendExists;

    /** @param backendExists whether the configuration this router was built from has a backend of that name */
    public OverridingRouter(Router configured, Overrides overrides, Predicate<String> backendExists) {
        this.configured = configured;
        this.overrides = overrides;
        this.backendExists = backendExists;
    }

    /** The configured router alone, e.g. to learn a user's routing key. */
    public Router configured() {
        return configured;
    }

    @Override
    public Route route(String user) {
        return override(configured.route(user));
    }

    @Override
    public CompletableFuture<Route> lookup(Login login) {
        return configured.lookup(login).thenApply(this::override);
    }

    private Route override(Route route) {
        String backend = overrides.get(route.key());
        if (backend == null || !backendExists.test(backend)) {
            return route;
        }
        return new Route(backend, "override (moved by the admin API; configured: " + route.backend() + ")", route.key(),
                route.groups());
    }

    @Override
    public java.util.Map<String, com.github.benmanes.caffeine.cache.Cache<?, ?>> caches() {
        return configured.caches();
    }

    @Override
    public void close() {
        configured.close();
    }
}
