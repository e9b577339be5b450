package io.postern.proxy.config;

import io.netty.channel.WriteBufferWaterMark;
import java.util.Set;

/**
 * {@code io}: how Postern's connections are served. Read at start; a reload that changes it says
 * that a restart is needed.
 *
 * @param eventLoopThreads threads that serve the sessions (each session, both its connections,
 *     stays on one); 0 for one per available core
 * @param writeBufferLow a connection whose queued output falls to this many bytes is writable
 *     again, and the other side's reads resume
 * @param writeBufferHigh a connection with more output queued than this stops the reads of the
 *     side that feeds it (a slow client stops the backend's reads, and the other way round)
 */
public record IoConfig(int eventLoopThreads, int writeBufferLow, int writeBufferHigh) {

    static final Set<String> KEYS = Set.of("event_loop_threads", "write_buffer_low", "write_buffer_high");

    static final int DEFAULT_LOW = 64 * 1024;
    static final int DEFAULT_HIGH = 256 * 1024;

    public static IoConfig defaults() {
        return new IoConfig(0, DEFAULT_LOW, DEFAULT_HIGH);
    }

    static IoConfig read(ConfigNode n) throws ConfigException {
        n.requireMapping(KEYS);
        int threads = n.get("event_loop_threads").integer(0, 0, 1024);
        int low = n.get("write_buffer_low").integer(DEFAULT_LOW, 1024, 64 << 20);
        int high = n.get("write_buffer_high").integer(Math.max(DEFAULT_HIGH, low), 1024, 64 << 20);
        if (high < low) {
            throw n.get("write_buffer_high").error(high + " is below write_buffer_low (" + low + ")");
        }
        return new IoConfig(threads, low, high);
    }

    /** The event-loop threads to start: {@link #eventLoopThreads}, or the available cores for 0. */
    public int threads() {
        return eventLoopThreads > 0 ? eventLoopThreads : Runtime.getRuntime().availableProcessors();
    }

    public WriteBufferWaterMark waterMark() {
        return new WriteBufferWaterMark(writeBufferLow, writeBufferHigh);
    }
}
