package io.postern.policies;

/**
 * Told once when a session ends, whatever ended it, for every session whose login the chain's
 * login policies were asked about (also when one of them refused it), so per-session state kept
 * elsewhere (counters, rate buckets) can be released.
 *
 * <p>Threading: called on the session's event loop; must not block; must not throw.
 */
@FunctionalInterface
public interface CloseListener {

    void onClose(SessionInfo session, CloseReason reason);
}
