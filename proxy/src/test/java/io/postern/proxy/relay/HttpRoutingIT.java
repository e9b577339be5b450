package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.server.PosternServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * routing.strategy: http against a small in-test server speaking nginx's auth_http protocol:
 * routes, refusals with Auth-Wait, caching, and a lookup service that is down.
 */
class HttpRoutingIT {

    private GreenMail mailA;
    private GreenMail mailB;
    private HttpServer auth;
    private final AtomicInteger requests = new AtomicInteger();
    private final List<Map<String, String>> seen = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws Exception {
        mailA = new GreenMail(new ServerSetup(0, "127.0.0.1", ServerSetup.PROTOCOL_IMAP));
        mailA.start();
        mailA.setUser("ann@postern.test", "ann", "pw a");
        mailB = new GreenMail(new ServerSetup(0, "127.0.0.1", ServerSetup.PROTOCOL_IMAP));
        mailB.start();
        mailB.setUser("ben@postern.test", "ben", "pw");
        mailB.getManagers().getImapHostManager().createMailbox(mailB.getManagers().getUserManager().getUser("ben"), "on-b");
        auth = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        auth.createContext("/auth", this::answer);
        auth.start();
    }

    @AfterEach
    void stop() {
        auth.stop(0);
        mailA.stop();
        mailB.stop();
    }

    /** ann: backend named "a"; ben: the address of b; eve: refused, wait 1 s; anyone else: an error page. */
    private void answer(HttpExchange exchange) throws java.io.IOException {
        requests.incrementAndGet();
        Map<String, String> headers = new ConcurrentHashMap<>();
        exchange.getRequestHeaders().forEach((k, v) -> headers.put(k.toLowerCase(java.util.Locale.ROOT), v.get(0)));
        seen.add(headers);
        String user = headers.getOrDefault("auth-user", "");
        var out = exchange.getResponseHeaders();
        switch (user) {
            case "ann" -> {
                out.add("Auth-Status", "OK");
                out.add("Auth-Server", "a");
            }
            case "ben" -> {
                out.add("Auth-Status", "OK");
                out.add("Auth-Server", "127.0.0.1");
                out.add("Auth-Port", String.valueOf(mailB.getImap().getPort()));
            }
            case "eve" -> {
                out.add("Auth-Status", "Invalid login or password");
                out.add("Auth-Wait", "1");
            }
            default -> {
                exchange.sendResponseHeaders(500, -1);
                return;
            }
        }
        exchange.sendResponseHeaders(200, -1);
    }

    private PosternServer postern(String url) throws Exception {
        return PosternServer.start(PosternConfig.parse("""
                listeners: [{name: imap, bind: "127.0.0.1:0"}]
                backends:
                  - {name: a, address: "127.0.0.1:%d"}
                  - {name: b, address: "127.0.0.1:%d"}
                routing:
                  strategy: http
                  http: {url: "%s", timeout: 1s, cache_ttl: 60s, negative_ttl: 10s}
                """.formatted(mailA.getImap().getPort(), mailB.getImap().getPort(), url)));
    }

    private String url() {
        return "http://127.0.0.1:" + auth.getAddress().getPort() + "/auth";
    }

    private List<String> login(PosternServer postern, String user, String password) throws Exception {
        try (RawImapClient c = new RawImapClient(postern.address("imap"))) {
            c.line();
            c.send("a LOGIN \"" + user + "\" \"" + password + "\"\r\nb LIST \"\" on-b\r\n");
            return List.of(c.tagged("a"), String.valueOf(c.until("b").size()));
        }
    }

    @Test
    void theServiceRoutesByBackendNameOrAddressAndIsAskedOncePerUser() throws Exception {
        try (PosternServer postern = postern(url())) {
            assertThat(login(postern, "ann", "pw a").get(0)).startsWith("a OK");
            assertThat(login(postern, "ben", "pw")).satisfies(r -> {
                assertThat(r.get(0)).startsWith("a OK");
                assertThat(r.get(1)).isEqualTo("2"); // the LIST found on-b: ben is on b
            });
            assertThat(login(postern, "ann", "pw a").get(0)).startsWith("a OK");
            assertThat(requests.get()).as("ann's second login came from the cache").isEqualTo(2);
            Map<String, String> first = seen.get(0);
            assertThat(first).containsEntry("auth-method", "plain").containsEntry("auth-protocol", "imap")
                    .containsEntry("auth-user", "ann").containsEntry("auth-pass", "pw+a")
                    .containsEntry("auth-login-attempt", "1").containsEntry("client-ip", "127.0.0.1");
        }
    }

    @Test
    void aRefusalIsAnsweredAfterAuthWait() throws Exception {
        try (PosternServer postern = postern(url())) {
            long start = System.nanoTime();
            assertThat(login(postern, "eve", "guess").get(0))
                    .isEqualTo("a NO [AUTHENTICATIONFAILED] Invalid login or password");
            assertThat((System.nanoTime() - start) / 1_000_000).isGreaterThanOrEqualTo(1000);
        }
    }

    @Test
    void aBrokenOrMissingServiceMakesTheLoginUnavailable() throws Exception {
        try (PosternServer postern = postern(url())) {
            assertThat(login(postern, "mallory", "x").get(0)).isEqualTo("a NO [UNAVAILABLE] Backend unavailable, try again later.");
        }
        auth.stop(0);
        try (PosternServer postern = postern(url())) {
            assertThat(login(postern, "ann", "pw a").get(0)).isEqualTo("a NO [UNAVAILABLE] Backend unavailable, try again later.");
        }
    }
}
