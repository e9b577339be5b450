package io.postern.policies.audit;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The open audit file sinks of this process, one per file: policies made at start and at each
 * reload that name the same file share one sink (and one chain). A reload that changes a
 * file's settings closes its sink (everything accepted is written) and opens a new one, which
 * goes on with the chain; sessions holding the old policy write to the new sink through the
 * shared reference.
 */
public final class AuditSinks {

    private static final Map<Path, AtomicReference<AuditFileSink>> SINKS = new ConcurrentHashMap<>();

    private AuditSinks() {}

    /** The sink for {@code settings.file()}, opened or reopened as needed. */
    public static synchronized AtomicReference<AuditFileSink> open(AuditFileSink.Settings settings) throws IOException {
        Path key = settings.file().toAbsolutePath().normalize();
        AtomicReference<AuditFileSink> ref = SINKS.computeIfAbsent(key, k -> new AtomicReference<>());
        AuditFileSink current = ref.get();
        if (current != null && !current.isClosed() && same(current.settings(), settings)) {
            return ref;
        }
        if (current != null) {
            current.close();
        }
        ref.set(new AuditFileSink(settings));
        return ref;
    }

    /** Every sink open now (for metrics and the admin status). */
    public static List<AuditFileSink> all() {
        return SINKS.values().stream().map(AtomicReference::get).filter(Objects::nonNull).filter(s -> !s.isClosed()).toList();
    }

    /** Closes every sink, writing and forcing what each accepted (at shutdown). */
    public static synchronized void closeAll() {
        SINKS.values().forEach(r -> {
            AuditFileSink s = r.get();
            if (s != null) {
                s.close();
            }
        });
    }

    private static boolean same(AuditFileSink.Settings a, AuditFileSink.Settings b) {
        return Arrays.equals(a.key(), b.key()) && a.fsyncInterval().equals(b.fsyncInterval())
                && a.queueCapacity() == b.queueCapacity() && a.whenFull() == b.whenFull() && a.maxSize() == b.maxSize()
                && a.maxAge().equals(b.maxAge());
    }
}
