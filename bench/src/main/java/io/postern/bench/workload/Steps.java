package io.postern.bench.workload;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.IntFunction;

/**
 * Runs asynchronous steps one after another without a thread waiting between them: step i+1
 * starts from the completion of step i (on the connection's event loop), until {@code count}
 * steps ran or the deadline passed. Keeps the driver's own thread hand-offs out of latencies.
 */
final class Steps {

    private Steps() {}

    /** Completes with the number of steps that completed, or exceptionally with the first failure. */
    static CompletableFuture<Integer> repeat(Executor loop, int count, long deadlineNanos, IntFunction<CompletableFuture<?>> step) {
        CompletableFuture<Integer> done = new CompletableFuture<>();
        new Object() {
            int i;

            void next() {
                if (i >= count || System.nanoTime() >= deadlineNanos) {
                    done.complete(i);
                    return;
                }
                CompletableFuture<?> f;
                try {
                    f = step.apply(i);
                } catch (RuntimeException e) {
                    done.completeExceptionally(e);
                    return;
                }
                f.whenComplete((v, e) -> {
                    if (e != null) {
                        done.completeExceptionally(e);
                    } else {
                        i++;
                        next();
                    }
                });
            }

            void start() {
                loop.execute(this::next);
            }
        }.start();
        return done;
    }
}
