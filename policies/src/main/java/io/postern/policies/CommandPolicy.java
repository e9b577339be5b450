package io.postern.policies;

/**
 * Decides about each command a logged-in client sends, before the backend sees it: let it go
 * on, refuse it ({@code NO}/{@code BAD} with a response code), rewrite it, answer it, or end the
 * session. Policies of a chain are asked in order; the first that does not proceed ends the
 * walk, and a rewrite is what the next policy sees.
 *
 * <p>Not called for the continuation data of a command already admitted ({@code DONE} ending
 * IDLE, the lines after a literal, AUTHENTICATE exchanges), nor for commands Postern answers
 * itself after login ({@code STARTTLS}, {@code COMPRESS}, {@code LOGIN}, {@code AUTHENTICATE}).
 *
 * <p>Threading: called on the session's event loop, one command at a time; must not block (use
 * {@link Verdict#async} for anything slow; the session's later commands wait meanwhile).
 * Implementations are shared across sessions and event loops: keep shared state thread-safe.
 */
@FunctionalInterface
public interface CommandPolicy {

    /** Makes exactly one decisive call on {@code verdict}. */
    void onCommand(SessionInfo session, Command command, CommandVerdict verdict);
}
