package io.postern.policies;

/**
 * <b>Reserved, not called by this build.</b> The seam for message-content inspection (APPEND
 * uploads, FETCH downloads): for a command that carries or fetches message data, a policy
 * returns a {@link ContentInspector} that is fed the data as it streams, and decides on the
 * command when the data ends. A configuration whose policy registers one is refused at start
 * until the scanning issue wires it.
 *
 * <p>Threading (as it will be): called on the session's event loop; the inspector is fed there
 * too and decides through {@link Verdict#async} when its work is slow.
 */
@FunctionalInterface
public interface ContentPolicy {

    /** An inspector for this command's message data, or {@code null} for none. */
    ContentInspector inspect(SessionInfo session, Command command);
}
