package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.server.PosternServer;
import io.postern.proxy.testing.DovecotFixture;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin API against two real Dovecot shards: moving a user (the IDLE session gets BYE, the
 * reconnect lands on the new shard, as the shard itself shows), kicking, draining with an APPEND
 * in flight, the session list, the token rule, readiness, and a reload that a bad file cannot
 * break. Both over HTTP and through {@code postern.jar}'s commands.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdminApiDovecotIT {

    private static final String PASSWORD = "admin-it-pw";
    private static final String TOKEN = "t0ken-for-the-admin-api";

    private Path dir;
    private final Map<String, DovecotFixture> shards = new HashMap<>();
    private Path configFile;
    private Path tokenFile;
    private PosternServer postern;
    private AdminClient admin;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        this.dir = dir;
        DovecotFixture.assumeAvailable();
        for (String name : List.of("shard-a", "shard-b")) {
            DovecotFixture.Builder b = DovecotFixture.builder().name(name);
            for (String u : List.of("alice", "bob", "carol")) {
                b.user(u, PASSWORD);
            }
            shards.put(name, b.start());
        }
        tokenFile = dir.resolve("admin.token");
        Files.writeString(tokenFile, TOKEN + "\n");
        configFile = dir.resolve("postern.yml");
        Files.writeString(configFile, config("shard-a"));
        postern = PosternServer.start(configFile);
        admin = new AdminClient(postern.adminAddress(), TOKEN);
    }

    private String config(String defaultBackend) {
        DovecotFixture a = shards.get("shard-a");
        DovecotFixture b = shards.get("shard-b");
        return """
                listeners: [{name: imap, bind: "127.0.0.1:0"}]
                backends:
                  - {name: shard-a, address: "%s:%d", fallback: shard-b}
                  - {name: shard-b, address: "%s:%d"}
                routing: {strategy: static, default: %s}
                timeouts: {shutdown_grace: 20s}
                admin: {bind: "127.0.0.1:0", token_file: admin.token}
                """.formatted(a.host(), a.port(), b.host(), b.port(), defaultBackend);
    }

    @AfterEach
    void undo() throws Exception {
        if (postern == null) {
            return;
        }
        for (String user : List.of("alice", "bob", "carol")) {
            admin.send("DELETE", "/users/" + user + "/move");
        }
        for (String backend : List.of("shard-a", "shard-b")) {
            assertThat(admin.send("POST", "/backends/" + backend + "/undrain").statusCode()).isEqualTo(200);
        }
    }

    @AfterAll
    void stop() throws Exception {
        if (postern != null) {
            postern.close();
        }
        for (DovecotFixture d : shards.values()) {
            d.close();
        }
    }

    private RawImapClient login(String user) throws IOException {
        RawImapClient c = new RawImapClient(postern.address("imap"));
        c.line();
        c.send("l LOGIN " + user + " " + PASSWORD + "\r\n");
        assertThat(c.tagged("l")).as(user).startsWith("l OK");
        return c;
    }

    /** The shard that answers this session, by its own word (Dovecot's ID response names it). */
    private static String shardOf(RawImapClient c) throws IOException {
        c.send("id ID NIL\r\n");
        String id = String.join("", c.until("id"));
        String shard = id.replaceAll("(?s).*\"x-backend\" \"(shard-[ab])\".*", "$1");
        assertThat(shard).as(id).matches("shard-[ab]");
        return shard;
    }

    private String cliAdmin() {
        return admin.url();
    }

    @Test
    void aMovedUsersIdleSessionGetsByeAndTheReconnectLandsOnTheNewShard() throws Exception {
        try (RawImapClient alice = login("alice"); RawImapClient bob = login("bob")) {
            assertThat(shardOf(alice)).isEqualTo("shard-a");
            alice.send("s SELECT INBOX\r\n");
            assertThat(alice.tagged("s")).startsWith("s OK");
            alice.send("i IDLE\r\n");
            assertThat(alice.line()).startsWith("+ ");

            JsonNode moved = admin.json("POST", "/users/alice/move?backend=shard-b");
            assertThat(moved.path("sessions").asInt()).isEqualTo(1);
            assertThat(moved.path("backend").asText()).isEqualTo("shard-b");

            assertThat(alice.line()).isEqualTo("* BYE [UNAVAILABLE] mailbox moved");
            assertThat(alice.closedByServer()).isTrue();
            bob.send("n NOOP\r\n");
            assertThat(bob.tagged("n")).as("another user's session goes on").startsWith("n OK");
        }
        assertThat(admin.json("GET", "/overrides").path("alice").asText()).isEqualTo("shard-b");
        try (RawImapClient again = login("alice")) {
            assertThat(shardOf(again)).isEqualTo("shard-b");
            again.send("c CREATE moved-here\r\n");
            assertThat(again.tagged("c")).startsWith("c OK");
        }
        // on the backend itself, without Postern: the folder is on shard-b, not on shard-a
        assertThat(folderExists("shard-b", "alice", "moved-here")).isTrue();
        assertThat(folderExists("shard-a", "alice", "moved-here")).isFalse();

        AdminClient.Cli cleared = AdminClient.cli("move", "--clear", "alice", "--admin", cliAdmin(), "--token-file", tokenFile.toString());
        assertThat(cleared.status()).as(cleared.err()).isZero();
        try (RawImapClient back = login("alice")) {
            assertThat(shardOf(back)).isEqualTo("shard-a");
        }
    }

    @Test
    void theMoveCommandMovesAndSaysWhatItDid() throws Exception {
        try (RawImapClient carol = login("carol")) {
            assertThat(shardOf(carol)).isEqualTo("shard-a");
            AdminClient.Cli r = AdminClient.cli("move", "carol", "shard-b", "--admin", cliAdmin(), "--token-file", tokenFile.toString());
            assertThat(r.status()).as(r.err()).isZero();
            assertThat(r.out()).contains("\"sessions\" : 1").contains("\"backend\" : \"shard-b\"");
            assertThat(carol.line()).isEqualTo("* BYE [UNAVAILABLE] mailbox moved");
        }
        AdminClient.Cli unknown = AdminClient.cli("move", "carol", "shard-x", "--admin", cliAdmin(), "--token-file", tokenFile.toString());
        assertThat(unknown.status()).isEqualTo(1);
        assertThat(unknown.err()).contains("HTTP 404").contains("no backend named shard-x");
    }

    private boolean folderExists(String shard, String user, String folder) throws IOException {
        DovecotFixture d = shards.get(shard);
        try (RawImapClient direct = new RawImapClient(new InetSocketAddress(d.host(), d.port()))) {
            direct.line();
            direct.send("l LOGIN " + user + " " + PASSWORD + "\r\nf LIST \"\" " + folder + "\r\n");
            assertThat(direct.tagged("l")).startsWith("l OK");
            return direct.until("f").size() > 1;
        }
    }

    @Test
    void kickEndsThatUsersSessionsOnly() throws Exception {
        try (RawImapClient alice1 = login("alice"); RawImapClient alice2 = login("alice"); RawImapClient bob = login("bob")) {
            AdminClient.Cli r = AdminClient.cli("kick", "alice", "--admin", cliAdmin(), "--token-file", tokenFile.toString());
            assertThat(r.status()).as(r.err()).isZero();
            assertThat(r.out()).contains("\"sessions\" : 2");
            for (RawImapClient a : List.of(alice1, alice2)) {
                assertThat(a.line()).isEqualTo("* BYE [UNAVAILABLE] session ended by the administrator");
                assertThat(a.closedByServer()).isTrue();
            }
            bob.send("n NOOP\r\n");
            assertThat(bob.tagged("n")).startsWith("n OK");
        }
    }

    @Test
    void sessionsAreListedWithUserClientBackendAndBytes() throws Exception {
        try (RawImapClient alice = login("alice"); RawImapClient carol = login("carol")) {
            alice.send("n NOOP\r\n");
            alice.tagged("n");
            JsonNode list = admin.json("GET", "/sessions");
            JsonNode mine = null;
            for (JsonNode s : list) {
                if ("alice".equals(s.path("user").asText())) {
                    mine = s;
                }
            }
            assertThat(mine).as(list.toString()).isNotNull();
            assertThat(mine.path("backend").asText()).isEqualTo("shard-a");
            assertThat(mine.path("listener").asText()).isEqualTo("imap");
            assertThat(mine.path("state").asText()).isEqualTo("relay");
            assertThat(mine.path("client").asText()).isEqualTo("127.0.0.1:" + alice.socket().getLocalPort());
            // at least LOGIN and NOOP in, the greeting and both answers out
            assertThat(mine.path("bytes_in").asLong()).isGreaterThanOrEqualTo(("l LOGIN alice " + PASSWORD + "\r\nn NOOP\r\n").length());
            assertThat(mine.path("bytes_out").asLong()).isGreaterThan(50);
            assertThat(mine.path("since").asText()).matches("\\d{4}-\\d\\d-\\d\\dT.*Z");

            AdminClient.Cli table = AdminClient.cli("sessions", "--admin", cliAdmin(), "--token-file", tokenFile.toString());
            assertThat(table.status()).as(table.err()).isZero();
            assertThat(table.out().lines().filter(l -> l.contains(" alice ") && l.contains(" shard-a ")).count()).isEqualTo(1);
            assertThat(table.out()).contains(" carol ");
        }
    }

    @Test
    void drainLetsTheRunningAppendCompleteThenSaysByeAndSendsNewSessionsToTheFallback() throws Exception {
        byte[] message = ("From: bob@postern.test\r\nSubject: appended while draining\r\n\r\n" + "x".repeat(3000) + "\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        try (RawImapClient bob = login("bob")) {
            assertThat(shardOf(bob)).isEqualTo("shard-a");
            bob.send("p APPEND INBOX {" + message.length + "}\r\n");
            assertThat(bob.line()).startsWith("+");
            bob.send(Arrays.copyOfRange(message, 0, 1000));

            AdminClient.Cli r = AdminClient.cli("drain", "shard-a", "--admin", cliAdmin(), "--token-file", tokenFile.toString());
            assertThat(r.status()).as(r.err()).isZero();
            assertThat(r.out()).contains("\"drained\" : true").contains("\"sessions\" : 1");
            try (RawImapClient carol = login("carol")) {
                assertThat(shardOf(carol)).as("drained: its users take the fallback").isEqualTo("shard-b");
            }

            bob.send(Arrays.copyOfRange(message, 1000, message.length));
            bob.send("\r\n");
            assertThat(bob.tagged("p")).startsWith("p OK");
            assertThat(bob.line()).isEqualTo("* BYE [UNAVAILABLE] backend draining, reconnect");
            assertThat(bob.closedByServer()).isTrue();
        }
        assertThat(lastMessageOnTheShard("shard-a", "bob")).isEqualTo(message);

        AdminClient.Cli undo = AdminClient.cli("drain", "--undo", "shard-a", "--admin", cliAdmin(), "--token-file", tokenFile.toString());
        assertThat(undo.status()).as(undo.err()).isZero();
        try (RawImapClient carol = login("carol")) {
            assertThat(shardOf(carol)).isEqualTo("shard-a");
        }
    }

    /** The newest message of a user's INBOX, read from the shard directly. */
    private byte[] lastMessageOnTheShard(String shard, String user) throws IOException {
        DovecotFixture d = shards.get(shard);
        try (RawImapClient direct = new RawImapClient(new InetSocketAddress(d.host(), d.port()))) {
            direct.line();
            direct.send("l LOGIN " + user + " " + PASSWORD + "\r\ns SELECT INBOX\r\nf FETCH * BODY.PEEK[]\r\n");
            assertThat(direct.tagged("l")).startsWith("l OK");
            assertThat(direct.tagged("s")).startsWith("s OK");
            return fetchedLiteral(direct, "f");
        }
    }

    static byte[] fetchedLiteral(RawImapClient c, String tag) throws IOException {
        for (;;) {
            String line = c.line();
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\{(\\d+)}$").matcher(line);
            if (line.startsWith("* ") && line.contains("FETCH") && m.find()) {
                byte[] body = c.bytes(Integer.parseInt(m.group(1)));
                assertThat(c.tagged(tag)).startsWith(tag + " OK");
                return body;
            }
            if (line.startsWith(tag + " ")) {
                throw new AssertionError("no FETCH literal before " + line);
            }
        }
    }

    @Test
    void everyEndpointButHealthAndReadinessNeedsTheToken() throws Exception {
        assertThat(admin.send("GET", "/sessions", null).statusCode()).isEqualTo(401);
        HttpResponse<String> wrong = admin.send("GET", "/sessions", "Bearer " + TOKEN + "x");
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(wrong.headers().firstValue("WWW-Authenticate")).hasValue("Bearer realm=\"postern\"");
        assertThat(admin.send("GET", "/sessions", "Bearer " + TOKEN.substring(1)).statusCode()).isEqualTo(401);
        assertThat(admin.send("GET", "/sessions", "Basic " + TOKEN).statusCode()).isEqualTo(401);
        assertThat(admin.send("GET", "/", null).statusCode()).isEqualTo(401);
        assertThat(admin.send("POST", "/reload", null).statusCode()).isEqualTo(401);
        assertThat(admin.send("POST", "/users/alice/move?backend=shard-b", null).statusCode()).isEqualTo(401);
        assertThat(admin.json("GET", "/overrides").has("alice")).as("the refused move did nothing").isFalse();

        assertThat(admin.send("GET", "/sessions").statusCode()).isEqualTo(200);
        assertThat(admin.send("GET", "/healthz", null).statusCode()).isEqualTo(200);
        assertThat(admin.send("GET", "/readyz", null).statusCode()).isEqualTo(200);

        AdminClient.Cli noToken = AdminClient.cli("sessions", "--admin", cliAdmin());
        assertThat(noToken.status()).isEqualTo(1);
        assertThat(noToken.err()).contains("HTTP 401");
    }

    @Test
    void anAddedEndpointSeesQueryAndHeadersBehindTheToken() throws Exception {
        postern.admin().addEndpoint("/probe", r -> io.postern.proxy.admin.AdminServer.Reply.text(200,
                r.path() + " " + r.query().get("format") + " " + r.headers().get("Accept") + "\n"));
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        java.net.URI probe = java.net.URI.create(admin.url() + "/probe?format=x");
        HttpResponse<String> r = http.send(java.net.http.HttpRequest.newBuilder(probe)
                .header("Authorization", "Bearer " + TOKEN).header("Accept", "application/openmetrics-text").build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("/probe [x] application/openmetrics-text\n");
        assertThat(admin.send("GET", "/probe", null).statusCode()).isEqualTo(401);
        assertThat(admin.send("POST", "/probe").statusCode()).isEqualTo(404);
    }

    @Test
    void unknownEndpointsAndWrongMethodsGetClearAnswers() throws Exception {
        assertThat(admin.send("GET", "/nope").statusCode()).isEqualTo(404);
        assertThat(admin.send("GET", "/reload").statusCode()).isEqualTo(405);
        assertThat(admin.send("POST", "/sessions/kick").statusCode()).isEqualTo(400);
        assertThat(admin.send("POST", "/backends/shard-x/drain").statusCode()).isEqualTo(404);
        assertThat(admin.send("DELETE", "/users/nobody/move").statusCode()).isEqualTo(404);
    }

    @Test
    void aBadReloadIsRefusedWithCheckConfigsMessageAndTheRunningConfigurationStays() throws Exception {
        try {
            Files.writeString(configFile, config("shard-c"));
            AdminClient.Cli check = AdminClient.cli("check-config", "--config", configFile.toString());
            assertThat(check.status()).isEqualTo(2);
            HttpResponse<String> refused = admin.send("POST", "/reload");
            assertThat(refused.statusCode()).isEqualTo(400);
            String error = new com.fasterxml.jackson.databind.ObjectMapper().readTree(refused.body()).path("error").asText();
            assertThat(error).contains("routing.default: unknown backend \"shard-c\"").contains(configFile.toString());
            assertThat("postern: " + error).isEqualTo(check.err().strip());
            AdminClient.Cli cli = AdminClient.cli("reload", "--admin", cliAdmin(), "--token-file", tokenFile.toString());
            assertThat(cli.status()).isEqualTo(1);
            assertThat(cli.err()).contains("HTTP 400").contains("unknown backend");
            try (RawImapClient alice = login("alice")) {
                assertThat(shardOf(alice)).as("the old configuration routes").isEqualTo("shard-a");
            }

            Files.writeString(configFile, config("shard-b"));
            AdminClient.Cli good = AdminClient.cli("reload", "--admin", cliAdmin(), "--token-file", tokenFile.toString());
            assertThat(good.status()).as(good.err()).isZero();
            assertThat(good.out()).contains("reloaded");
            assertThat(postern.config().routing().defaultBackend()).isEqualTo("shard-b");
            try (RawImapClient alice = login("alice")) {
                assertThat(shardOf(alice)).as("the new configuration routes new sessions").isEqualTo("shard-b");
            }
        } finally {
            Files.writeString(configFile, config("shard-a"));
            assertThat(admin.send("POST", "/reload").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void aReloadAddsABackendAndAnOverrideToARemovedOneIsIgnored() throws Exception {
        DovecotFixture b = shards.get("shard-b");
        String withB2 = config("shard-a").replace("routing:", "  - {name: shard-b2, address: \"" + b.host() + ":" + b.port()
                + "\"}\nrouting:");
        try {
            Files.writeString(configFile, withB2);
            assertThat(admin.send("POST", "/reload").statusCode()).isEqualTo(200);
            assertThat(admin.json("POST", "/users/carol/move?backend=shard-b2").path("backend").asText()).isEqualTo("shard-b2");
            try (RawImapClient carol = login("carol")) {
                assertThat(shardOf(carol)).isEqualTo("shard-b"); // the server behind the new backend name
                JsonNode b2 = null;
                for (JsonNode backend : admin.json("GET", "/backends")) {
                    if (backend.path("name").asText().equals("shard-b2")) {
                        b2 = backend;
                    }
                }
                assertThat(b2).isNotNull();
                assertThat(b2.path("sessions").asInt()).isEqualTo(1);
            }
            Files.writeString(configFile, config("shard-a"));
            assertThat(admin.send("POST", "/reload").statusCode()).isEqualTo(200);
            assertThat(admin.json("GET", "/overrides").path("carol").asText()).as("kept, but names no configured backend")
                    .isEqualTo("shard-b2");
            try (RawImapClient carol = login("carol")) {
                assertThat(shardOf(carol)).as("the configured route applies").isEqualTo("shard-a");
            }
        } finally {
            Files.writeString(configFile, config("shard-a"));
            assertThat(admin.send("POST", "/reload").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void readinessFollowsTheBackendsAndNeedsNoTokenOnLoopback() throws Exception {
        DovecotFixture lone = DovecotFixture.builder().name("shard-z").user("zed", PASSWORD).start();
        try (PosternServer p = PosternServer.start(PosternConfig.parse("""
                listeners: [{name: imap, bind: "127.0.0.1:0"}]
                backends:
                  - {name: shard-z, address: "%s:%d", health_check: {interval: 100ms, timeout: 1s, fall: 2, rise: 1}}
                routing: {strategy: static, default: shard-z}
                admin: {bind: "127.0.0.1:0"}
                """.formatted(lone.host(), lone.port())))) {
            AdminClient open = new AdminClient(p.adminAddress(), null);
            assertThat(open.send("GET", "/readyz").statusCode()).isEqualTo(200);
            assertThat(open.send("GET", "/sessions").statusCode()).as("loopback, no token_file").isEqualTo(200);
            lone.stop();
            AdminClient.await("readyz turns 503", () -> status(open, "/readyz") == 503);
            assertThat(open.send("GET", "/readyz").body()).isEqualTo("not ready: no backend is up\n");
            assertThat(open.send("GET", "/healthz").statusCode()).isEqualTo(200);
        } finally {
            lone.close();
        }
    }

    private static int status(AdminClient c, String path) {
        try {
            return c.send("GET", path).statusCode();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
