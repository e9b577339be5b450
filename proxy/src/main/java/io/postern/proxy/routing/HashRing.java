package io.postern.proxy.routing;

import io.postern.proxy.config.RoutingConfig;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.List;

/**
 * {@code routing.strategy: hash}: consistent hashing of the routing key over the ring's backends.
 * Each backend owns {@link #POINTS_PER_WEIGHT} points per unit of weight, placed by SHA-256 of
 * {@code "name#i"}; a key belongs to the first point at or after its own SHA-256. Everything is
 * derived from the configuration, so every Postern with the same ring routes a user the same way,
 * and adding a backend moves only the keys that now fall on its points (about 1/N of them).
 * Immutable and thread-safe; a lookup is a binary search.
 */
public final class HashRing implements Router {

    static final int POINTS_PER_WEIGHT = 160;

    private final long[] points;
    private final String[] owners;

    public HashRing(List<RoutingConfig.RingMember> members) {
        int total = members.stream().mapToInt(m -> m.weight() * POINTS_PER_WEIGHT).sum();
        long[][] entries = new long[total][2];
        String[] names = members.stream().map(RoutingConfig.RingMember::backend).toArray(String[]::new);
        int k = 0;
        for (int m = 0; m < members.size(); m++) {
            int count = members.get(m).weight() * POINTS_PER_WEIGHT;
            for (int i = 0; i < count; i++) {
                entries[k][0] = hash(names[m] + "#" + i);
                entries[k][1] = m;
                k++;
            }
        }
        // ties (practically impossible with 64 bits) are broken by backend order, deterministically
        Arrays.sort(entries, (a, b) -> a[0] != b[0] ? Long.compareUnsigned(a[0], b[0]) : Long.compare(a[1], b[1]));
        points = new long[total];
        owners = new String[total];
        for (int i = 0; i < total; i++) {
            points[i] = entries[i][0];
            owners[i] = names[(int) entries[i][1]];
        }
    }

    @Override
    public Route route(String key) {
        long h = hash(key);
        int lo = 0;
        int hi = points.length;
        while (lo < hi) { // the first point >= h, unsigned
            int mid = (lo + hi) >>> 1;
            if (Long.compareUnsigned(points[mid], h) < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return new Route(owners[lo == points.length ? 0 : lo], "hash", key);
    }

    static long hash(String s) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
            return ByteBuffer.wrap(d).getLong();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every Java runtime", e);
        }
    }
}
