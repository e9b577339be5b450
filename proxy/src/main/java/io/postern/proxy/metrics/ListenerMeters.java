package io.postern.proxy.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The meters of one listener, as its sessions count them: connections open and ended, logins,
 * commands. Counters are found in arrays and a map of command names filled once, so a completed
 * command costs a map read and two adders, never a registry lookup. Thread-safe.
 */
public final class ListenerMeters {

    /** The command names counted under their own name; every other one counts as {@code other}. */
    static final Set<String> KNOWN_COMMANDS = Set.of(
            "CAPABILITY", "NOOP", "LOGOUT", "ID", "STARTTLS", "LOGIN", "AUTHENTICATE", "ENABLE", "SELECT", "EXAMINE",
            "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "LIST", "LSUB", "NAMESPACE", "STATUS", "APPEND",
            "IDLE", "CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY", "MOVE", "UID FETCH",
            "UID STORE", "UID COPY", "UID MOVE", "UID SEARCH", "UID EXPUNGE", "UID SORT", "UID THREAD", "SORT", "THREAD",
            "GETQUOTA", "GETQUOTAROOT", "SETQUOTA", "GETACL", "SETACL", "DELETEACL", "LISTRIGHTS", "MYRIGHTS",
            "GETMETADATA", "SETMETADATA", "NOTIFY", "COMPRESS", "ESEARCH", "XLIST", "UNAUTHENTICATE");

    static final String OTHER = "other";
    private static final String[] STATUSES = {"OK", "NO", "BAD", OTHER};

    private final PosternMetrics metrics;
    private final String listener;
    private final AtomicInteger active = new AtomicInteger();
    private final Counter[] sessions = new Counter[PosternMetrics.SessionOutcome.values().length];
    /** By mechanism (0 LOGIN, 1 PLAIN), then result. */
    private final Counter[][] logins = new Counter[2][PosternMetrics.LoginResult.values().length];
    private final Map<String, CommandMeters> commands = new ConcurrentHashMap<>();
    private final CommandMeters other;

    ListenerMeters(PosternMetrics metrics, String listener) {
        this.metrics = metrics;
        this.listener = listener;
        metrics.gauge(PosternMeter.SESSIONS_ACTIVE, active::get, listener);
        for (PosternMetrics.SessionOutcome o : PosternMetrics.SessionOutcome.values()) {
            sessions[o.ordinal()] = metrics.counter(PosternMeter.SESSIONS, listener, o.tag);
        }
        String[] mechanisms = {"login", "plain"};
        for (int m = 0; m < mechanisms.length; m++) {
            for (PosternMetrics.LoginResult r : PosternMetrics.LoginResult.values()) {
                logins[m][r.ordinal()] = metrics.counter(PosternMeter.LOGINS, listener, mechanisms[m], r.tag);
            }
        }
        other = new CommandMeters(OTHER);
    }

    /** A client connection was accepted (and not refused by a limit). */
    public void opened() {
        active.incrementAndGet();
    }

    /** A connection that {@link #opened()} ended. */
    public void closed(PosternMetrics.SessionOutcome outcome) {
        active.decrementAndGet();
        sessions[outcome.ordinal()].increment();
    }

    /** A connection refused by a connection limit ended (it never counted as open). */
    public void refused(PosternMetrics.Limit limit) {
        sessions[PosternMetrics.SessionOutcome.REFUSED.ordinal()].increment();
        metrics.limitRefused(limit);
    }

    /** A login was answered; {@code mechanism} is {@code LOGIN} or {@code PLAIN} (others never reach a backend). */
    public void login(String mechanism, PosternMetrics.LoginResult result) {
        logins["PLAIN".equals(mechanism) ? 1 : 0][result.ordinal()].increment();
    }

    /**
     * A tagged command completed.
     *
     * @param command the command name as parsed (upper case)
     * @param status the tagged status ({@code OK}, {@code NO}, {@code BAD})
     * @param posternNanos time from its first line to its forwarding (or to Postern's answer)
     * @param backendNanos time from its forwarding to the backend's completion; negative when it never went there
     */
    public void commandCompleted(String command, String status, long posternNanos, long backendNanos) {
        CommandMeters c = commands.get(command);
        if (c == null) {
            c = KNOWN_COMMANDS.contains(command) ? commands.computeIfAbsent(command, CommandMeters::new) : other;
        }
        c.completed(status, posternNanos, backendNanos);
    }

    /** The counters of one command name on this listener, and its (server-wide) stage timers. */
    private final class CommandMeters {
        private final String name;
        private final Counter[] byStatus = new Counter[STATUSES.length];
        private final Timer postern;
        private final Timer backend;

        CommandMeters(String name) {
            this.name = name;
            Timer[] t = metrics.commandTimers(name);
            this.postern = t[0];
            this.backend = t[1];
        }

        void completed(String status, long posternNanos, long backendNanos) {
            int i = switch (status) {
                case "OK" -> 0;
                case "NO" -> 1;
                case "BAD" -> 2;
                default -> 3;
            };
            Counter c = byStatus[i];
            if (c == null) {
                c = metrics.counter(PosternMeter.COMMANDS, listener, name, STATUSES[i]);
                byStatus[i] = c; // a racing writer stores the same instance: the registry hands out one per id
            }
            c.increment();
            postern.record(Math.max(0, posternNanos), TimeUnit.NANOSECONDS);
            if (backendNanos >= 0) {
                backend.record(backendNanos, TimeUnit.NANOSECONDS);
            }
        }
    }
}
