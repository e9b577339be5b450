package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.routing.Router;
import io.postern.proxy.routing.Routers;
import io.postern.proxy.server.PosternServer;
import io.postern.proxy.testing.DovecotFixture;
import io.postern.proxy.testing.SlapdFixture;
import io.postern.tls.SelfSignedCertificates;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code routing.strategy: ldap} against a real slapd and two real Dovecot shards: users land on
 * the shard their directory entry names (as the shard itself says, in its ID response), unknown
 * users are refused, a directory that is down or hangs gives {@code NO [UNAVAILABLE]}, answers
 * are cached, and a login name that looks like a filter matches nothing.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LdapRoutingIT {

    private static final String PASSWORD = "ldap-pw";
    private static final String UNAVAILABLE = "a NO [UNAVAILABLE] Backend unavailable, try again later.";
    private static final String REFUSED = "a NO [AUTHENTICATIONFAILED] Authentication failed.";

    private DovecotFixture shardA;
    private DovecotFixture shardB;
    private SlapdFixture slapd;
    private Path certificates;
    private Path directoryCa;
    private Path otherCa;
    @TempDir
    Path dir;

    @BeforeAll
    void start() throws Exception {
        DovecotFixture.assumeAvailable();
        SlapdFixture.assumeAvailable();
        List<String> users = List.of("alice", "bob", "carol", "dave", "erin", "frank");
        DovecotFixture.Builder a = DovecotFixture.builder().name("shard-a");
        DovecotFixture.Builder b = DovecotFixture.builder().name("shard-b");
        users.forEach(u -> a.user(u, PASSWORD));
        users.forEach(u -> b.user(u, PASSWORD));
        shardA = a.start();
        shardB = b.start();
        certificates = Files.createTempDirectory("postern-ldap-tls-");
        Files.createDirectories(certificates.resolve("directory"));
        Files.createDirectories(certificates.resolve("other"));
        SelfSignedCertificates.Generated pair = SelfSignedCertificates.generate(SlapdFixture.HOST,
                List.of(SlapdFixture.HOST), certificates.resolve("directory"), Duration.ofDays(1));
        directoryCa = pair.cert();
        otherCa = SelfSignedCertificates.generate(SlapdFixture.HOST, List.of(SlapdFixture.HOST),
                certificates.resolve("other"), Duration.ofDays(1)).cert();
        slapd = SlapdFixture.builder().tls(pair.cert(), pair.key()).ldif(person("alice", "mailHost: shard-a")
                + person("bob", "mailHost: 127.0.0.1:" + shardB.port())
                + person("carol", "mailHost: shard-b\nou: staff\nou: auditors")
                + person("dave", "")
                + person("erin", "mailHost: shard-z")
                + person("frank", "mailHost: shard-a")).start();
    }

    private static String person(String uid, String more) {
        return "dn: uid=" + uid + "," + SlapdFixture.PEOPLE + "\nobjectClass: inetOrgPerson\nobjectClass: inetLocalMailRecipient\n"
                + "uid: " + uid + "\ncn: " + uid + "\nsn: " + uid + "\n" + (more.isEmpty() ? "" : more + "\n") + "\n";
    }

    @AfterAll
    void stop() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {slapd, shardA, shardB}) {
            if (c != null) {
                c.close();
            }
        }
        if (certificates != null) {
            try (java.util.stream.Stream<Path> files = Files.walk(certificates)) {
                for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(f);
                }
            }
        }
    }

    @BeforeEach
    void directoryUp() throws Exception {
        if (!slapd.isRunning()) {
            slapd.restart();
        }
    }

    private String config(String extra) throws Exception {
        Path secret = dir.resolve("bind.pw");
        Files.writeString(secret, SlapdFixture.SERVICE_PASSWORD + "\n");
        return """
                listeners: [{name: imap, bind: "127.0.0.1:0"}]
                backends:
                  - {name: shard-a, address: "127.0.0.1:%d"}
                  - {name: shard-b, address: "127.0.0.1:%d"}
                routing:
                  strategy: ldap
                  normalize: {lowercase: true}
                  ldap:
                    url: "%s"
                    bind_dn: "%s"
                    bind_password_file: "%s"
                    base: "%s"
                    filter: "(&(objectClass=inetOrgPerson)(uid=%%u))"
                    group_attribute: ou
                    timeout: 5s
                    cache_ttl: 60s
                    negative_ttl: 10s
                %s""".formatted(shardA.port(), shardB.port(), slapd.url(), SlapdFixture.SERVICE_DN, secret,
                SlapdFixture.PEOPLE, extra);
    }

    private PosternServer postern(String extra) throws Exception {
        return PosternServer.start(PosternConfig.parse(config(extra)));
    }

    /** The tagged answer to LOGIN, and after a good one the name of the shard that answered ID. */
    private static String login(PosternServer postern, String user) throws Exception {
        try (RawImapClient c = new RawImapClient(postern.address("imap"))) {
            c.line();
            c.send("a LOGIN \"" + user.replace("\\", "\\\\").replace("\"", "\\\"") + "\" " + PASSWORD + "\r\n");
            String answer = c.tagged("a");
            if (!answer.startsWith("a OK")) {
                return answer;
            }
            c.send("b ID NIL\r\nc LOGOUT\r\n");
            String id = String.join("", c.until("b"));
            return id.replaceAll("(?s).*\"x-backend\" \"(shard-[ab])\".*", "$1");
        }
    }

    @Test
    void usersLandOnTheShardTheirEntryNamesByNameOrAddress() throws Exception {
        try (PosternServer postern = postern("")) {
            assertThat(login(postern, "alice")).isEqualTo("shard-a");
            assertThat(login(postern, "bob")).isEqualTo("shard-b"); // mailHost is shard-b's host:port
            assertThat(login(postern, "carol")).isEqualTo("shard-b");
            assertThat(login(postern, "frank")).isEqualTo("shard-a");
        }
    }

    @Test
    void unknownUsersAreRefusedOrGoToTheDefault() throws Exception {
        try (PosternServer postern = postern("")) {
            assertThat(login(postern, "mallory")).isEqualTo(REFUSED); // no entry
            assertThat(login(postern, "dave")).isEqualTo(REFUSED); // an entry without mailHost
            assertThat(login(postern, "erin")).isEqualTo(UNAVAILABLE); // mailHost names no backend: a directory error
        }
        try (PosternServer postern = postern("  default: shard-b\n")) {
            assertThat(login(postern, "dave")).isEqualTo("shard-b");
            assertThat(login(postern, "alice")).isEqualTo("shard-a");
        }
    }

    @Test
    void aNameThatLooksLikeAFilterMatchesNothing() throws Exception {
        PosternConfig config = PosternConfig.parse(config(""));
        try (Router router = Routers.of(config); PosternServer postern = PosternServer.start(config)) {
            for (String hostile : List.of("*)(uid=*", "ali*", "*", "alice)(|(uid=*")) {
                assertThat(login(postern, hostile)).as(hostile).isEqualTo(REFUSED);
                assertThatThrownBy(() -> router.route(hostile)).as(hostile)
                        .hasMessageContaining("no entry matches");
            }
        }
        // what slapd was asked: the escaped value, never a wildcard or a second clause
        assertThat(slapd.searches()).contains(
                "(&(objectClass=inetOrgPerson)(uid=\\2A\\29\\28uid=\\2A))",
                "(&(objectClass=inetOrgPerson)(uid=ali\\2A))");
    }

    @Test
    void answersAreCachedAndOneSearchServesConcurrentLogins() throws Exception {
        try (PosternServer postern = postern("")) {
            int before = slapd.searches().size();
            ExecutorService clients = Executors.newFixedThreadPool(8);
            try {
                List<Future<String>> landings = new ArrayList<>();
                for (int i = 0; i < 16; i++) {
                    landings.add(clients.submit(() -> login(postern, "carol")));
                }
                for (Future<String> f : landings) {
                    assertThat(f.get(60, TimeUnit.SECONDS)).isEqualTo("shard-b");
                }
            } finally {
                clients.shutdownNow();
            }
            assertThat(login(postern, "mallory")).isEqualTo(REFUSED);
            assertThat(login(postern, "mallory")).isEqualTo(REFUSED); // the negative answer is cached too
            assertThat(slapd.searches().size() - before).isEqualTo(2); // carol once, mallory once
        }
    }

    @Test
    void aDirectoryThatIsDownOrHangsMakesLoginsUnavailableWhileCachedUsersStillRoute() throws Exception {
        try (PosternServer postern = postern("")) {
            assertThat(login(postern, "alice")).isEqualTo("shard-a"); // now cached
            slapd.stop();
            assertThat(login(postern, "alice")).isEqualTo("shard-a");
            assertThat(login(postern, "bob")).isEqualTo(UNAVAILABLE);
            slapd.restart();
            assertThat(login(postern, "bob")).isEqualTo("shard-b"); // back, on a fresh connection
            slapd.pause();
            try {
                assertThat(login(postern, "frank")).isEqualTo(UNAVAILABLE); // read timeout, not a hang
                assertThat(login(postern, "bob")).isEqualTo("shard-b");
            } finally {
                slapd.resume();
            }
            assertThat(login(postern, "frank")).isEqualTo("shard-a");
        }
    }

    @Test
    void aWrongBindPasswordMakesLoginsUnavailable() throws Exception {
        String config = config("").replace("bind_password_file: \"" + dir.resolve("bind.pw") + "\"", "bind_password: wrong");
        try (PosternServer postern = PosternServer.start(PosternConfig.parse(config))) {
            assertThat(login(postern, "alice")).isEqualTo(UNAVAILABLE);
        }
    }

    @Test
    void theRouteCarriesTheGroupsAndExplainsItself() throws Exception {
        try (Router router = Routers.of(PosternConfig.parse(config("")))) {
            Router.Route carol = router.route("CAROL");
            assertThat(carol.backend()).isEqualTo("shard-b");
            assertThat(carol.key()).isEqualTo("carol");
            assertThat(carol.groups()).containsExactlyInAnyOrder("staff", "auditors");
            assertThat(carol.reason()).isEqualTo("ldap: (&(objectClass=inetOrgPerson)(uid=carol)) found uid=carol,"
                    + SlapdFixture.PEOPLE + " with mailHost: shard-b");
            assertThat(router.lookup(new Router.Login("carol", "x", null, 1)).get(10, TimeUnit.SECONDS).reason())
                    .startsWith("ldap: ");
            assertThat(router.lookup(new Router.Login("carol", "x", null, 1)).get(10, TimeUnit.SECONDS).reason())
                    .startsWith("ldap (cached): ");
        }
    }

    @Test
    void routeWhyExplainsTheDirectorysAnswer() throws Exception {
        Path file = dir.resolve("postern.yml");
        Files.writeString(file, config(""));
        String[] carol = cli("route", "--why", "--config", file.toString(), "carol");
        assertThat(carol[0]).isEqualTo("0");
        assertThat(carol[1]).isEqualTo("shard-b\n"
                + "  reason: ldap: (&(objectClass=inetOrgPerson)(uid=carol)) found uid=carol," + SlapdFixture.PEOPLE
                + " with mailHost: shard-b (key \"carol\", strategy ldap)\n"
                + "  groups: staff; auditors\n");
        String[] mallory = cli("route", "--why", "--config", file.toString(), "mallory");
        assertThat(mallory[0]).isEqualTo("1");
        assertThat(mallory[2]).contains("mallory is refused (NO [AUTHENTICATIONFAILED]): no entry matches "
                + "(&(objectClass=inetOrgPerson)(uid=mallory)) under " + SlapdFixture.PEOPLE + ", and routing.default is not set");
    }

    /** The exit status, standard output and standard error of {@code postern.jar ARGS}. */
    private static String[] cli(String... args) {
        java.io.PrintStream out = System.out;
        java.io.PrintStream err = System.err;
        java.io.ByteArrayOutputStream o = new java.io.ByteArrayOutputStream();
        java.io.ByteArrayOutputStream e = new java.io.ByteArrayOutputStream();
        System.setOut(new java.io.PrintStream(o, true, java.nio.charset.StandardCharsets.UTF_8));
        System.setErr(new java.io.PrintStream(e, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            int status = io.postern.proxy.cli.PosternCli.execute(args);
            return new String[] {String.valueOf(status), o.toString(java.nio.charset.StandardCharsets.UTF_8),
                e.toString(java.nio.charset.StandardCharsets.UTF_8)};
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    /** The directory over TLS: ldaps:// or StartTLS, verified against routing.ldap.ca, host name included. */
    @Test
    void tlsToTheDirectoryIsVerifiedAgainstTheConfiguredCa() throws Exception {
        // the first TLS handshakes of a JVM can take seconds on a busy machine
        String ldaps = config("").replace("timeout: 5s", "timeout: 20s").replace("url: \"" + slapd.url() + "\"",
                "url: \"" + slapd.ldapsUrl(SlapdFixture.HOST) + "\"\n    ca: \"" + directoryCa + "\"");
        try (PosternServer postern = PosternServer.start(PosternConfig.parse(ldaps))) {
            assertThat(login(postern, "alice")).isEqualTo("shard-a");
        }
        int before = slapd.startTlsCount();
        String startTls = config("").replace("timeout: 5s", "timeout: 20s").replace("url: \"" + slapd.url() + "\"",
                "url: \"" + slapd.url() + "\"\n    start_tls: true\n    ca: \"" + directoryCa + "\"");
        try (Router router = Routers.of(PosternConfig.parse(startTls))) {
            assertThat(router.route("bob").backend()).isEqualTo("shard-b");
        }
        assertThat(slapd.startTlsCount()).isEqualTo(before + 1);
        // another CA, or a certificate that does not name the host in the URL: no route
        for (String bad : List.of(ldaps.replace(directoryCa.toString(), otherCa.toString()),
                startTls.replace(directoryCa.toString(), otherCa.toString()),
                ldaps.replace(slapd.ldapsUrl(SlapdFixture.HOST), slapd.ldapsUrl(SlapdFixture.OTHER_HOST)),
                startTls.replace(slapd.url(), slapd.url(SlapdFixture.OTHER_HOST)))) {
            try (Router router = Routers.of(PosternConfig.parse(bad))) {
                assertThatThrownBy(() -> router.route("alice")).as(bad)
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("directory lookup of alice failed")
                        .hasMessageFindingMatch("PKIX path|subject alternative names matching IP address 127.0.0.2|"
                                + "hostname of the server '127.0.0.2' does not match");
            }
        }
    }

    @Test
    void aUserMovedInTheDirectoryLandsOnTheNewShardOnceTheCachedRouteExpires() throws Exception {
        String config = config("").replace("cache_ttl: 60s", "cache_ttl: 1s");
        try (PosternServer postern = PosternServer.start(PosternConfig.parse(config))) {
            assertThat(login(postern, "frank")).isEqualTo("shard-a");
            slapd.modify("dn: uid=frank," + SlapdFixture.PEOPLE + "\nchangetype: modify\nreplace: mailHost\nmailHost: shard-b\n");
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30); // a bound for the loop, not a claim
                String landed = "shard-a";
                while (landed.equals("shard-a") && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                    landed = login(postern, "frank");
                }
                assertThat(landed).isEqualTo("shard-b");
            } finally {
                slapd.modify("dn: uid=frank," + SlapdFixture.PEOPLE + "\nchangetype: modify\nreplace: mailHost\nmailHost: shard-a\n");
            }
        }
    }

    @Test
    void manyLookupsAtOnceShareAtMostMaxConnectionsDirectoryConnections() throws Exception {
        int before = slapd.connectionCount();
        int searches = slapd.searches().size();
        try (Router router = Routers.of(PosternConfig.parse(config("    max_connections: 2\n")))) {
            List<java.util.concurrent.CompletableFuture<Router.Route>> lookups = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                lookups.add(router.lookup(new Router.Login(i % 2 == 0 ? "nobody" + i : "alice", "x", null, 1)));
            }
            for (int i = 0; i < lookups.size(); i++) {
                String outcome = lookups.get(i).handle((route, error) -> route != null ? route.backend()
                        : error.getCause() instanceof Router.Refused ? "refused" : error.toString()).get(60, TimeUnit.SECONDS);
                assertThat(outcome).as("lookup " + i).isEqualTo(i % 2 == 0 ? "refused" : "shard-a");
            }
        }
        assertThat(slapd.searches().size() - searches).isEqualTo(21); // 20 unknown users, alice once
        assertThat(slapd.connectionCount() - before).isBetween(1, 2);
    }
}
