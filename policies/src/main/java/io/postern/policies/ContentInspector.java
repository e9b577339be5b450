package io.postern.policies;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/**
 * Inspects one message as it streams: {@link #onData} for each chunk in order, then
 * {@link #onEnd} once; {@link #close} always, last (also when the message was abandoned halfway:
 * a client that disconnected mid-literal).
 *
 * <p>Threading: {@code onData}, {@code onEnd} and {@code close} are called on the session's event
 * loop and must not block for long (parsing is fine, network calls are not). The future of
 * {@code onEnd} may complete on any thread; the session hops back to its own. It must complete,
 * normally, within a bounded time (the inspector's own timeout); an exceptional completion is
 * taken as a refusal ({@code NO [UNAVAILABLE]}).
 */
public interface ContentInspector extends AutoCloseable {

    /** A chunk of the message; valid only during the call. */
    void onData(ByteBuffer chunk);

    /** The end of the message: its verdict, later. */
    CompletableFuture<ContentVerdict> onEnd();

    /**
     * Bytes of the message the session may hold in memory while the verdict is awaited; the
     * rest goes to a temporary file, deleted afterwards.
     */
    default int memoryThreshold() {
        return 1024 * 1024;
    }

    /** Where the session's temporary files for this message go; {@code null} for the JVM's temporary directory. */
    default java.nio.file.Path tempDirectory() {
        return null;
    }

    /** Releases what the inspection holds (temporary files); called once, after the verdict or instead of it. */
    @Override
    void close();
}
