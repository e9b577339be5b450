package io.postern.proxy.routing;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import io.postern.proxy.config.BackendConfig;
import io.postern.proxy.config.RoutingConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.naming.CommunicationException;
import javax.naming.Context;
import javax.naming.NamingEnumeration;
import javax.naming.NamingException;
import javax.naming.ServiceUnavailableException;
import javax.naming.SizeLimitExceededException;
import javax.naming.directory.Attribute;
import javax.naming.directory.SearchControls;
import javax.naming.directory.SearchResult;
import javax.naming.ldap.InitialLdapContext;
import javax.naming.ldap.LdapContext;
import javax.naming.ldap.StartTlsRequest;
import javax.naming.ldap.StartTlsResponse;
import javax.net.SocketFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code routing.strategy: ldap}: a user's backend is the value of an attribute of their entry in
 * a directory ({@code mailHost} unless configured), as perdition and Dovecot's proxy read it. The
 * entry is found by a subtree search under {@code base} with {@code filter}, whose placeholders are
 * filled with the routing key escaped as RFC 4515 says, so a login name such as {@code *)(uid=*}
 * matches nothing but itself. The value is a backend name, or the {@code host[:port]} of a
 * backend's address.
 *
 * <p>A user without an entry (or whose entry lacks the attribute) goes to {@code routing.default}
 * when it is set, and is otherwise refused ({@code NO [AUTHENTICATIONFAILED]}), like a refusal of
 * the {@code http} strategy's lookup service. A directory that cannot be reached or answers
 * wrongly (two entries, a value that names no backend) fails the lookup: {@code NO [UNAVAILABLE]}.
 *
 * <p>Threading: searches run on a bounded pool of {@code max_connections} threads, each with a
 * directory connection of its own taken from an idle pool (never on an event loop); at most
 * {@value #MAX_WAITING} lookups wait for a thread, more fail at once. Every connection has
 * connect and read timeouts of {@code timeout}, and the whole lookup is bounded by it too. Answers
 * are cached with Caffeine (found: {@code cache_ttl}; no entry: {@code negative_ttl}); concurrent
 * logins of one user share one search. Thread-safe.
 */
public final class LdapRouter implements Router {

    private static final Logger log = LoggerFactory.getLogger(LdapRouter.class);

    /** Lookups waiting for a free connection at most; more fail at once. */
    static final int MAX_WAITING = 1000;

    /** What a client that no route exists for is told, whatever the reason (no user enumeration). */
    static final String REFUSAL = "Authentication failed.";

    private static final AtomicInteger POOLS = new AtomicInteger();

    /**
     * What the directory said of one routing key, or why it said nothing.
     *
     * @param filter the filter searched with
     * @param dn the entry found, or {@code null} when none matched
     * @param value the attribute's value, or {@code null} when the entry has none
     * @param backend the backend the value names, or {@code null} when there is no value
     * @param groups the values of {@code group_attribute}, if any
     * @param failure why the lookup failed, or {@code null}; a failed answer is never reused
     */
    record Answer(String filter, String dn, String value, String backend, List<String> groups, String failure) {

        static Answer failed(String failure) {
            return new Answer(null, null, null, null, List.of(), failure);
        }

        String describe(String attribute) {
            if (dn == null) {
                return "no entry matches " + filter;
            }
            if (value == null) {
                return filter + " found " + dn + ", which has no " + attribute;
            }
            return filter + " found " + dn + " with " + attribute + ": " + value;
        }
    }

    private final RoutingConfig.LdapLookup config;
    private final Map<String, BackendConfig> backends;
    private final String defaultBackend;
    private final Hashtable<String, Object> environment = new Hashtable<>();
    private final ThreadPoolExecutor executor;
    private final BlockingDeque<LdapContext> idle = new LinkedBlockingDeque<>();
    private final AsyncCache<String, Answer> cache;
    /** TLS that trusts {@code routing.ldap.ca}, or {@code null} for the JVM's defaults. */
    private final SSLSocketFactory tls;
    private volatile boolean closed;

    /**
     * @param defaultBackend where users without an entry go, or {@code null} to refuse them
     */
    public LdapRouter(RoutingConfig.LdapLookup config, Map<String, BackendConfig> backends, String defaultBackend) {
        this.config = config;
        this.backends = backends;
        this.defaultBackend = defaultBackend;
        String millis = String.valueOf(config.timeout().toMillis());
        environment.put(Context.INITIAL_CONTEXT_FACTORY, "com.sun.jndi.ldap.LdapCtxFactory");
        environment.put(Context.PROVIDER_URL, config.url());
        environment.put(Context.REFERRAL, "ignore");
        environment.put("java.naming.ldap.version", "3");
        environment.put("com.sun.jndi.ldap.connect.timeout", millis);
        environment.put("com.sun.jndi.ldap.read.timeout", millis);
        environment.put("com.sun.jndi.ldap.connect.pool", "false");
        this.tls = config.ca().isEmpty() ? null : trusting(config.ca());
        if (tls != null && !config.startTls()) { // ldaps:// (every URL: read() refuses a mix)
            environment.put("java.naming.ldap.factory.socket", TlsSockets.class.getName());
        }
        int pool = POOLS.incrementAndGet();
        AtomicInteger threads = new AtomicInteger();
        this.executor = new ThreadPoolExecutor(config.maxConnections(), config.maxConnections(), 30, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(MAX_WAITING), r -> {
                    Thread t = new Thread(r, "postern-ldap-" + pool + "-" + threads.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        executor.allowCoreThreadTimeOut(true);
        this.cache = Caffeine.newBuilder()
                .maximumSize(config.cacheSize())
                .recordStats()
                .expireAfter(new Expiry<String, Answer>() {
                    @Override
                    public long expireAfterCreate(String key, Answer answer, long now) {
                        if (answer.failure() != null) {
                            return 0; // only the logins that waited for it share a failure
                        }
                        return (answer.backend() != null ? config.cacheTtl() : config.negativeTtl()).toNanos();
                    }

                    @Override
                    public long expireAfterUpdate(String key, Answer answer, long now, long current) {
                        return expireAfterCreate(key, answer, now);
                    }

                    @Override
                    public long expireAfterRead(String key, Answer answer, long now, long current) {
                        return current;
                    }
                })
                .buildAsync();
    }

    /** Searches the directory, bypassing the cache: for {@code postern.jar route} only, never on an event loop. */
    @Override
    public Route route(String user) {
        Answer answer;
        try {
            answer = search(user);
        } catch (NamingException | IOException e) {
            throw new IllegalStateException("directory lookup of " + user + " failed: " + describe(e), e);
        }
        try {
            return decide(user, answer, false);
        } catch (Refused refused) {
            throw new IllegalStateException(user + " is refused (NO [AUTHENTICATIONFAILED]): "
                    + answer.describe(config.attribute()) + " under " + config.base() + ", and routing.default is not set");
        }
    }

    @Override
    public CompletableFuture<Route> lookup(Login login) {
        String key = login.user();
        CompletableFuture<Answer> present = cache.getIfPresent(key);
        boolean cached = present != null && present.isDone();
        CompletableFuture<Answer> answer = cache.get(key, (k, ignored) -> searchAsync(k));
        return answer.thenApply(a -> {
            try {
                return decide(key, a, cached);
            } catch (Refused refused) {
                throw new CompletionException(refused);
            }
        });
    }

    /** Never fails: a failure is an answer too, so that the cache neither keeps nor logs it. */
    private CompletableFuture<Answer> searchAsync(String key) {
        try {
            return CompletableFuture.supplyAsync(() -> {
                try {
                    return search(key);
                } catch (NamingException | IOException e) {
                    return Answer.failed("directory lookup failed: " + describe(e));
                }
            }, executor).completeOnTimeout(
                    Answer.failed("directory lookup took longer than " + config.timeout().toMillis() + " ms"),
                    config.timeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.completedFuture(Answer.failed(closed
                    ? "the router is closed" : "more than " + MAX_WAITING + " directory lookups are waiting"));
        }
    }

    private Route decide(String key, Answer answer, boolean cached) throws Refused {
        if (answer.failure() != null) {
            throw new IllegalStateException(answer.failure());
        }
        String how = (cached ? "ldap (cached): " : "ldap: ") + answer.describe(config.attribute());
        if (answer.backend() != null) {
            return new Route(answer.backend(), how, key, answer.groups());
        }
        if (defaultBackend != null) {
            return new Route(defaultBackend, "default (" + how + ")", key, answer.groups());
        }
        throw new Refused(REFUSAL, Duration.ZERO);
    }

    /** One search, on a pooled connection (once more on a new one if the pooled one turns out dead). */
    Answer search(String key) throws NamingException, IOException {
        TlsSockets.CURRENT.set(tls); // JNDI may connect during any call below, on this thread
        try {
            return searchOnce(key);
        } finally {
            TlsSockets.CURRENT.remove();
        }
    }

    private Answer searchOnce(String key) throws NamingException, IOException {
        String filter = config.filterFor(key);
        LdapContext ctx = idle.pollFirst();
        if (ctx != null) {
            try {
                return searchAndKeep(ctx, filter);
            } catch (CommunicationException | ServiceUnavailableException stale) {
                log.debug("a pooled directory connection failed ({}); trying a new one", stale.toString());
            }
        }
        return searchAndKeep(connect(), filter);
    }

    private Answer searchAndKeep(LdapContext ctx, String filter) throws NamingException {
        boolean keep = false;
        try {
            Answer answer = search(ctx, filter);
            keep = true;
            return answer;
        } finally {
            if (keep && !closed && idle.size() < config.maxConnections()) {
                idle.offerFirst(ctx);
            } else {
                close(ctx);
            }
        }
    }

    private Answer search(LdapContext ctx, String filter) throws NamingException {
        List<String> wanted = new ArrayList<>(List.of(config.attribute()));
        if (config.groupAttribute() != null) {
            wanted.add(config.groupAttribute());
        }
        int seconds = (int) Math.max(1, (config.timeout().toMillis() + 999) / 1000);
        SearchControls controls = new SearchControls(SearchControls.SUBTREE_SCOPE, 2, seconds * 1000,
                wanted.toArray(String[]::new), false, false);
        SearchResult entry = null;
        NamingEnumeration<SearchResult> results = ctx.search(config.base(), filter, controls);
        try {
            while (results.hasMore()) {
                SearchResult next = results.next();
                if (entry != null) {
                    throw new NamingException(filter + " matches more than one entry: " + entry.getNameInNamespace()
                            + " and " + next.getNameInNamespace());
                }
                entry = next;
            }
        } catch (SizeLimitExceededException e) {
            throw new NamingException(filter + " matches more than one entry under " + config.base());
        } finally {
            results.close();
        }
        if (entry == null) {
            return new Answer(filter, null, null, null, List.of(), null);
        }
        String dn = entry.getNameInNamespace();
        List<String> values = values(entry.getAttributes().get(config.attribute()));
        List<String> groups = config.groupAttribute() == null
                ? List.of() : values(entry.getAttributes().get(config.groupAttribute()));
        if (values.isEmpty()) {
            return new Answer(filter, dn, null, null, groups, null);
        }
        if (values.size() > 1) {
            throw new NamingException(dn + " has " + values.size() + " values of " + config.attribute() + ": " + values);
        }
        String value = values.get(0).trim();
        return new Answer(filter, dn, value, backendOf(dn, value), groups, null);
    }

    /** A backend name, or the {@code host[:port]} of a backend's address ({@code [v6]:port} in brackets). */
    private String backendOf(String dn, String value) throws NamingException {
        BackendConfig backend = Routers.named(backends, value, -1);
        if (backend == null) {
            String host = value;
            String port = null;
            int colon = value.lastIndexOf(':');
            if (value.startsWith("[")) {
                int end = value.indexOf(']');
                host = value.substring(1, end < 0 ? value.length() : end);
                port = end >= 0 && end + 1 < value.length() && value.charAt(end + 1) == ':' ? value.substring(end + 2) : null;
            } else if (colon > 0 && colon == value.indexOf(':')) {
                host = value.substring(0, colon);
                port = value.substring(colon + 1);
            }
            try {
                backend = Routers.named(backends, host, port == null ? -1 : Integer.parseInt(port));
            } catch (NumberFormatException e) {
                throw new NamingException(dn + ": " + config.attribute() + " \"" + value + "\" has no valid port");
            }
        }
        if (backend == null) {
            throw new NamingException(dn + ": " + config.attribute() + " \"" + value + "\" is no configured backend");
        }
        return backend.name();
    }

    private static List<String> values(Attribute attribute) throws NamingException {
        List<String> values = new ArrayList<>();
        if (attribute == null) {
            return values;
        }
        NamingEnumeration<?> all = attribute.getAll();
        try {
            while (all.hasMore()) {
                Object v = all.next();
                values.add(v instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8) : String.valueOf(v));
            }
        } finally {
            all.close();
        }
        return values;
    }

    /** A new connection, upgraded with StartTLS if configured, and bound. */
    private LdapContext connect() throws NamingException, IOException {
        Hashtable<String, Object> env = new Hashtable<>(environment);
        if (!config.startTls()) {
            credentials(env);
            return new InitialLdapContext(env, null);
        }
        env.put(Context.SECURITY_AUTHENTICATION, "none");
        LdapContext ctx = new InitialLdapContext(env, null);
        try {
            StartTlsResponse upgrade = (StartTlsResponse) ctx.extendedOperation(new StartTlsRequest());
            if (tls != null) {
                upgrade.negotiate(tls); // verifies the certificate, and that it names the URL's host
            } else {
                upgrade.negotiate();
            }
            Hashtable<String, Object> auth = new Hashtable<>();
            credentials(auth);
            for (Map.Entry<String, Object> e : auth.entrySet()) {
                ctx.addToEnvironment(e.getKey(), e.getValue());
            }
            ctx.reconnect(null); // binds on the TLS connection
            return ctx;
        } catch (NamingException | IOException | RuntimeException e) {
            close(ctx);
            throw e;
        }
    }

    private static SSLSocketFactory trusting(List<X509Certificate> ca) {
        try {
            KeyStore anchors = KeyStore.getInstance("PKCS12");
            anchors.load(null, null);
            for (int i = 0; i < ca.size(); i++) {
                anchors.setCertificateEntry("ca-" + i, ca.get(i));
            }
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(anchors);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, trust.getTrustManagers(), null);
            return context.getSocketFactory();
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build a TLS context from routing.ldap.ca: " + e.getMessage(), e);
        }
    }

    /**
     * JNDI takes the socket factory of {@code ldaps://} as a class name whose static
     * {@code getDefault()} it calls; this one answers the factory of the router searching on the
     * calling thread ({@code routing.ldap.ca}), set around each search. Not for other use.
     */
    public static final class TlsSockets {
        static final ThreadLocal<SSLSocketFactory> CURRENT = new ThreadLocal<>();

        private TlsSockets() {}

        public static SocketFactory getDefault() {
            SSLSocketFactory factory = CURRENT.get();
            return factory != null ? factory : SSLSocketFactory.getDefault();
        }
    }

    private void credentials(Hashtable<String, Object> env) {
        if (config.bindDn() == null) {
            env.put(Context.SECURITY_AUTHENTICATION, "none");
        } else {
            env.put(Context.SECURITY_AUTHENTICATION, "simple");
            env.put(Context.SECURITY_PRINCIPAL, config.bindDn());
            env.put(Context.SECURITY_CREDENTIALS, config.bindPassword());
        }
    }

    private static void close(LdapContext ctx) {
        try {
            ctx.close();
        } catch (NamingException e) {
            log.debug("closing a directory connection failed: {}", e.toString());
        }
    }

    /** A naming exception's text, with the cause JNDI wraps (a refused connect, a timeout) added. */
    private static String describe(Exception e) {
        String text = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        Throwable cause = e instanceof NamingException n && n.getRootCause() != null ? n.getRootCause() : e.getCause();
        return cause == null || text.contains(String.valueOf(cause.getMessage())) ? text : text + " (" + cause + ")";
    }

    @Override
    public java.util.Map<String, com.github.benmanes.caffeine.cache.Cache<?, ?>> caches() {
        return java.util.Map.of("routing.ldap", cache.synchronous());
    }

    @Override
    public void close() {
        closed = true;
        executor.shutdownNow();
        for (LdapContext ctx = idle.pollFirst(); ctx != null; ctx = idle.pollFirst()) {
            close(ctx);
        }
    }
}
