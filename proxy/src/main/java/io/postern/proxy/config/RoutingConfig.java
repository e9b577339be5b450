package io.postern.proxy.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code routing}: which backend holds a user's mailbox.
 *
 * @param strategy {@code static} or {@code hash}
 * @param staticRoutes user name (normalised) to backend name; checked first, whatever the strategy
 * @param defaultBackend for {@code static}: the backend of every user {@code staticRoutes} does not name
 * @param ring for {@code hash}: the backends of the consistent-hash ring, with their weights
 * @param normalize how a login name becomes the routing key
 * @param failover {@code true}: while a backend is down its users go to its {@code fallback};
 *     {@code false}: they get {@code NO [UNAVAILABLE]}
 * @param http for {@code strategy: http}: the nginx {@code auth_http}-style lookup service; else {@code null}
 */
public record RoutingConfig(
        String strategy,
        Map<String, String> staticRoutes,
        String defaultBackend,
        List<RingMember> ring,
        Normalize normalize,
        boolean failover,
        HttpLookup http) {

    static final Set<String> KEYS = Set.of("strategy", "static", "default", "backends", "normalize", "failover", "http");

    /**
     * {@code routing.http}: a lookup service that speaks nginx's {@code auth_http} protocol.
     *
     * @param url where the GET goes
     * @param timeout a lookup that takes longer fails the login with {@code NO [UNAVAILABLE]}
     * @param cacheTtl how long an answered route is reused without asking again
     * @param negativeTtl how long a refusal (for that user and password) is reused
     * @param cacheSize entries at most in each cache
     */
    public record HttpLookup(java.net.URI url, java.time.Duration timeout, java.time.Duration cacheTtl,
            java.time.Duration negativeTtl, int cacheSize) {
        static final Set<String> KEYS = Set.of("url", "timeout", "cache_ttl", "negative_ttl", "cache_size");

        static HttpLookup read(ConfigNode n) throws ConfigException {
            n.requireMapping(KEYS);
            String url = n.get("url").requiredString();
            java.net.URI uri;
            try {
                uri = java.net.URI.create(url);
            } catch (IllegalArgumentException e) {
                throw n.get("url").error("not a URL: " + url);
            }
            if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme())) {
                throw n.get("url").error("expected an http:// or https:// URL, found \"" + url + "\"");
            }
            return new HttpLookup(uri,
                    n.get("timeout").duration(java.time.Duration.ofSeconds(2), java.time.Duration.ofMillis(10)),
                    n.get("cache_ttl").duration(java.time.Duration.ofSeconds(60), java.time.Duration.ZERO),
                    n.get("negative_ttl").duration(java.time.Duration.ofSeconds(10), java.time.Duration.ZERO),
                    n.get("cache_size").integer(100_000, 0, 10_000_000));
        }
    }

    /** {@code routing.backends[i]}: a name, or {@code {name: x, weight: n}}. */
    public record RingMember(String backend, int weight) {
        static final Set<String> KEYS = Set.of("name", "weight");
    }

    /**
     * {@code routing.normalize}: applied to the login name before any lookup, so that
     * {@code Alice@Example.COM} and {@code alice} can route the same.
     *
     * @param lowercase fold to lower case
     * @param stripDomain drop {@code @domain}
     * @param defaultDomain add {@code @domain} to names that have none (after stripping, if both)
     */
    public record Normalize(boolean lowercase, boolean stripDomain, String defaultDomain) {
        static final Set<String> KEYS = Set.of("lowercase", "strip_domain", "default_domain");
        public static final Normalize NONE = new Normalize(false, false, null);

        public String apply(String user) {
            String u = user;
            if (stripDomain) {
                int at = u.lastIndexOf('@');
                if (at >= 0) {
                    u = u.substring(0, at);
                }
            }
            if (defaultDomain != null && u.indexOf('@') < 0) {
                u = u + "@" + defaultDomain;
            }
            return lowercase ? u.toLowerCase(Locale.ROOT) : u;
        }

        static Normalize read(ConfigNode n) throws ConfigException {
            if (n.isMissing()) {
                return NONE;
            }
            n.requireMapping(KEYS);
            String domain = n.get("default_domain").string(null);
            if (domain != null && (domain.isBlank() || domain.contains("@"))) {
                throw n.get("default_domain").error("expected a domain such as example.com, found \"" + domain + "\"");
            }
            return new Normalize(n.get("lowercase").bool(false), n.get("strip_domain").bool(false), domain);
        }
    }

    static RoutingConfig read(ConfigNode n, Set<String> backendNames) throws ConfigException {
        n.requireMapping(KEYS);
        if (n.isMissing()) {
            throw n.error("required");
        }
        String strategy = n.get("strategy").oneOf("static", "static", "hash", "http", "ldap");
        if (strategy.equals("ldap")) {
            throw n.get("strategy").error("\"ldap\" is not supported by this build yet (expected: static, hash or http)");
        }
        HttpLookup http = null;
        if (strategy.equals("http")) {
            if (n.get("http").isMissing()) {
                throw n.get("http").error("required for strategy http (at least url)");
            }
            http = HttpLookup.read(n.get("http"));
        } else if (!n.get("http").isMissing()) {
            throw n.get("http").error("only used with strategy: http");
        }
        Normalize normalize = Normalize.read(n.get("normalize"));
        Map<String, String> routes = new LinkedHashMap<>();
        for (Map.Entry<String, ConfigNode> e : n.get("static").entries().entrySet()) {
            String key = normalize.apply(e.getKey());
            if (routes.put(key, backendName(e.getValue(), backendNames)) != null) {
                throw e.getValue().error("\"" + e.getKey() + "\" normalises to \"" + key + "\", which is already routed");
            }
        }
        List<RingMember> ring = new ArrayList<>();
        Set<String> inRing = new java.util.HashSet<>();
        for (ConfigNode item : n.get("backends").list()) {
            RingMember m = ringMember(item, backendNames);
            if (!inRing.add(m.backend())) {
                throw item.error("backend \"" + m.backend() + "\" is in the ring twice");
            }
            ring.add(m);
        }
        String defaultBackend = null;
        if (!n.get("default").isMissing()) {
            defaultBackend = backendName(n.get("default"), backendNames);
        } else if (strategy.equals("static")) {
            if (backendNames.size() != 1) {
                throw n.get("default").error("required when there is more than one backend");
            }
            defaultBackend = backendNames.iterator().next();
        }
        if (strategy.equals("hash") && ring.isEmpty()) {
            throw n.get("backends").error("the hash strategy needs at least one backend in the ring");
        }
        boolean failover = n.get("failover").bool(true);
        return new RoutingConfig(strategy, Map.copyOf(routes), defaultBackend, List.copyOf(ring), normalize, failover, http);
    }

    private static RingMember ringMember(ConfigNode n, Set<String> backendNames) throws ConfigException {
        if (!n.isMapping()) {
            return new RingMember(backendName(n, backendNames), 1);
        }
        n.requireMapping(RingMember.KEYS);
        return new RingMember(backendName(n.get("name"), backendNames), n.get("weight").integer(1, 1, 100));
    }

    private static String backendName(ConfigNode n, Set<String> backendNames) throws ConfigException {
        String name = n.requiredString();
        if (!backendNames.contains(name)) {
            throw n.error("unknown backend \"" + name + "\"");
        }
        return name;
    }
}
