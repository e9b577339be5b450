package io.postern.proxy.session;

import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where the file work of a held message runs: writing its literal and feeding it to the
 * inspectors (which keep decoded parts, spilling them to files too), reading it back, deleting
 * it. Each held message gets a {@link #serial()} queue over one shared pool of daemon threads, so
 * its tasks run in order, one at a time, and a slow disk stalls that message, not the event loop
 * and every other session on it.
 *
 * <p>Threading: {@link #serial()} may be called from any thread; each queue's tasks run on pool
 * threads, in submission order, each seeing what the one before it did.
 */
final class SpillIo {

    private static final Logger log = LoggerFactory.getLogger(SpillIo.class);

    /** Threads doing file work for all sessions at most; more held messages wait their turn. */
    static final int THREADS = 8;

    /** Bytes of a literal handed to its queue and not yet written: beyond this the session stops reading that side. */
    static final int MAX_QUEUED = 1024 * 1024;

    private static final AtomicInteger THREAD_IDS = new AtomicInteger();

    private static final ThreadPoolExecutor POOL = pool();

    private static ThreadPoolExecutor pool() {
        ThreadPoolExecutor p = new ThreadPoolExecutor(THREADS, THREADS, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "postern-spill-" + THREAD_IDS.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        p.allowCoreThreadTimeOut(true);
        return p;
    }

    private SpillIo() {}

    /** A new queue for one held message. */
    static Executor serial() {
        return new Serial(POOL);
    }

    /** A queue over {@code pool}, for tests that hold the pool back. */
    static Executor serial(Executor pool) {
        return new Serial(pool);
    }

    private static final class Serial implements Executor {
        private final Executor pool;
        private final ArrayDeque<Runnable> tasks = new ArrayDeque<>();
        private boolean running;

        Serial(Executor pool) {
            this.pool = pool;
        }

        @Override
        public void execute(Runnable task) {
            synchronized (tasks) {
                tasks.add(task);
                if (running) {
                    return;
                }
                running = true;
            }
            pool.execute(this::drain);
        }

        private void drain() {
            for (;;) {
                Runnable next;
                synchronized (tasks) {
                    next = tasks.poll();
                    if (next == null) {
                        running = false;
                        return;
                    }
                }
                try {
                    next.run();
                } catch (RuntimeException e) {
                    log.warn("a held message's file task failed", e);
                }
            }
        }
    }
}
