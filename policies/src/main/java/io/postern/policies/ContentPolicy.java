package io.postern.policies;

/**
 * Message-content inspection (APPEND uploads, FETCH downloads). For each message that passes
 * in a direction the policy cares about, the session asks for a {@link ContentInspector}, feeds
 * it the message's bytes as they arrive, and holds the message until the inspector's verdict:
 * only then does the message go on (byte-identical, or rewritten by a download verdict), or is
 * refused.
 *
 * <p>Threading: called on the session's event loop; must not block.
 */
@FunctionalInterface
public interface ContentPolicy {

    /** An inspector for one message passing in {@code direction}, or {@code null} for none. */
    ContentInspector inspect(SessionInfo session, ContentDirection direction);
}
