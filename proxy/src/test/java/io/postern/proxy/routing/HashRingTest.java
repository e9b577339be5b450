package io.postern.proxy.routing;

import static org.assertj.core.api.Assertions.assertThat;

import io.postern.proxy.config.RoutingConfig.RingMember;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class HashRingTest {

    private static final List<String> USERS = IntStream.range(0, 5000).mapToObj(i -> "user" + i + "@example.test").toList();

    private static Map<String, Integer> spread(HashRing ring) {
        Map<String, Integer> counts = new HashMap<>();
        USERS.forEach(u -> counts.merge(ring.route(u).backend(), 1, Integer::sum));
        return counts;
    }

    @Test
    void theSameRingRoutesEveryUserTheSameWay() {
        List<RingMember> members = List.of(new RingMember("a", 1), new RingMember("b", 1));
        HashRing one = new HashRing(members);
        HashRing other = new HashRing(List.of(new RingMember("a", 1), new RingMember("b", 1)));
        USERS.forEach(u -> assertThat(other.route(u)).isEqualTo(one.route(u)));
        assertThat(one.route("alice").reason()).isEqualTo("hash");
    }

    @Test
    void usersSpreadEvenlyAndByWeight() {
        Map<String, Integer> even = spread(new HashRing(List.of(new RingMember("a", 1), new RingMember("b", 1))));
        assertThat(even.get("a")).isBetween(2100, 2900);
        Map<String, Integer> weighted = spread(new HashRing(List.of(new RingMember("a", 2), new RingMember("b", 1))));
        assertThat(weighted.get("a")).isBetween(3000, 3650); // about 2/3
    }

    @Test
    void addingABackendMovesAboutAThirdOfTheUsersAndOnlyToTheNewOne() {
        HashRing two = new HashRing(List.of(new RingMember("a", 1), new RingMember("b", 1)));
        HashRing three = new HashRing(List.of(new RingMember("a", 1), new RingMember("b", 1), new RingMember("c", 1)));
        int moved = 0;
        for (String u : USERS) {
            String before = two.route(u).backend();
            String after = three.route(u).backend();
            if (!before.equals(after)) {
                moved++;
                assertThat(after).isEqualTo("c");
            }
        }
        assertThat(moved).isBetween(1300, 2000); // 1/3 of 5000 is 1667
    }

    @Test
    void theHashIsFixedSoInstancesAndReleasesAgree() {
        // pinned: a change here would move users between shards on upgrade
        assertThat(HashRing.hash("alice")).isEqualTo(0x2bd806c97f0e00afL);
    }
}
