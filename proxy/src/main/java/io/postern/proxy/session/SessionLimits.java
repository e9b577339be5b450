package io.postern.proxy.session;

import java.net.InetAddress;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts connections and sessions across a whole Postern: connections per client address and in
 * all (taken at accept), sessions per user (taken at login). A limit of 0 means none. Shared by
 * every event loop, so thread-safe; every {@code take} that returns {@code true} is matched by
 * one {@code give}.
 */
public final class SessionLimits {

    private volatile int maxPerUser;
    private volatile int maxPerAddress;
    private volatile int maxConnections;
    private final ConcurrentHashMap<String, AtomicInteger> users = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<InetAddress, AtomicInteger> addresses = new ConcurrentHashMap<>();
    private final AtomicInteger connections = new AtomicInteger();

    public SessionLimits(int maxPerUser, int maxPerAddress, int maxConnections) {
        this.maxPerUser = maxPerUser;
        this.maxPerAddress = maxPerAddress;
        this.maxConnections = maxConnections;
    }

    /** New maxima (a reload); the counts carry over, and nothing open now is closed for them. */
    public void setMaxima(int maxPerUser, int maxPerAddress, int maxConnections) {
        this.maxPerUser = maxPerUser;
        this.maxPerAddress = maxPerAddress;
        this.maxConnections = maxConnections;
    }

    /** A new connection; {@code null} when it may stay, else the reason it may not. */
    public String takeConnection(InetAddress address) {
        if (!increment(connections, maxConnections)) {
            return "too many connections";
        }
        if (address != null && !take(addresses, address, maxPerAddress)) {
            connections.decrementAndGet();
            return "too many connections from your address";
        }
        return null;
    }

    public void giveConnection(InetAddress address) {
        connections.decrementAndGet();
        if (address != null) {
            give(addresses, address);
        }
    }

    /** A login; {@code false} when the user has {@code maxPerUser} sessions already. */
    public boolean takeUser(String user) {
        return take(users, user.toLowerCase(Locale.ROOT), maxPerUser);
    }

    public void giveUser(String user) {
        give(users, user.toLowerCase(Locale.ROOT));
    }

    public int connections() {
        return connections.get();
    }

    private static <K> boolean take(ConcurrentHashMap<K, AtomicInteger> counts, K key, int max) {
        boolean[] ok = {false};
        counts.compute(key, (k, n) -> {
            AtomicInteger c = n == null ? new AtomicInteger() : n;
            ok[0] = increment(c, max);
            return c.get() == 0 ? null : c;
        });
        return ok[0];
    }

    private static <K> void give(ConcurrentHashMap<K, AtomicInteger> counts, K key) {
        counts.computeIfPresent(key, (k, n) -> n.decrementAndGet() <= 0 ? null : n);
    }

    private static boolean increment(AtomicInteger n, int max) {
        for (;;) {
            int v = n.get();
            if (max > 0 && v >= max) {
                return false;
            }
            if (n.compareAndSet(v, v + 1)) {
                return true;
            }
        }
    }
}
