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
 * @param ldap for {@code strategy: ldap}: the directory to search; else {@code null}
 */
public record RoutingConfig(
        String strategy,
        Map<String, String> staticRoutes,
        String defaultBackend,
        List<RingMember> ring,
        Normalize normalize,
        boolean failover,
        HttpLookup http,
        LdapLookup ldap) {

    static final Set<String> KEYS = Set.of("strategy", "static", "default", "backends", "normalize", "failover", "http", "ldap");

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

    /**
     * {@code routing.ldap}: a directory whose entry for a user names the user's backend, as
     * perdition and Dovecot's proxy do.
     *
     * @param url one or more {@code ldap://} or {@code ldaps://} URLs, separated by spaces, tried in order
     * @param startTls upgrade an {@code ldap://} connection with StartTLS before binding
     * @param ca the certificates that verify the directory's TLS certificate (for {@code ldaps://}
     *     or StartTLS), or empty for the JVM's trust store
     * @param bindDn the DN to bind as, or {@code null} for an anonymous search
     * @param bindPassword the password of {@code bindDn} (inline, or read from a file); never in {@link #toString()}
     * @param base where the search starts (subtree)
     * @param filter the search filter, with {@code %u} (the routing key), {@code %n} (its part before
     *     {@code @}), {@code %d} (its domain) escaped as RFC 4515 says, and {@code %%}
     * @param attribute the attribute whose value is a backend name, or the {@code host[:port]} of a backend
     * @param groupAttribute an attribute whose values are carried with the route as the user's
     *     groups (such as {@code memberOf}), or {@code null}
     * @param timeout connect, read, and the whole lookup (queueing included); longer gives {@code NO [UNAVAILABLE]}
     * @param cacheTtl how long a found route is reused without asking again
     * @param negativeTtl how long "no entry" (or no attribute) is reused
     * @param cacheSize entries at most in the cache
     * @param maxConnections directory connections (and lookup threads) at most
     */
    public record LdapLookup(String url, boolean startTls, List<java.security.cert.X509Certificate> ca, String bindDn, String bindPassword, String base,
            String filter, String attribute, String groupAttribute, java.time.Duration timeout,
            java.time.Duration cacheTtl, java.time.Duration negativeTtl, int cacheSize, int maxConnections) {
        static final Set<String> KEYS = Set.of("url", "start_tls", "ca", "bind_dn", "bind_password", "bind_password_file",
                "base", "filter", "attribute", "group_attribute", "timeout", "cache_ttl", "negative_ttl",
                "cache_size", "max_connections");

        /** The filter for one routing key: the template with its placeholders filled in, escaped. */
        public String filterFor(String key) {
            int at = key.lastIndexOf('@');
            StringBuilder out = new StringBuilder(filter.length() + key.length());
            for (int i = 0; i < filter.length(); i++) {
                char c = filter.charAt(i);
                if (c != '%') {
                    out.append(c);
                    continue;
                }
                char p = filter.charAt(++i); // read() made sure a known letter follows every %
                switch (p) {
                    case 'u' -> escape(key, out);
                    case 'n' -> escape(at < 0 ? key : key.substring(0, at), out);
                    case 'd' -> escape(at < 0 ? "" : key.substring(at + 1), out);
                    default -> out.append('%');
                }
            }
            return out.toString();
        }

        /** RFC 4515, section 3: {@code * ( ) \ NUL} in an assertion value become {@code \2a \28 \29 \5c \00}. */
        static void escape(String value, StringBuilder out) {
            for (int i = 0; i < value.length(); i++) {
                char c = value.charAt(i);
                switch (c) {
                    case '*' -> out.append("\\2a");
                    case '(' -> out.append("\\28");
                    case ')' -> out.append("\\29");
                    case '\\' -> out.append("\\5c");
                    case '\0' -> out.append("\\00");
                    default -> out.append(c);
                }
            }
        }

        @Override
        public String toString() {
            return "LdapLookup[url=" + url + ", bindDn=" + bindDn + ", base=" + base + ", filter=" + filter
                    + ", attribute=" + attribute + "]"; // never the password
        }

        static LdapLookup read(ConfigNode n) throws ConfigException {
            n.requireMapping(KEYS);
            String url = n.get("url").requiredString().trim();
            boolean secure = false;
            boolean plain = false;
            for (String one : url.split("\\s+")) {
                java.net.URI uri;
                try {
                    uri = java.net.URI.create(one);
                } catch (IllegalArgumentException e) {
                    throw n.get("url").error("not a URL: " + one);
                }
                if (!"ldap".equals(uri.getScheme()) && !"ldaps".equals(uri.getScheme()) || uri.getHost() == null) {
                    throw n.get("url").error("expected ldap://host[:port] or ldaps://host[:port], found \"" + one + "\"");
                }
                secure |= "ldaps".equals(uri.getScheme());
                plain |= "ldap".equals(uri.getScheme());
            }
            if (secure && plain) {
                throw n.get("url").error("mixes ldap:// and ldaps:// URLs; use one scheme (with start_tls for ldap://)");
            }
            boolean startTls = n.get("start_tls").bool(false);
            if (startTls && secure) {
                throw n.get("start_tls").error("StartTLS is for ldap:// URLs; ldaps:// is TLS already");
            }
            java.nio.file.Path caFile = n.get("ca").file(true);
            List<java.security.cert.X509Certificate> ca = List.of();
            if (caFile != null) {
                if (!startTls && !secure) {
                    throw n.get("ca").error("only used with ldaps:// URLs or start_tls: true");
                }
                try {
                    ca = io.postern.tls.PemKeyPair.loadCertificates(caFile);
                } catch (io.postern.tls.TlsConfigException e) {
                    throw n.get("ca").error(e.getMessage());
                }
            }
            String bindDn = n.get("bind_dn").string(null);
            String password = n.get("bind_password").string(null);
            java.nio.file.Path passwordFile = n.get("bind_password_file").file(true);
            if (password != null && passwordFile != null) {
                throw n.get("bind_password_file").error("set bind_password or bind_password_file, not both");
            }
            if (passwordFile != null) {
                try {
                    password = java.nio.file.Files.readString(passwordFile, java.nio.charset.StandardCharsets.UTF_8)
                            .replaceFirst("\\r?\\n$", "");
                } catch (java.io.IOException e) {
                    throw n.get("bind_password_file").error("cannot read " + passwordFile + ": " + e.getMessage());
                }
            }
            if (bindDn == null && password != null) {
                throw n.get("bind_dn").error("required when a bind password is set");
            }
            if (bindDn != null && (password == null || password.isEmpty())) {
                throw n.get("bind_password").error("required with bind_dn (or bind_password_file); an empty password would bind anonymously");
            }
            String filter = n.get("filter").string("(uid=%u)").trim();
            checkFilter(n.get("filter"), filter);
            return new LdapLookup(url, startTls, ca, bindDn, password, n.get("base").requiredString(), filter,
                    attributeName(n.get("attribute"), "mailHost"), attributeName(n.get("group_attribute"), null),
                    n.get("timeout").duration(java.time.Duration.ofSeconds(2), java.time.Duration.ofMillis(10)),
                    n.get("cache_ttl").duration(java.time.Duration.ofSeconds(60), java.time.Duration.ZERO),
                    n.get("negative_ttl").duration(java.time.Duration.ofSeconds(10), java.time.Duration.ZERO),
                    n.get("cache_size").integer(100_000, 0, 10_000_000),
                    n.get("max_connections").integer(4, 1, 64));
        }

        private static void checkFilter(ConfigNode n, String filter) throws ConfigException {
            if (!filter.startsWith("(") || !filter.endsWith(")")) {
                throw n.error("expected a filter in parentheses such as (uid=%u), found \"" + filter + "\"");
            }
            boolean user = false;
            for (int i = 0; i < filter.length(); i++) {
                if (filter.charAt(i) != '%') {
                    continue;
                }
                char p = i + 1 < filter.length() ? filter.charAt(++i) : ' ';
                if ("und".indexOf(p) >= 0) {
                    user = true;
                } else if (p != '%') {
                    throw n.error("unknown placeholder %" + p + " (known: %u, %n, %d, %%)");
                }
            }
            if (!user) {
                throw n.error("the filter names no user: put %u (or %n, %d) in it, as in (uid=%u)");
            }
        }

        private static String attributeName(ConfigNode n, String fallback) throws ConfigException {
            String name = n.string(fallback);
            if (name != null && !name.matches("[A-Za-z][A-Za-z0-9-]*")) {
                throw n.error("expected an attribute name such as mailHost, found \"" + name + "\"");
            }
            return name;
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
        ConfigNode httpSection = lookupSection(n, strategy, "http", "url");
        HttpLookup http = httpSection == null ? null : HttpLookup.read(httpSection);
        ConfigNode ldapSection = lookupSection(n, strategy, "ldap", "url and base");
        LdapLookup ldap = ldapSection == null ? null : LdapLookup.read(ldapSection);
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
        return new RoutingConfig(strategy, Map.copyOf(routes), defaultBackend, List.copyOf(ring), normalize, failover, http, ldap);
    }

    /** A lookup strategy's section: required with that strategy, refused with any other ({@code null} then). */
    private static ConfigNode lookupSection(ConfigNode n, String strategy, String name, String atLeast) throws ConfigException {
        ConfigNode section = n.get(name);
        if (!strategy.equals(name)) {
            if (!section.isMissing()) {
                throw section.error("only used with strategy: " + name);
            }
            return null;
        }
        if (section.isMissing()) {
            throw section.error("required for strategy " + name + " (at least " + atLeast + ")");
        }
        return section;
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
