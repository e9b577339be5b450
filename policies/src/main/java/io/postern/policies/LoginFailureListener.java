package io.postern.policies;

/**
 * Told when a login fails: the backend refused the credentials, the backend could not be
 * reached, or a login policy refused the session. Observes only. The chain asked is the one the
 * given user name would select (the name is as the client sent it and was not accepted, so
 * treat it as untrusted text); {@code session.mechanism()} is set, {@code session.backend()}
 * where one was chosen.
 *
 * <p>Threading: called on the session's event loop; must not block; must not throw.
 */
@FunctionalInterface
public interface LoginFailureListener {

    /** @param reason the answer the client got ({@code [AUTHENTICATIONFAILED] ...}), never a credential */
    void onLoginFailed(SessionInfo session, String reason);
}
