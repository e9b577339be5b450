package io.postern.policies;

import java.util.List;

/**
 * Rewrites the capability list a client is shown: in the greeting and the pre-login
 * {@code CAPABILITY} answer ({@code session.loggedIn()} is {@code false}: only the listener,
 * address and TLS are known), and after login in the login's {@code [CAPABILITY ...]} code,
 * {@code * CAPABILITY} responses and {@code [CAPABILITY ...]} codes. Whatever a policy returns,
 * Postern then removes what it cannot relay (authentication, STARTTLS and COMPRESS after login).
 *
 * <p>Enforcing a removal (refusing the removed extension's commands) is a {@link CommandPolicy}'s
 * job, registered by the same policy.
 *
 * <p>Threading: called on the session's event loop; must not block; pure function of its input.
 */
@FunctionalInterface
public interface CapabilityPolicy {

    /** The capabilities to show instead of {@code offered} (which must not be modified). */
    List<String> capabilities(SessionInfo session, List<String> offered);
}
