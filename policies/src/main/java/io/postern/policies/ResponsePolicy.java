package io.postern.policies;

/**
 * Sees the untagged data responses whose keywords it registered for (see
 * {@link Policy.Builder#onResponse}) and passes them on or drops them, e.g. the {@code LIST} and
 * {@code STATUS} lines of a hidden mailbox. Only whole untagged responses are dropped; tagged
 * completions and continuations always reach the client.
 *
 * <p>Threading: called on the session's event loop, synchronously; must not block.
 * Implementations are shared across sessions and event loops.
 */
@FunctionalInterface
public interface ResponsePolicy {

    /** Makes exactly one decisive call on {@code verdict}, before returning. */
    void onResponse(SessionInfo session, Response response, ResponseVerdict verdict);
}
