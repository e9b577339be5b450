package io.postern.policies;

/**
 * Told of every command's tagged completion (the seam an audit trail builds on). Observes only:
 * it cannot change the response.
 *
 * <p>Threading: called on the session's event loop after the completion was written toward the
 * client; must not block (hand slow work, such as writing a file, to a thread of its own).
 */
@FunctionalInterface
public interface CompletionListener {

    void onCompleted(SessionInfo session, CommandCompletion completion);
}
