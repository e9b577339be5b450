package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.metrics.DashboardQueries;
import io.postern.proxy.metrics.PrometheusText;
import io.postern.proxy.server.PosternServer;
import io.postern.proxy.testing.DovecotFixture;
import io.postern.tls.testing.TestCertificates;
import jakarta.mail.AuthenticationFailedException;
import jakarta.mail.Flags;
import jakarta.mail.Folder;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Store;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code /metrics} after a short scripted session against a real Dovecot: Angus Mail logs in
 * (once with a wrong password), selects, fetches, stores a flag and logs out over a plain and an
 * implicit-TLS listener; a raw client meets a read-only policy. The scrape's values must say
 * exactly that. The same scrape must hold every metric name the Grafana dashboards and the
 * Prometheus alert rules of {@code dashboards/} use.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MetricsDovecotIT {

    private static final String PASSWORD = "metrics-pw";
    private static final String TOKEN = "metrics-t0ken";
    private static final byte[] MESSAGE = ("From: a@postern.test\r\nSubject: counted\r\n\r\n" + "x".repeat(5000) + "\r\n")
            .getBytes(StandardCharsets.US_ASCII);
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private DovecotFixture dovecot;
    private HttpServer auth;
    private PosternServer postern;
    private TestCertificates ca;
    private PrometheusText scrape;
    private Path configFile;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        DovecotFixture.assumeAvailable();
        dovecot = DovecotFixture.builder().name("dovecot").user("mia", PASSWORD).user("auditor", PASSWORD).start();
        dovecot.seedMessage("mia", "INBOX", MESSAGE);
        dovecot.seedMessage("auditor", "INBOX", MESSAGE);
        // routing by nginx's auth_http protocol, so that the routing cache (and its meters) is in play
        auth = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        auth.createContext("/auth", this::route);
        auth.start();
        ca = TestCertificates.newCa(Files.createDirectories(dir.resolve("ca")));
        TestCertificates.Issued cert = ca.server("localhost", "127.0.0.1").issue();
        Files.writeString(dir.resolve("admin.token"), TOKEN + "\n");
        Path config = dir.resolve("postern.yml");
        configFile = config;
        Files.writeString(config, """
                listeners:
                  - {name: imap, bind: "127.0.0.1:0"}
                  - {name: imaps, bind: "127.0.0.1:0", tls: implicit}
                tls:
                  certificates: [{cert: "%s", key: "%s"}]
                backends: [{name: dovecot, address: "%s:%d"}]
                routing:
                  strategy: http
                  http: {url: "http://127.0.0.1:%d/auth", timeout: 5s, cache_ttl: 60s}
                admin: {bind: "127.0.0.1:0", token_file: admin.token}
                policies:
                  - name: auditors-read-only
                    match: { users: [auditor] }
                    acl: { read_only: true }
                """.formatted(cert.cert(), cert.key(), dovecot.host(), dovecot.port(), auth.getAddress().getPort()));
        postern = PosternServer.start(config);
        session();
        scrape = settledScrape();
    }

    private void route(HttpExchange exchange) throws IOException {
        exchange.getResponseHeaders().add("Auth-Status", "OK");
        exchange.getResponseHeaders().add("Auth-Server", "dovecot");
        exchange.sendResponseHeaders(200, -1);
        exchange.close();
    }

    @AfterAll
    void stop() throws Exception {
        if (postern != null) {
            postern.close();
        }
        if (auth != null) {
            auth.stop(0);
        }
        if (dovecot != null) {
            dovecot.close();
        }
    }

    /** The scripted session: four logins, one of them failing, on two listeners. */
    private void session() throws Exception {
        assertThatThrownBy(() -> angus("imap", postern.address("imap"), "wrong").close())
                .isInstanceOf(AuthenticationFailedException.class);
        Store store = angus("imap", postern.address("imap"), PASSWORD);
        Folder inbox = store.getFolder("INBOX");
        inbox.open(Folder.READ_WRITE);
        Message m = inbox.getMessage(1);
        assertThat(m.getSubject()).isEqualTo("counted");
        assertThat(m.getSize()).isGreaterThan(5000);
        m.getInputStream().readAllBytes();
        m.setFlag(Flags.Flag.FLAGGED, true);
        inbox.close(false);
        store.close();

        Store tls = angus("imaps", postern.address("imaps"), PASSWORD);
        Folder tlsInbox = tls.getFolder("INBOX");
        tlsInbox.open(Folder.READ_ONLY);
        assertThat(tlsInbox.getMessageCount()).isEqualTo(1);
        tlsInbox.close(false);
        tls.close();

        try (RawImapClient auditor = new RawImapClient(postern.address("imap"))) {
            auditor.line();
            auditor.send("a LOGIN auditor " + PASSWORD + "\r\n");
            assertThat(auditor.tagged("a")).startsWith("a OK");
            auditor.send("b SELECT INBOX\r\n");
            assertThat(auditor.tagged("b")).startsWith("b OK");
            auditor.send("c STORE 1 +FLAGS (\\Deleted)\r\n");
            assertThat(auditor.tagged("c")).startsWith("c NO");
            auditor.send("d LOGOUT\r\n");
            assertThat(auditor.tagged("d")).startsWith("d OK");
        }
    }

    private Store angus(String protocol, InetSocketAddress address, String password) throws Exception {
        Properties props = new Properties();
        props.put("mail." + protocol + ".host", "127.0.0.1");
        props.put("mail." + protocol + ".port", String.valueOf(address.getPort()));
        props.put("mail." + protocol + ".timeout", "10000");
        props.put("mail." + protocol + ".connectiontimeout", "10000");
        if (protocol.equals("imaps")) {
            props.put("mail.imaps.ssl.socketFactory", ca.jdkClientContext(null).getSocketFactory());
        }
        Store store = Session.getInstance(props).getStore(protocol);
        store.connect("mia", password);
        return store;
    }

    /** Scrapes until every connection has closed (they close asynchronously after LOGOUT); bounded. */
    private PrometheusText settledScrape() throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        for (;;) {
            String body = get(null, TOKEN).body();
            PrometheusText s = new PrometheusText(body);
            Files.writeString(Path.of("target", "metrics-scrape.txt"), body); // to read after a failure
            if ((s.sum("postern_sessions_active") == 0 && s.sum("postern_backend_sessions") == 0)
                    || System.nanoTime() > deadline) {
                return s;
            }
            Thread.sleep(50);
        }
    }

    private HttpResponse<String> get(String accept, String token) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + postern.adminAddress().getPort() + "/metrics"))
                .timeout(Duration.ofSeconds(20));
        if (accept != null) {
            b.header("Accept", accept);
        }
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void sessionsAndLoginsAreCountedByListenerOutcomeAndResult() {
        assertThat(scrape.sum("postern_sessions_active")).isZero();
        assertThat(scrape.find("postern_sessions_active", "listener", "imap")).hasSize(1);
        assertThat(scrape.sum("postern_sessions_total", "listener", "imap")).isEqualTo(3);
        assertThat(scrape.sum("postern_sessions_total", "listener", "imaps")).isEqualTo(1);
        assertThat(scrape.sum("postern_sessions_total", "outcome", "logout")).isGreaterThanOrEqualTo(3);
        assertThat(scrape.sum("postern_sessions_total", "outcome", "refused")).isZero();
        assertThat(scrape.sum("postern_logins_total", "listener", "imap", "result", "ok")).isEqualTo(2);
        assertThat(scrape.sum("postern_logins_total", "listener", "imap", "result", "failed")).isEqualTo(1);
        assertThat(scrape.sum("postern_logins_total", "listener", "imaps", "result", "ok")).isEqualTo(1);
        assertThat(scrape.sum("postern_logins_total", "mechanism", "login", "result", "ok")).as("the raw LOGIN").isGreaterThanOrEqualTo(1);
        assertThat(scrape.sum("postern_logins_total")).isEqualTo(4);
    }

    @Test
    void commandsAreCountedByCommandAndStatusWithTheirLatency() {
        assertThat(scrape.sum("postern_commands_total", "listener", "imap", "command", "SELECT", "status", "OK")).isEqualTo(1);
        // the auditor's SELECT goes on as EXAMINE (read_only), and counts as what the backend ran
        assertThat(scrape.sum("postern_commands_total", "listener", "imap", "command", "EXAMINE", "status", "OK")).isEqualTo(1);
        assertThat(scrape.sum("postern_commands_total", "listener", "imaps", "command", "EXAMINE", "status", "OK")).isEqualTo(1);
        assertThat(scrape.sum("postern_commands_total", "command", "LOGOUT", "status", "OK")).isEqualTo(3);
        assertThat(scrape.sum("postern_commands_total", "command", "STORE", "status", "OK")).as("Angus's flag").isEqualTo(1);
        assertThat(scrape.sum("postern_commands_total", "command", "STORE", "status", "NO")).as("the policy's NO").isEqualTo(1);
        assertThat(scrape.sum("postern_commands_total", "command", "FETCH", "status", "OK")
                + scrape.sum("postern_commands_total", "command", "UID FETCH", "status", "OK")).isGreaterThanOrEqualTo(1);
        // every command has a postern stage; those that reached the backend a backend stage
        double commands = scrape.sum("postern_commands_total");
        assertThat(scrape.sum("postern_command_duration_seconds_count", "stage", "postern")).isEqualTo(commands);
        assertThat(scrape.sum("postern_command_duration_seconds_count", "stage", "backend")).isEqualTo(commands - 1);
        assertThat(scrape.sum("postern_command_duration_seconds_count", "command", "EXAMINE", "stage", "backend")).isEqualTo(2);
        assertThat(scrape.find("postern_command_duration_seconds_bucket", "command", "EXAMINE", "stage", "backend", "le", "+Inf"))
                .singleElement().satisfies(s -> assertThat(s.value()).isEqualTo(2));
        assertThat(scrape.sum("postern_policy_verdicts_total", "policy", "auditors-read-only", "stage", "command",
                "verdict", "reject")).isEqualTo(1);
        assertThat(scrape.sum("postern_policy_verdicts_total", "policy", "chain", "stage", "command", "verdict", "allow"))
                .as("the auditor's SELECT and LOGOUT").isEqualTo(2);
    }

    @Test
    void bytesBackendsTlsAndTheRoutingCacheAreMeasured() {
        // the message was fetched once, by Angus over the plain listener
        assertThat(scrape.sum("postern_bytes_total", "side", "client", "direction", "response")).isGreaterThan(MESSAGE.length);
        assertThat(scrape.sum("postern_bytes_total", "side", "backend", "direction", "response")).isGreaterThan(MESSAGE.length);
        assertThat(scrape.sum("postern_bytes_total", "side", "client", "direction", "command")).isGreaterThan(100);
        assertThat(scrape.sum("postern_bytes_total", "side", "backend", "direction", "command")).isGreaterThan(100);
        assertThat(scrape.sum("postern_backend_up", "backend", "dovecot")).isEqualTo(1);
        assertThat(scrape.find("postern_backend_sessions", "backend", "dovecot")).singleElement()
                .satisfies(s -> assertThat(s.value()).isZero());
        assertThat(scrape.sum("postern_backend_connect_duration_seconds_count", "backend", "dovecot", "result", "ok"))
                .as("one connect per login attempt").isEqualTo(4);
        assertThat(scrape.find("postern_tls_handshakes_total", "side", "client", "result", "ok")).singleElement()
                .satisfies(s -> {
                    assertThat(s.value()).isEqualTo(1);
                    assertThat(s.labels().get("protocol")).startsWith("TLSv1.");
                });
        assertThat(scrape.find("postern_tls_certificate_expiry_days", "listener", "imaps")).singleElement()
                .satisfies(s -> assertThat(s.value()).as("a test certificate valid for a day").isGreaterThan(0.5).isLessThan(1.01));
        assertThat(scrape.sum("cache_gets_total", "cache", "routing.http.routes", "result", "miss")).isGreaterThanOrEqualTo(1);
        assertThat(scrape.sum("cache_gets_total", "cache", "routing.http.routes", "result", "hit")).isGreaterThanOrEqualTo(1);
        assertThat(scrape.sum("cache_gets_total", "cache", "routing.http.routes")).isEqualTo(4);
        assertThat(scrape.sum("postern_limit_refusals_total")).isZero();
        assertThat(scrape.find("postern_audit_dropped_events_total", "sink", "file")).hasSize(1);
        assertThat(scrape.sum("jvm_memory_used_bytes", "area", "heap")).isGreaterThan(0);
        assertThat(scrape.names()).anyMatch(n -> n.startsWith("netty_allocator_memory"));
        assertThat(scrape.sum("process_uptime_seconds")).isGreaterThan(0);
    }

    @Test
    void theScrapeNeedsTheTokenAndSpeaksOpenMetricsWhenAsked() throws Exception {
        assertThat(get(null, null).statusCode()).isEqualTo(401);
        assertThat(get(null, "wrong").statusCode()).isEqualTo(401);
        HttpResponse<String> text = get(null, TOKEN);
        assertThat(text.statusCode()).isEqualTo(200);
        assertThat(text.headers().firstValue("Content-Type")).hasValue("text/plain; version=0.0.4; charset=utf-8");
        assertThat(text.body()).doesNotContain("# EOF");
        HttpResponse<String> open = get("application/openmetrics-text; version=1.0.0,text/plain;q=0.5", TOKEN);
        assertThat(open.statusCode()).isEqualTo(200);
        assertThat(open.headers().firstValue("Content-Type").orElseThrow()).startsWith("application/openmetrics-text");
        assertThat(open.body()).endsWith("# EOF\n").contains("# TYPE postern_logins counter");
        assertThat(new PrometheusText(open.body()).sum("postern_logins_total", "result", "ok")).isEqualTo(3);
    }

    @Test
    void aReloadKeepsTheMetersAndIsCountedItself() throws Exception {
        String original = Files.readString(configFile);
        Files.writeString(configFile, original.replace("backends: [{name: dovecot, address: \"%s:%d\"}]"
                .formatted(dovecot.host(), dovecot.port()), "backends: [{name: dovecot, address: \"%s:%d\"}, {name: spare, address: \"%s:%d\"}]"
                .formatted(dovecot.host(), dovecot.port(), dovecot.host(), dovecot.port())));
        postern.reload();
        assertThat(new PrometheusText(get(null, TOKEN).body()).find("postern_backend_sessions", "backend", "spare")).hasSize(1);
        Files.writeString(configFile, original);
        postern.reload();
        Files.writeString(configFile, "listeners: []\n");
        assertThatThrownBy(postern::reload).isInstanceOf(PosternServer.ReloadRefused.class);
        Files.writeString(configFile, original);
        PrometheusText after = new PrometheusText(get(null, TOKEN).body());
        assertThat(after.sum("postern_config_reloads_total", "result", "ok")).isEqualTo(2);
        assertThat(after.sum("postern_config_reloads_total", "result", "refused")).isEqualTo(1);
        assertThat(after.find("postern_backend_up", "backend", "spare")).as("a removed backend is not a down one").isEmpty();
        assertThat(after.sum("postern_logins_total")).isEqualTo(scrape.sum("postern_logins_total"));
        assertThat(after.sum("postern_commands_total")).isEqualTo(scrape.sum("postern_commands_total"));
        assertThat(after.sum("postern_backend_up", "backend", "dovecot")).isEqualTo(1);
        assertThat(after.find("cache_gets_total", "cache", "routing.http.routes"))
                .as("the new router's cache, bound in place of the old one's").hasSize(2)
                .allSatisfy(s -> assertThat(s.value()).isZero());
    }

    @Test
    void limitRefusalsAreCountedByLimitInTheRegistryOfTheirOwnServer() throws Exception {
        try (PosternServer limited = PosternServer.start(PosternConfig.parse("""
                listeners: [{name: front, bind: "127.0.0.1:0"}]
                backends: [{name: dovecot, address: "%s:%d"}]
                routing: {strategy: static, default: dovecot}
                limits: {max_connections: 2, max_sessions_per_user: 1}
                """.formatted(dovecot.host(), dovecot.port())));
                RawImapClient first = new RawImapClient(limited.address("front"));
                RawImapClient second = new RawImapClient(limited.address("front"))) {
            first.line();
            first.send("a LOGIN mia " + PASSWORD + "\r\n");
            assertThat(first.tagged("a")).startsWith("a OK");
            second.line();
            second.send("b LOGIN mia " + PASSWORD + "\r\n");
            assertThat(second.tagged("b")).startsWith("b NO [LIMIT]");
            try (RawImapClient third = new RawImapClient(limited.address("front"))) {
                assertThat(third.line()).startsWith("* BYE [LIMIT]");
            }
            PrometheusText s = new PrometheusText(new String(limited.metrics().scrape(null).body(), StandardCharsets.UTF_8));
            assertThat(s.sum("postern_limit_refusals_total", "limit", "max_sessions_per_user")).isEqualTo(1);
            assertThat(s.sum("postern_limit_refusals_total", "limit", "max_connections")).isEqualTo(1);
            assertThat(s.sum("postern_limit_refusals_total")).isEqualTo(2);
            assertThat(s.sum("postern_logins_total", "listener", "front", "result", "limited")).isEqualTo(1);
            assertThat(s.sum("postern_logins_total", "listener", "front", "result", "ok")).isEqualTo(1);
            assertThat(s.sum("postern_sessions_total", "listener", "front", "outcome", "refused")).isEqualTo(1);
            assertThat(s.find("postern_sessions_active", "listener", "imap")).as("the other server's listener").isEmpty();
        }
        assertThat(new PrometheusText(get(null, TOKEN).body()).sum("postern_limit_refusals_total"))
                .as("the first server's registry knows nothing of them").isZero();
    }

    @Test
    void everyMetricTheDashboardsAndAlertRulesUseIsInTheScrape() throws Exception {
        Set<String> used = DashboardQueries.metricNames(DashboardQueries.DASHBOARDS);
        assertThat(used).as("metric names found in dashboards/").hasSizeGreaterThan(20);
        Set<String> missing = new TreeSet<>(used);
        missing.removeAll(scrape.names());
        assertThat(missing).as("metric names used by dashboards/ but absent from the scrape").isEmpty();
    }
}
