package io.postern.policies;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * The output of one policy for one event: the policy makes exactly one decisive call on it
 * (the subclasses name them: {@code proceed()}, {@code reject(...)}, ...). A second decisive call
 * is a bug in the policy and throws {@link IllegalStateException}; so does returning from the
 * event method without deciding and without {@link #async}. The engine treats either as a
 * failure of the policy and refuses the event (fail closed).
 *
 * <p><b>Asynchronous decisions.</b> A policy that must ask something slow (a directory, a
 * service) calls {@link #async(Duration, TimeoutFallback)} before returning, and makes its one
 * decisive call later, from any thread. Meanwhile the session waits: nothing more from the
 * client is read or relayed. If no decision comes within the timeout, the fallback applies and
 * a decision made after that is ignored. Whatever thread decides, the engine carries the
 * decision out on the session's own thread; a policy never needs an executor of Postern's.
 *
 * <p>Thread-safety: the decisive calls may come from any thread; a verdict is used for one
 * event of one session only.
 */
public abstract class Verdict {

    private Decision decision;
    private boolean asynchronous;
    private boolean expired;
    private Duration timeout;
    private TimeoutFallback fallback;
    private Consumer<Decision> listener;

    protected Verdict() {}

    /**
     * Lets the decision come later, from any thread, within {@code timeout}; after that
     * {@code fallback} applies. Called at most once, before deciding.
     *
     * @throws IllegalStateException if already decided or already asynchronous
     */
    public final synchronized void async(Duration timeout, TimeoutFallback fallback) {
        Objects.requireNonNull(fallback, "fallback");
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout: " + timeout + " (expected: more than zero)");
        }
        if (!asyncAllowed()) {
            throw new IllegalStateException(getClass().getSimpleName() + " is decided synchronously");
        }
        if (decision != null) {
            throw new IllegalStateException("async() after the verdict was decided (" + decision + ")");
        }
        if (asynchronous) {
            throw new IllegalStateException("async() called twice");
        }
        asynchronous = true;
        this.timeout = timeout;
        this.fallback = fallback;
    }

    /** Whether {@link #async} may be used for this kind of event. */
    protected boolean asyncAllowed() {
        return true;
    }

    /** The one decisive call funnels through here. */
    protected final void decide(Decision d) {
        Consumer<Decision> notify;
        synchronized (this) {
            if (decision != null) {
                throw new IllegalStateException("verdict decided twice: " + decision + ", then " + d
                        + " (a policy makes exactly one decisive call)");
            }
            if (expired) {
                return; // too late: the fallback was applied and the session went on
            }
            decision = d;
            notify = listener;
        }
        if (notify != null) {
            notify.accept(d);
        }
    }

    // ------------------------------------------------------------ for the engine

    /** The decision, or {@code null} while none was made. */
    public final synchronized Decision decision() {
        return decision;
    }

    public final synchronized boolean isAsync() {
        return asynchronous;
    }

    public final synchronized Duration timeout() {
        return timeout;
    }

    public final synchronized TimeoutFallback fallback() {
        return fallback;
    }

    /**
     * For the engine: calls {@code onDecision} once with the decision, at once when it was made
     * already, otherwise on the thread that makes it.
     */
    public final void whenDecided(Consumer<Decision> onDecision) {
        Decision now;
        synchronized (this) {
            now = decision;
            if (now == null) {
                listener = onDecision;
                return;
            }
        }
        onDecision.accept(now);
    }

    /**
     * For the engine: the timeout passed. Returns {@code true} when no decision had been made, so
     * the fallback applies and any later decision is ignored.
     */
    public final synchronized boolean expire() {
        if (decision != null) {
            return false;
        }
        expired = true;
        return true;
    }
}
