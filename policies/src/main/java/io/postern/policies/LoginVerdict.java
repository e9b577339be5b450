package io.postern.policies;

/**
 * The output of a {@link LoginPolicy}: let the login go on, refuse it, or end the session.
 * Exactly one decisive call; see {@link Verdict} for the contract and {@link #async}.
 */
public final class LoginVerdict extends Verdict {

    /** The login goes on (to the next policy, then the client's {@code OK}). */
    public void proceed() {
        decide(Decision.PROCEED);
    }

    /**
     * The login is refused with {@code tag NO [code] text}; the backend session that was opened
     * is closed and the client stays unauthenticated.
     *
     * @param code a response code such as {@code AUTHORIZATIONFAILED}, or {@code null}
     */
    public void reject(String code, String text) {
        decide(Decision.reject(Status.NO, code, text));
    }

    /** The session ends with {@code * BYE text}. */
    public void disconnect(String text) {
        decide(Decision.disconnect(text));
    }
}
