package io.postern.proxy.session;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Slows down password guessing: every failed login counts against the client's address and
 * against the user name, and the answer to a failed login waits longer the more failures either
 * has had recently (no wait for the first, then {@code base}, doubling up to {@code max}). A
 * successful login clears both counts. Shared by every session of a Postern, so it is
 * thread-safe; it never blocks: the session schedules its answer after {@link #failure}'s delay.
 */
public final class LoginThrottle {

    /** Failures are forgotten this long after the last one. */
    static final Duration WINDOW = Duration.ofMinutes(15);
    private static final long MAX_KEYS = 100_000;

    private final Duration base;
    private final Duration max;
    private final Cache<String, AtomicInteger> failures;

    public LoginThrottle(Duration base, Duration max) {
        this.base = base;
        this.max = max;
        this.failures = Caffeine.newBuilder().expireAfterWrite(WINDOW).maximumSize(MAX_KEYS).build();
    }

    /** Records a failed login and returns how long its answer should wait. */
    public Duration failure(InetAddress client, String user) {
        int byAddress = count(addressKey(client));
        int byUser = count(userKey(user));
        return delayFor(Math.max(byAddress, byUser));
    }

    /** A successful login: the address and the user start afresh. */
    public void success(InetAddress client, String user) {
        failures.invalidate(addressKey(client));
        failures.invalidate(userKey(user));
    }

    Duration delayFor(int failureCount) {
        if (failureCount <= 1 || base.isZero()) {
            return Duration.ZERO;
        }
        int shift = Math.min(failureCount - 2, 30);
        Duration d = base.multipliedBy(1L << shift);
        return d.compareTo(max) > 0 ? max : d;
    }

    private int count(String key) {
        AtomicInteger n = failures.get(key, k -> new AtomicInteger());
        int value = n.incrementAndGet();
        failures.put(key, n); // a write: the window restarts at the latest failure
        return value;
    }

    private static String addressKey(InetAddress client) {
        return "a:" + (client == null ? "unknown" : client.getHostAddress());
    }

    private static String userKey(String user) {
        return "u:" + user.toLowerCase(Locale.ROOT);
    }
}
