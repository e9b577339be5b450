package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.routing.Router;
import io.postern.proxy.routing.Routers;
import io.postern.proxy.server.PosternServer;
import io.postern.proxy.testing.DovecotFixture;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Consistent hashing over real Dovecot shards: every user lands on the shard the ring names (as
 * the shard itself says, in its ID response), and adding a third shard moves about a third of
 * the users, all of them to the new shard.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ShardRoutingIT {

    private static final String PASSWORD = "shard-pw";
    private static final List<String> USERS = IntStream.range(0, 200).mapToObj(i -> "u" + i).toList();

    private final Map<String, DovecotFixture> shards = new HashMap<>();

    @BeforeAll
    void start() throws Exception {
        DovecotFixture.assumeAvailable();
        for (String name : List.of("shard-a", "shard-b", "shard-c")) {
            DovecotFixture.Builder b = DovecotFixture.builder().name(name);
            USERS.forEach(u -> b.user(u, PASSWORD));
            b.user("Alice", PASSWORD);
            shards.put(name, b.start());
        }
    }

    @AfterAll
    void stop() throws Exception {
        for (DovecotFixture d : shards.values()) {
            d.close();
        }
    }

    private String config(List<String> ring) {
        StringBuilder y = new StringBuilder("listeners: [{name: imap, bind: \"127.0.0.1:0\"}]\nbackends:\n");
        shards.forEach((name, d) -> y.append("  - {name: ").append(name).append(", address: \"")
                .append(d.host()).append(':').append(d.port()).append("\"}\n"));
        y.append("routing:\n  strategy: hash\n  backends: [").append(String.join(", ", ring)).append("]\n")
                .append("  static: {u7: shard-c}\n")
                .append("  normalize: {lowercase: true, strip_domain: true}\n");
        return y.toString();
    }

    /** Logs each user in through Postern and asks the shard its name. */
    private Map<String, String> landings(PosternServer postern, List<String> users) throws Exception {
        Map<String, String> where = new HashMap<>();
        for (String user : users) {
            try (RawImapClient c = new RawImapClient(postern.address("imap"))) {
                c.line();
                c.send("a LOGIN " + user + " " + PASSWORD + "\r\nb ID NIL\r\nc LOGOUT\r\n");
                assertThat(c.tagged("a")).as(user).startsWith("a OK");
                String id = String.join("", c.until("b"));
                String shard = id.replaceAll("(?s).*\"x-backend\" \"(shard-[abc])\".*", "$1");
                assertThat(shard).as(id).startsWith("shard-");
                where.put(user, shard);
            }
        }
        return where;
    }

    @Test
    void usersLandWhereTheRingSaysAndAThirdShardTakesAboutAThird() throws Exception {
        String twoShards = config(List.of("shard-a", "shard-b"));
        Router ring2 = Routers.of(PosternConfig.parse(twoShards));
        Map<String, String> before;
        try (PosternServer postern = PosternServer.start(PosternConfig.parse(twoShards))) {
            before = landings(postern, USERS);
        }
        for (String u : USERS) {
            assertThat(before.get(u)).as(u).isEqualTo(ring2.route(u).backend());
        }
        assertThat(before.get("u7")).isEqualTo("shard-c"); // the static entry wins over the ring
        assertThat(before.values()).contains("shard-a", "shard-b");

        Map<String, String> after;
        try (PosternServer postern = PosternServer.start(PosternConfig.parse(config(List.of("shard-a", "shard-b", "shard-c"))))) {
            after = landings(postern, USERS);
        }
        long moved = USERS.stream().filter(u -> !before.get(u).equals(after.get(u))).count();
        USERS.stream().filter(u -> !before.get(u).equals(after.get(u)))
                .forEach(u -> assertThat(after.get(u)).as(u).isEqualTo("shard-c"));
        assertThat(moved).isBetween(45L, 90L); // about 1/3 of 200, and never one that had to stay
    }

    @Test
    void normalisedNamesRouteTheSame() throws Exception {
        Router router = Routers.of(PosternConfig.parse(config(List.of("shard-a", "shard-b"))));
        assertThat(router.route("U7@Example.COM").backend()).isEqualTo("shard-c");
        assertThat(router.route("U7@Example.COM").key()).isEqualTo("u7");
        assertThat(router.route("Alice@example.com")).isEqualTo(router.route("alice"));
    }
}
