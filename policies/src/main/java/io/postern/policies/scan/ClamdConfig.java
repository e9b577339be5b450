package io.postern.policies.scan;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.time.Duration;

/**
 * How to reach clamd and how to behave when it does not answer. Every value is checked when the
 * record is built.
 *
 * @param address {@code host:port} (TCP; {@code [v6]:port} for IPv6) or {@code unix:/path/to/clamd.sock}
 * @param timeout the longest a scan may take, queueing, connecting, streaming and the answer included
 * @param failOpen {@code true}: content passes when clamd cannot be asked ({@code fail-open});
 *     {@code false}: it is refused ({@code fail-closed})
 * @param maxConcurrent scans in flight at once (threads of the client's executor)
 * @param maxQueued scans waiting for a thread; one more is answered at once as a failure
 * @param chunkBytes the size of the INSTREAM chunks sent
 * @param maxStreamBytes the largest content sent (keep it at or under clamd's {@code StreamMaxLength});
 *     larger content is a failure, resolved by {@code failOpen}
 * @param cacheEntries verdicts kept by content hash (0: no cache)
 * @param cacheTtl how long a cached verdict is used (new signatures may change it)
 */
public record ClamdConfig(
        String address,
        Duration timeout,
        boolean failOpen,
        int maxConcurrent,
        int maxQueued,
        int chunkBytes,
        long maxStreamBytes,
        int cacheEntries,
        Duration cacheTtl) {

    public static final String UNIX_PREFIX = "unix:";

    public ClamdConfig {
        socketAddress(address);
        positive("timeout", timeout, Duration.ofMinutes(10));
        range("maxConcurrent", maxConcurrent, 1, 256);
        range("maxQueued", maxQueued, 1, 100_000);
        range("chunkBytes", chunkBytes, 1024, 1024 * 1024);
        if (maxStreamBytes < 1) {
            throw new IllegalArgumentException("maxStreamBytes: " + maxStreamBytes + " (expected: >= 1)");
        }
        range("cacheEntries", cacheEntries, 0, 10_000_000);
        positive("cacheTtl", cacheTtl, Duration.ofDays(30));
    }

    /** Defaults for {@code address}: 10 s, fail-closed, 4 at once, 100 queued, 64 KiB chunks, 25 MiB, 10,000 cached for 1 h. */
    public static ClamdConfig defaults(String address) {
        return new ClamdConfig(address, Duration.ofSeconds(10), false, 4, 100, 64 * 1024, 25L * 1024 * 1024,
                10_000, Duration.ofHours(1));
    }

    public ClamdConfig withTimeout(Duration t) {
        return new ClamdConfig(address, t, failOpen, maxConcurrent, maxQueued, chunkBytes, maxStreamBytes, cacheEntries, cacheTtl);
    }

    public ClamdConfig withFailOpen(boolean open) {
        return new ClamdConfig(address, timeout, open, maxConcurrent, maxQueued, chunkBytes, maxStreamBytes, cacheEntries, cacheTtl);
    }

    public ClamdConfig withAddress(String a) {
        return new ClamdConfig(a, timeout, failOpen, maxConcurrent, maxQueued, chunkBytes, maxStreamBytes, cacheEntries, cacheTtl);
    }

    /** The address to connect to. */
    public SocketAddress socketAddress() {
        return socketAddress(address);
    }

    private static SocketAddress socketAddress(String address) {
        if (address == null || address.isBlank()) {
            throw new IllegalArgumentException("address: empty (expected: host:port or unix:/path)");
        }
        if (address.startsWith(UNIX_PREFIX)) {
            String path = address.substring(UNIX_PREFIX.length());
            if (!path.startsWith("/")) {
                throw new IllegalArgumentException("address: \"" + address + "\" (expected: unix: and an absolute path)");
            }
            return UnixDomainSocketAddress.of(Path.of(path));
        }
        int colon = address.lastIndexOf(':');
        String host = colon > 0 ? address.substring(0, colon) : "";
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(address.substring(colon + 1));
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (host.isEmpty() || port < 1 || port > 65535) {
            throw new IllegalArgumentException("address: \"" + address + "\" (expected: host:port or unix:/path)");
        }
        return InetSocketAddress.createUnresolved(host, port);
    }

    private static void range(String name, long value, long min, long max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: " + min + " to " + max + ")");
        }
    }

    private static void positive(String name, Duration value, Duration max) {
        if (value == null || value.isNegative() || value.isZero() || value.compareTo(max) > 0) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: more than 0, at most " + max + ")");
        }
    }
}
