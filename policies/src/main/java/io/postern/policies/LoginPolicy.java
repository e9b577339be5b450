package io.postern.policies;

/**
 * Decides whether a user whose credentials the backend has just accepted may use the session
 * (source address, time of day, TLS ...). Called once per login, before the client sees its
 * {@code OK}; {@code session.user()} and {@code session.groups()} are set.
 *
 * <p>Threading: called on the session's event loop; must not block (use
 * {@link Verdict#async} for anything slow). Implementations are shared by every session that
 * the policy applies to, on every event loop: keep shared state thread-safe.
 */
@FunctionalInterface
public interface LoginPolicy {

    /** Makes exactly one decisive call on {@code verdict} (now, or later after {@code verdict.async(...)}). */
    void onLogin(SessionInfo session, LoginVerdict verdict);
}
