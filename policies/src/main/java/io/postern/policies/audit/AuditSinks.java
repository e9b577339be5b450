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
 * The open audit sinks of this process, one per file and one per syslog receiver: policies made
 * at start and at each reload that name the same file (or receiver) share one sink (and one
 * chain). A reload that changes a sink's settings closes it (everything accepted is written)
 * and opens a new one, which goes on with the chain (a file's; a syslog sink starts a new one);
 * sessions holding the old policy write to the new sink through the shared reference.
 */
public final class AuditSinks {

    private static final Map<String, AtomicReference<AuditSink>> SINKS = new ConcurrentHashMap<>();

    private AuditSinks() {}

    /** The sink for {@code settings.file()}, opened or reopened as needed. */
    public static synchronized AtomicReference<AuditSink> open(AuditFileSink.Settings settings) throws IOException {
        Path key = settings.file().toAbsolutePath().normalize();
        AtomicReference<AuditSink> ref = SINKS.computeIfAbsent("file:" + key, k -> new AtomicReference<>());
        AuditSink current = ref.get();
        if (current instanceof AuditFileSink f && !f.isClosed() && same(f.settings(), settings)) {
            return ref;
        }
        if (current != null) {
            current.close();
        }
        ref.set(new AuditFileSink(settings));
        return ref;
    }

    /** The sink for the receiver {@code settings.target()}, made or remade as needed. */
    public static synchronized AtomicReference<AuditSink> open(AuditSyslogSink.Settings settings) throws IOException {
        AtomicReference<AuditSink> ref = SINKS.computeIfAbsent(settings.target(), k -> new AtomicReference<>());
        AuditSink current = ref.get();
        if (current instanceof AuditSyslogSink s && !s.isClosed() && s.settings().same(settings)) {
            return ref;
        }
        if (current != null) {
            current.close();
        }
        ref.set(new AuditSyslogSink(settings));
        return ref;
    }

    /** Every sink open now (for metrics and the admin status). */
    public static List<AuditSink> all() {
        return SINKS.values().stream().map(AtomicReference::get).filter(Objects::nonNull).filter(s -> !s.isClosed()).toList();
    }

    /** Closes every sink, writing what each accepted (at shutdown). */
    public static synchronized void closeAll() {
        SINKS.values().forEach(r -> {
            AuditSink s = r.get();
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
