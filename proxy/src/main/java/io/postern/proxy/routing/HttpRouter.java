package io.postern.proxy.routing;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.postern.proxy.config.BackendConfig;
import io.postern.proxy.config.RoutingConfig;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * {@code routing.strategy: http}: asks a lookup service that speaks nginx's {@code auth_http}
 * protocol, so an operator can reuse the endpoint they run for nginx's mail proxy. The request is
 * a GET with {@code Auth-Method: plain}, {@code Auth-User}, {@code Auth-Pass} (both URL-encoded,
 * as nginx sends them), {@code Auth-Protocol: imap}, {@code Auth-Login-Attempt} and
 * {@code Client-IP}. An answer of {@code Auth-Status: OK} with {@code Auth-Server} (a backend
 * name, or the host of a backend's address) and {@code Auth-Port} routes the login; any other
 * {@code Auth-Status} is a refusal whose text the client gets, after {@code Auth-Wait} seconds.
 *
 * <p>Lookups are asynchronous (the JDK's HTTP client, never an event loop), bounded by
 * {@code timeout}, and cached with Caffeine: routes by user for {@code cache_ttl}, refusals by
 * user and password digest for {@code negative_ttl}. Thread-safe.
 */
public final class HttpRouter implements Router {

    private final RoutingConfig.HttpLookup config;
    private final Map<String, BackendConfig> backends;
    private final HttpClient http;
    private final Cache<String, Route> routes;
    private final Cache<String, Refused> refusals;

    public HttpRouter(RoutingConfig.HttpLookup config, Map<String, BackendConfig> backends) {
        this.config = config;
        this.backends = backends;
        this.http = HttpClient.newBuilder().connectTimeout(config.timeout()).build();
        this.routes = Caffeine.newBuilder().expireAfterWrite(config.cacheTtl()).maximumSize(config.cacheSize())
                .recordStats().build();
        this.refusals = Caffeine.newBuilder().expireAfterWrite(config.negativeTtl()).maximumSize(config.cacheSize())
                .recordStats().build();
    }

    @Override
    public java.util.Map<String, Cache<?, ?>> caches() {
        return java.util.Map.of("routing.http.routes", routes, "routing.http.refusals", refusals);
    }

    /** Blocks for the lookup: for {@code postern.jar route} only, never on an event loop. */
    @Override
    public Route route(String user) {
        try {
            return lookup(new Login(user, "", null, 1)).join();
        } catch (CompletionException e) {
            throw new IllegalStateException("lookup of " + user + " failed: " + e.getCause().getMessage(), e.getCause());
        }
    }

    @Override
    public CompletableFuture<Route> lookup(Login login) {
        Route cached = routes.getIfPresent(login.user());
        if (cached != null) {
            return CompletableFuture.completedFuture(new Route(cached.backend(), "http (cached)", cached.key()));
        }
        String refusalKey = login.user() + "\0" + digest(login.password());
        Refused refused = refusals.getIfPresent(refusalKey);
        if (refused != null) {
            return CompletableFuture.failedFuture(refused);
        }
        HttpRequest.Builder request = HttpRequest.newBuilder(config.url())
                .timeout(config.timeout())
                .GET()
                .header("Auth-Method", "plain")
                .header("Auth-User", URLEncoder.encode(login.user(), StandardCharsets.UTF_8))
                // each byte as it came (a Latin-1 password too): one char a byte, encoded back the same way
                .header("Auth-Pass", URLEncoder.encode(new String(login.password(), StandardCharsets.ISO_8859_1),
                        StandardCharsets.ISO_8859_1))
                .header("Auth-Protocol", "imap")
                .header("Auth-Login-Attempt", String.valueOf(login.attempt()));
        if (login.client() != null) {
            request.header("Client-IP", login.client().getHostAddress());
        }
        return http.sendAsync(request.build(), HttpResponse.BodyHandlers.discarding())
                .thenApply(response -> answer(login, refusalKey, response));
    }

    private Route answer(Login login, String refusalKey, HttpResponse<Void> response) {
        String status = response.headers().firstValue("Auth-Status").orElse(null);
        if (status == null) {
            throw new IllegalStateException("the lookup service answered HTTP " + response.statusCode() + " without Auth-Status");
        }
        if (!status.equals("OK")) {
            long wait = response.headers().firstValue("Auth-Wait").map(HttpRouter::seconds).orElse(0L);
            Refused refused = new Refused(status, Duration.ofSeconds(wait));
            refusals.put(refusalKey, refused);
            throw new CompletionException(refused);
        }
        String server = response.headers().firstValue("Auth-Server")
                .orElseThrow(() -> new IllegalStateException("Auth-Status: OK without Auth-Server"));
        int port = response.headers().firstValue("Auth-Port").map(p -> (int) seconds(p)).orElse(-1);
        BackendConfig backend = Routers.named(backends, server, port);
        if (backend == null) {
            throw new IllegalStateException("Auth-Server " + server + (port < 0 ? "" : ":" + port) + " is no configured backend");
        }
        Route route = new Route(backend.name(), "http", login.user());
        routes.put(login.user(), route);
        return route;
    }

    private static long seconds(String value) {
        try {
            return Math.max(0, Long.parseLong(value.trim()));
        } catch (NumberFormatException e) {
            throw new IllegalStateException("not a number in a lookup answer: " + value);
        }
    }

    private static String digest(byte[] password) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(password));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every Java runtime", e);
        }
    }
}
