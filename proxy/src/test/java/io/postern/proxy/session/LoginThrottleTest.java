package io.postern.proxy.session;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class LoginThrottleTest {

    private final LoginThrottle throttle = new LoginThrottle(Duration.ofMillis(500), Duration.ofSeconds(3));

    @Test
    void firstFailureIsFreeThenTheWaitDoublesUpToTheMaximum() throws Exception {
        InetAddress a = InetAddress.getByName("192.0.2.1");
        assertThat(throttle.failure(a, "alice")).isZero();
        assertThat(throttle.failure(a, "alice")).isEqualTo(Duration.ofMillis(500));
        assertThat(throttle.failure(a, "alice")).isEqualTo(Duration.ofSeconds(1));
        assertThat(throttle.failure(a, "alice")).isEqualTo(Duration.ofSeconds(2));
        assertThat(throttle.failure(a, "alice")).isEqualTo(Duration.ofSeconds(3));
        assertThat(throttle.failure(a, "alice")).isEqualTo(Duration.ofSeconds(3));
    }

    @Test
    void countsAreKeptByAddressAndByUserAndTheLargerWins() throws Exception {
        InetAddress a = InetAddress.getByName("192.0.2.1");
        InetAddress b = InetAddress.getByName("192.0.2.2");
        throttle.failure(a, "alice");
        throttle.failure(a, "alice");
        // the same user from another address: the user's count (3rd failure) decides
        assertThat(throttle.failure(b, "ALICE")).isEqualTo(Duration.ofSeconds(1));
        // another user from the first address: the address's count (3rd failure) decides
        assertThat(throttle.failure(a, "bob")).isEqualTo(Duration.ofSeconds(1));
        // a stranger is free
        assertThat(throttle.failure(InetAddress.getByName("192.0.2.3"), "carol")).isZero();
    }

    @Test
    void successClearsTheAddressAndTheUser() throws Exception {
        InetAddress a = InetAddress.getByName("192.0.2.1");
        throttle.failure(a, "alice");
        throttle.failure(a, "alice");
        throttle.success(a, "alice");
        assertThat(throttle.failure(a, "alice")).isZero();
    }

    @Test
    void aZeroBaseTurnsTheThrottleOff() throws Exception {
        LoginThrottle off = new LoginThrottle(Duration.ZERO, Duration.ZERO);
        InetAddress a = InetAddress.getByName("192.0.2.1");
        for (int i = 0; i < 5; i++) {
            assertThat(off.failure(a, "alice")).isZero();
        }
    }
}
