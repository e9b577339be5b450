package io.postern.proxy.config;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code routing}: which backend holds a user's mailbox.
 *
 * @param strategy {@code static} (this build)
 * @param staticRoutes user name to backend name; checked first
 * @param defaultBackend the backend of every user {@code staticRoutes} does not name
 * @param ring the backend names of a hash ring (kept for the hash strategy; empty for static)
 */
public record RoutingConfig(String strategy, Map<String, String> staticRoutes, String defaultBackend, List<String> ring) {

    static final Set<String> KEYS = Set.of("strategy", "static", "default", "backends");

    static RoutingConfig read(ConfigNode n, Set<String> backendNames) throws ConfigException {
        n.requireMapping(KEYS);
        if (n.isMissing()) {
            throw n.error("required");
        }
        String strategy = n.get("strategy").oneOf("static", "static", "hash", "http", "ldap");
        if (!strategy.equals("static")) {
            throw n.get("strategy").error("\"" + strategy + "\" is not supported by this build yet (expected: static)");
        }
        Map<String, String> routes = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, ConfigNode> e : n.get("static").entries().entrySet()) {
            routes.put(e.getKey(), backendName(e.getValue(), backendNames));
        }
        String defaultBackend = null;
        if (!n.get("default").isMissing()) {
            defaultBackend = backendName(n.get("default"), backendNames);
        } else if (backendNames.size() == 1) {
            defaultBackend = backendNames.iterator().next();
        } else {
            throw n.get("default").error("required when there is more than one backend");
        }
        List<String> ring = new java.util.ArrayList<>();
        for (ConfigNode item : n.get("backends").list()) {
            ring.add(backendName(item, backendNames));
        }
        return new RoutingConfig(strategy, Map.copyOf(routes), defaultBackend, List.copyOf(ring));
    }

    private static String backendName(ConfigNode n, Set<String> backendNames) throws ConfigException {
        String name = n.requiredString();
        if (!backendNames.contains(name)) {
            throw n.error("unknown backend \"" + name + "\"");
        }
        return name;
    }
}
