package io.postern.proxy.session;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;

/**
 * The most recent refusals (failed logins, limits, unavailable backends), newest last, for the
 * status page. Bounded: the oldest entry goes when a new one arrives at capacity.
 *
 * <p>This is the hook for the policy engine: a policy's deny verdict is recorded here with
 * {@link #record} as well, with the policy's name in {@code reason}. Thread-safe; a refusal is
 * rare next to relayed traffic, so a plain lock is enough.
 */
public final class DenialLog {

    /**
     * One refusal.
     *
     * @param user the login name as the client sent it (attacker-controlled: escape it), or {@code null}
     * @param client the client's address, or {@code null}
     * @param reason what the client was told, or which rule refused it
     */
    public record Denial(Instant at, String user, String client, String reason) {}

    private final int capacity;
    private final ArrayDeque<Denial> recent;

    public DenialLog(int capacity) {
        this.capacity = capacity;
        this.recent = new ArrayDeque<>(capacity);
    }

    public void record(String user, String client, String reason) {
        Denial d = new Denial(Instant.now(), user, client, reason);
        synchronized (recent) {
            if (recent.size() == capacity) {
                recent.pollFirst();
            }
            recent.addLast(d);
        }
    }

    /** The refusals kept, oldest first. */
    public List<Denial> recent() {
        synchronized (recent) {
            return List.copyOf(recent);
        }
    }
}
