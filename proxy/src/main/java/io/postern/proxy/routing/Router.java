package io.postern.proxy.routing;

import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Picks the backend that holds a user's mailbox. Decided as data; the session carries it out.
 * Implementations are thread-safe: sessions on every event loop share one router.
 */
public interface Router extends AutoCloseable {

    /**
     * Where a user goes, and why.
     *
     * @param backend the name of a backend under {@code backends}
     * @param reason how it was chosen, for {@code postern.jar route} and the logs:
     *     {@code static}, {@code hash}, {@code default}, {@code http} or {@code ldap}, the last
     *     followed by what the directory said
     * @param key the routing key: the login name after {@code routing.normalize}
     * @param groups the user's groups as the routing directory lists them ({@code routing.ldap.group_attribute}),
     *     for policies to match on; empty for every other strategy
     */
    record Route(String backend, String reason, String key, List<String> groups) {
        public Route {
            groups = List.copyOf(groups);
        }

        public Route(String backend, String reason, String key) {
            this(backend, reason, key, List.of());
        }
    }

    /**
     * What a lookup service may want to know of a login.
     *
     * @param password the bytes the client sent (any charset: passed on unchanged)
     * @param client the client's address, or {@code null}
     * @param attempt 1 for the first login attempt on a connection, then 2, 3 ...
     */
    record Login(String user, byte[] password, InetAddress client, int attempt) {
        /** A login whose password is text (tests, lookups without a client): its UTF-8 bytes. */
        public Login(String user, String password, InetAddress client, int attempt) {
            this(user, password.getBytes(java.nio.charset.StandardCharsets.UTF_8), client, attempt);
        }

        @Override
        public String toString() {
            return "Login(" + user + ", attempt " + attempt + ")"; // never the password
        }
    }

    /** A lookup service refused the login itself; {@code wait} before answering the client. */
    final class Refused extends Exception {
        private static final long serialVersionUID = 1L;
        private final transient Duration wait;

        public Refused(String message, Duration wait) {
            super(message, null, false, false);
            this.wait = wait;
        }

        public Duration waitBeforeAnswer() {
            return wait;
        }
    }

    /**
     * The route of a login name, decided from configuration alone. Pure and fast: called on the
     * event loop. Routers that must ask a service ({@link HttpRouter}) block here; only the
     * command line calls it for them.
     */
    Route route(String user);

    /**
     * The route of a login, asynchronously. Completes exceptionally with {@link Refused} when a
     * lookup service refuses the login, with any other exception when the lookup failed. The
     * future may complete on any thread.
     */
    default CompletableFuture<Route> lookup(Login login) {
        return CompletableFuture.completedFuture(route(login.user()));
    }

    /**
     * The router's Caffeine caches by name, for Caffeine's meter binder ({@code cache.gets} hit
     * and miss, size, evictions); built with {@code recordStats()}. Empty for routers without one.
     */
    default java.util.Map<String, com.github.benmanes.caffeine.cache.Cache<?, ?>> caches() {
        return java.util.Map.of();
    }

    /** Releases what the router holds (directory connections, threads); the server calls it once at shutdown. */
    @Override
    default void close() {}
}
