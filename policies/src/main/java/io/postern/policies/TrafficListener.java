package io.postern.policies;

/**
 * Told of the bytes a logged-in session relays, in both directions, as they pass (for byte-rate
 * limits and accounting). Called often: keep it to a few arithmetic operations.
 *
 * <p>Threading: called on the session's event loop; must not block.
 */
@FunctionalInterface
public interface TrafficListener {

    /** @param fromClient {@code true} for command bytes, {@code false} for response bytes */
    void onBytes(SessionInfo session, boolean fromClient, long bytes);
}
