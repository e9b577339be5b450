package io.postern.imap.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import io.netty.util.ResourceLeakTracker;
import java.lang.ref.Reference;
import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test when Netty's leak detector reports a resource (a {@link ByteBuf}, mostly) that was
 * garbage collected without being released.
 *
 * <p>The extension is registered for every test of a module by JUnit's extension auto-detection:
 * {@code META-INF/services/org.junit.jupiter.api.extension.Extension} names it and
 * {@code junit-platform.properties} turns auto-detection on. Both files are in this module's
 * test-jar, so a module that has the test-jar on its test class path gets the check too.
 *
 * <p>How it works: loading this class installs a {@link ResourceLeakDetectorFactory} whose
 * detectors record every leak report instead of logging it, and sets Netty's detection level to
 * {@link ResourceLeakDetector.Level#PARANOID} (every buffer tracked) when it is lower. After each
 * test, {@link #collectLeaks()} runs the garbage collector until it has surely processed what the
 * test dropped, then allocates a tracked buffer: in Netty a detector looks at the collected,
 * unreleased resources only when it tracks a new one. A recorded report fails the test. The
 * detectors also count the resources tracked and not yet released: when there are none, nothing
 * can have leaked and the check skips the collection (a full collection costs tens of
 * milliseconds, and most tests release everything).
 *
 * <p>Netty creates the {@code ByteBuf} detector once, when its buffer classes are initialised, so
 * the factory must be installed before any test touches a buffer. Auto-detection loads this class
 * before the first test class runs; {@link #collectLeaks()} fails when the {@code ByteBuf}
 * detector turns out to come from somewhere else, rather than passing without looking.
 *
 * <p>A leak is reported after the test that made it at the latest, possibly after a later test
 * whose own allocations triggered the report; the report's access records name the code.
 */
public final class LeakDetectionExtension implements AfterEachCallback {

    private static final Queue<String> LEAKS = new ConcurrentLinkedQueue<>();
    private static final Set<Class<?>> DETECTED_TYPES = ConcurrentHashMap.newKeySet();
    private static final AtomicInteger AFTER_EACH_CALLS = new AtomicInteger();
    /** Resources tracked and not released (nor reported as leaked: a leak stays counted). */
    private static final AtomicLong UNRELEASED = new AtomicLong();
    /** How long one garbage collection may take to reach the reference queues. */
    private static final long COLLECTION_WAIT_MILLIS = 100;
    private static final int MAX_COLLECTIONS = 20;

    static {
        ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new RecordingFactory());
        if (ResourceLeakDetector.getLevel().compareTo(ResourceLeakDetector.Level.PARANOID) < 0) {
            ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        }
    }

    @Override
    public void afterEach(ExtensionContext context) {
        AFTER_EACH_CALLS.incrementAndGet();
        assertNoLeaks(context.getDisplayName());
    }

    /**
     * The check that runs after each test: fails when {@link #collectLeaks()} finds anything. Skips
     * the garbage collection when every tracked resource has been released.
     */
    public static void assertNoLeaks(String testName) {
        checkInstalled();
        List<String> leaks = UNRELEASED.get() > 0 ? collectLeaks() : recordedLeaks();
        if (!leaks.isEmpty()) {
            throw new AssertionError(leaks.size() + " leak(s) reported by Netty during or before "
                    + testName + ":\n" + String.join("\n", leaks));
        }
    }

    /** How many tests this extension has checked so far in this JVM. */
    static int afterEachCalls() {
        return AFTER_EACH_CALLS.get();
    }

    /**
     * Makes Netty report what was collected without being released, and returns (and forgets) the
     * reports recorded since the last call: one entry per leak, the resource type and its records.
     */
    public static List<String> collectLeaks() {
        // Two collections: the reference handler enqueues the references of one collection before
        // it starts on those of the next, so after the second sentinel all of the first are queued.
        awaitCollection();
        awaitCollection();
        checkInstalled();
        return recordedLeaks();
    }

    /** Allocates a tracked buffer (which also lets the ByteBuf detector report) and checks whose detector saw it. */
    private static void checkInstalled() {
        ByteBufAllocator.DEFAULT.buffer(1).release();
        if (!DETECTED_TYPES.contains(ByteBuf.class)) {
            throw new IllegalStateException("Netty's ByteBuf leak detector was created before "
                    + LeakDetectionExtension.class.getSimpleName() + " was installed; leaks would go unseen");
        }
    }

    private static List<String> recordedLeaks() {
        List<String> leaks = new ArrayList<>();
        for (String leak; (leak = LEAKS.poll()) != null; ) {
            leaks.add(leak);
        }
        return leaks;
    }

    private static void awaitCollection() {
        ReferenceQueue<Object> queue = new ReferenceQueue<>();
        WeakReference<Object> sentinel = new WeakReference<>(new Object(), queue);
        try {
            for (int i = 0; i < MAX_COLLECTIONS; i++) {
                System.gc();
                if (queue.remove(COLLECTION_WAIT_MILLIS) != null) {
                    return;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a garbage collection", e);
        } finally {
            Reference.reachabilityFence(sentinel);
        }
        throw new IllegalStateException("no garbage collection after " + MAX_COLLECTIONS + " calls to System.gc()");
    }

    private static final class RecordingFactory extends ResourceLeakDetectorFactory {

        @Override
        public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource, int samplingInterval) {
            DETECTED_TYPES.add(resource);
            return new RecordingLeakDetector<>(resource, samplingInterval);
        }

        @Override
        @SuppressWarnings("deprecation")
        public <T> ResourceLeakDetector<T> newResourceLeakDetector(
                Class<T> resource, int samplingInterval, long maxActive) {
            return newResourceLeakDetector(resource, samplingInterval);
        }
    }

    private static final class RecordingLeakDetector<T> extends ResourceLeakDetector<T> {

        RecordingLeakDetector(Class<?> resourceType, int samplingInterval) {
            super(resourceType, samplingInterval);
        }

        @Override
        public ResourceLeakTracker<T> track(T obj) {
            return counted(super.track(obj));
        }

        @Override
        public ResourceLeakTracker<T> trackForcibly(T obj) {
            return counted(super.trackForcibly(obj));
        }

        private ResourceLeakTracker<T> counted(ResourceLeakTracker<T> tracker) {
            if (tracker == null) {
                return null;
            }
            UNRELEASED.incrementAndGet();
            return new CountingTracker<>(tracker);
        }

        /** Report whatever the logging configuration says: the report fails the test, it is not logged. */
        @Override
        protected boolean needReport() {
            return true;
        }

        @Override
        protected void reportTracedLeak(String resourceType, String records) {
            LEAKS.add("LEAK: " + resourceType + " released neither by the test nor by the code it ran." + records);
        }

        @Override
        protected void reportUntracedLeak(String resourceType) {
            LEAKS.add("LEAK: " + resourceType + " released neither by the test nor by the code it ran"
                    + " (no access records)");
        }
    }

    /** Counts the release of a tracked resource; everything else goes to Netty's tracker. */
    private static final class CountingTracker<T> implements ResourceLeakTracker<T> {

        private final ResourceLeakTracker<T> tracker;

        CountingTracker(ResourceLeakTracker<T> tracker) {
            this.tracker = tracker;
        }

        @Override
        public void record() {
            tracker.record();
        }

        @Override
        public void record(Object hint) {
            tracker.record(hint);
        }

        @Override
        public boolean close(T trackedObject) {
            boolean closed = tracker.close(trackedObject);
            if (closed) {
                UNRELEASED.decrementAndGet();
            }
            return closed;
        }

        @Override
        public Throwable getCloseStackTraceIfAny() {
            return tracker.getCloseStackTraceIfAny();
        }
    }
}
