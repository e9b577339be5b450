package io.postern.policies.acl;

import io.postern.policies.SessionInfo;
import java.time.Duration;
import java.util.Set;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Per-user rates, shared by all sessions of a user: commands per second and bytes per second
 * (both directions). A user over the rate has the next commands delayed, each a little longer
 * than the last (a delay does not earn credit back); once the wait would pass {@code maxDelay},
 * commands are refused until the rate drops. Buckets live while the user has a session.
 *
 * <p>Thread-safe: sessions of one user may run on different event loops.
 */
final class RateLimiter {

    private final double commandsPerSecond;
    private final double bytesPerSecond;
    private final long maxDelayNanos;
    private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();
    /** The sessions counted in a bucket, by session id. */
    private final Set<String> sessions = ConcurrentHashMap.newKeySet();

    /** @param commandsPerSecond 0 for no limit; likewise {@code bytesPerSecond} */
    RateLimiter(double commandsPerSecond, double bytesPerSecond, Duration maxDelay) {
        this.commandsPerSecond = commandsPerSecond;
        this.bytesPerSecond = bytesPerSecond;
        this.maxDelayNanos = maxDelay.toNanos();
    }

    /** What the limiter says about the user's next command. */
    sealed interface Admission permits Now, After, Refused {}

    record Now() implements Admission {}

    record After(Duration delay) implements Admission {}

    record Refused() implements Admission {}

    private static final Now NOW = new Now();
    private static final Refused REFUSED = new Refused();

    void sessionStarted(SessionInfo session) {
        if (!sessions.add(session.sessionId())) {
            return;
        }
        String user = session.user();
        buckets.compute(key(user), (k, b) -> {
            Bucket bucket = b == null ? new Bucket(System.nanoTime()) : b;
            bucket.sessions.incrementAndGet();
            return bucket;
        });
    }

    /** Called for every session a login policy was asked about; only those counted in are counted out. */
    void sessionEnded(SessionInfo session) {
        if (!sessions.remove(session.sessionId())) {
            return;
        }
        buckets.computeIfPresent(key(session.user()), (k, b) -> b.sessions.decrementAndGet() <= 0 ? null : b);
    }

    Admission command(String user) {
        Bucket b = buckets.get(key(user));
        return b == null ? NOW : b.command(System.nanoTime());
    }

    void bytes(String user, long n) {
        if (bytesPerSecond > 0) {
            Bucket b = buckets.get(key(user));
            if (b != null) {
                b.bytes(n, System.nanoTime());
            }
        }
    }

    private static String key(String user) {
        return user.toLowerCase(Locale.ROOT);
    }

    private final class Bucket {
        final AtomicInteger sessions = new AtomicInteger();
        private double commands;
        private long commandsRefilled;
        private double byteCredit;
        private long bytesRefilled;

        Bucket(long now) {
            commands = commandsPerSecond;
            byteCredit = bytesPerSecond;
            commandsRefilled = now;
            bytesRefilled = now;
        }

        synchronized Admission command(long now) {
            long waitNanos = 0;
            if (bytesPerSecond > 0) {
                refillBytes(now);
                if (byteCredit < 0) {
                    waitNanos = (long) (-byteCredit / bytesPerSecond * 1e9);
                }
            }
            if (commandsPerSecond > 0) {
                if (now > commandsRefilled) {
                    commands = Math.min(commandsPerSecond, commands + (now - commandsRefilled) / 1e9 * commandsPerSecond);
                    commandsRefilled = now;
                }
                if (commands < 1) {
                    waitNanos = Math.max(waitNanos, (long) ((1 - commands) / commandsPerSecond * 1e9));
                }
            }
            if (waitNanos > maxDelayNanos) {
                return REFUSED;
            }
            if (commandsPerSecond > 0) {
                commands -= 1;
                if (waitNanos > 0) {
                    // the delay earns nothing back: a client that keeps pushing waits longer each time
                    commandsRefilled = Math.max(commandsRefilled, now + waitNanos);
                }
            }
            return waitNanos == 0 ? NOW : new After(Duration.ofNanos(waitNanos));
        }

        synchronized void bytes(long n, long now) {
            refillBytes(now);
            byteCredit -= n;
        }

        private void refillBytes(long now) {
            if (now > bytesRefilled) {
                byteCredit = Math.min(bytesPerSecond, byteCredit + (now - bytesRefilled) / 1e9 * bytesPerSecond);
                bytesRefilled = now;
            }
        }
    }
}
