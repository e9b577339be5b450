package io.postern.policies.engine;

import java.time.Duration;

/**
 * How the engine gets back onto a session's own thread. The proxy implements it with the
 * session's event loop; tests with a plain executor. Not part of the SPI policies see.
 */
public interface SessionThread {

    /** Runs {@code task} on the session's thread, soon (from any thread). */
    void execute(Runnable task);

    /** Runs {@code task} on the session's thread after {@code delay}; the result cancels it. */
    Cancellable schedule(Runnable task, Duration delay);

    /** A scheduled task that may be called off. */
    @FunctionalInterface
    interface Cancellable {
        void cancel();
    }
}
