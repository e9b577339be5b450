package io.postern.policies;

/**
 * The output of a {@link ResponsePolicy}: pass the response on or drop it. Exactly one decisive
 * call; responses are decided synchronously (no {@link #async}), since the responses behind
 * this one cannot be held without bound.
 */
public final class ResponseVerdict extends Verdict {

    /** The response goes on to the client (and to the next policy). */
    public void proceed() {
        decide(Decision.PROCEED);
    }

    @Override
    protected boolean asyncAllowed() {
        return false;
    }

    /** The response is not passed on. Only untagged data responses may be dropped. */
    public void drop() {
        decide(Decision.DROP);
    }
}
