package io.postern.policies.audit;

import io.postern.policies.CloseReason;
import io.postern.policies.Command;
import io.postern.policies.CommandCompletion;
import io.postern.policies.CommandVerdict;
import io.postern.policies.LoginVerdict;
import io.postern.policies.Policy;
import io.postern.policies.PolicyConfigException;
import io.postern.policies.PolicyFactory;
import io.postern.policies.PolicySettings;
import io.postern.policies.SessionInfo;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

/**
 * The {@code audit} policy: writes a tamper-evident record of the logins and commands of the
 * users it is selected for (see the README's "Audit" section for the schema).
 *
 * <pre>{@code
 * audit:
 *   file: /var/log/postern/audit.log
 *   key_file: /etc/postern/audit.key
 *   events: [login, command]     # login: login, login_failed, close; command: each completed command
 *   commands: [FETCH, STORE]     # optional: only these commands (UID forms included)
 *   fsync: each                  # or a duration: force at most this long after a record
 *   queue: 10000
 *   when_full: block             # block | drop | fail-closed
 *   rotate: { max_size: 100MiB, max_age: 1d }
 * }</pre>
 *
 * <p>Give it a small {@code order} (e.g. {@code -100}) so it runs before policies that refuse
 * commands: it reads each command's arguments in its command hook, and refuses nothing there
 * except in {@code fail-closed} mode while the sink is unavailable.
 */
public final class AuditPolicyFactory implements PolicyFactory {

    public static final Set<String> KEYS = Set.of("file", "key_file", "events", "commands", "fsync", "queue", "when_full", "rotate");
    public static final Set<String> ROTATE_KEYS = Set.of("max_size", "max_age");
    static final Set<String> EVENTS = Set.of("login", "command");

    @Override
    public String type() {
        return "audit";
    }

    @Override
    public Policy create(String name, PolicySettings s) throws PolicyConfigException {
        s.requireKeys(KEYS);
        String file = s.get("file").string(null);
        if (file == null || file.isBlank()) {
            throw s.get("file").error("required (the audit log file)");
        }
        String keyFile = s.get("key_file").string(null);
        if (keyFile == null || keyFile.isBlank()) {
            throw s.get("key_file").error("required (a file holding the HMAC key, at least " + AuditChain.MIN_KEY_BYTES + " bytes)");
        }
        byte[] key;
        try {
            key = AuditChain.readKey(Path.of(keyFile));
        } catch (IOException e) {
            throw s.get("key_file").error("cannot be read: " + e.getMessage());
        }
        List<String> events = s.get("events").isMissing() ? List.of("login", "command") : s.get("events").strings();
        for (String e : events) {
            if (!EVENTS.contains(e)) {
                throw s.get("events").error("\"" + e + "\" is not one of login, command");
            }
        }
        Set<String> commands = s.get("commands").strings().stream().map(c -> c.toUpperCase(Locale.ROOT).trim())
                .collect(Collectors.toUnmodifiableSet());
        Duration fsync;
        String f = s.get("fsync").string("each");
        if (f.equals("each")) {
            fsync = Duration.ZERO;
        } else {
            fsync = s.get("fsync").duration(Duration.ZERO, Duration.ofMillis(1));
        }
        int queue = (int) s.get("queue").integer(10_000, 1, 10_000_000);
        AuditFileSink.WhenFull whenFull;
        String mode = s.get("when_full").string("block");
        try {
            whenFull = AuditFileSink.WhenFull.parse(mode);
        } catch (IllegalArgumentException e) {
            throw s.get("when_full").error("\"" + mode + "\" is not one of block, drop, fail-closed");
        }
        PolicySettings rotate = s.get("rotate").requireKeys(ROTATE_KEYS);
        long maxSize = rotate.get("max_size").size(0, 0, Long.MAX_VALUE);
        if (maxSize > 0 && maxSize < 4096) {
            throw rotate.get("max_size").error(maxSize + " (expected: 0 for never, or at least 4096 bytes)");
        }
        Duration maxAge = rotate.get("max_age").duration(Duration.ZERO, Duration.ZERO);
        AtomicReference<AuditFileSink> sink;
        try {
            sink = AuditSinks.open(new AuditFileSink.Settings(Path.of(file), key, fsync, queue, whenFull, maxSize, maxAge));
        } catch (IOException e) {
            throw s.get("file").error("cannot be opened: " + e.getMessage());
        }
        return new AuditPolicy(name, sink, events.contains("login"), events.contains("command"), commands).build();
    }

    /** One configured audit policy: its sink and the per-session state of the sessions it is selected for. */
    static final class AuditPolicy {
        private final String name;
        private final AtomicReference<AuditFileSink> sink;
        private final boolean logins;
        private final boolean commands;
        private final Set<String> only;
        private final Map<String, SessionState> sessions = new ConcurrentHashMap<>();

        AuditPolicy(String name, AtomicReference<AuditFileSink> sink, boolean logins, boolean commands, Set<String> only) {
            this.name = name;
            this.sink = sink;
            this.logins = logins;
            this.commands = commands;
            this.only = only;
        }

        Policy build() {
            Policy.Builder b = Policy.builder(name);
            b.onTraffic((session, fromClient, bytes) -> state(session).traffic(fromClient, bytes));
            b.onClose(this::closed);
            if (logins) {
                b.onLogin(this::login);
                b.onLoginFailed((session, reason) -> write(event("login_failed", session).put("reason", reason)));
            }
            boolean failClosed = sink.get().settings().whenFull() == AuditFileSink.WhenFull.FAIL_CLOSED;
            if (commands || failClosed) {
                b.onCommand(this::command);
            }
            if (commands) {
                b.onUntagged(Set.of("EXPUNGE", "VANISHED", "FETCH", "OK"),
                        (session, keyword, number, data) -> state(session).untagged(keyword, number, data));
                b.onCompleted(this::completed);
            }
            return b.build();
        }

        private SessionState state(SessionInfo session) {
            return sessions.computeIfAbsent(session.sessionId(), k -> new SessionState());
        }

        private void login(SessionInfo session, LoginVerdict verdict) {
            write(event("login", session));
            verdict.proceed();
        }

        private void command(SessionInfo session, Command command, CommandVerdict verdict) {
            AuditFileSink s = sink.get();
            if (s.settings().whenFull() == AuditFileSink.WhenFull.FAIL_CLOSED && !s.available()
                    && !command.name().equals("LOGOUT")) {
                s.refusedCommand();
                verdict.no("UNAVAILABLE", "The audit log is unavailable; try again later.");
                return;
            }
            if (commands && audited(command.name())) {
                state(session).started(command);
            }
            verdict.proceed();
        }

        private boolean audited(String command) {
            return only.isEmpty() || only.contains(command) || (command.startsWith("UID ") && only.contains(command.substring(4)));
        }

        private void completed(SessionInfo session, CommandCompletion c) {
            if (!audited(c.command())) {
                return;
            }
            SessionState st = state(session);
            AuditEvent e = event("command", session);
            st.completed(c, e);
            write(e);
        }

        private void closed(SessionInfo session, CloseReason reason) {
            SessionState st = sessions.remove(session.sessionId());
            if (logins && session.loggedIn()) {
                write(event("close", session).put("reason", reason.name().toLowerCase(Locale.ROOT))
                        .put("bytes_from_client", st == null ? 0 : st.bytesFromClient)
                        .put("bytes_to_client", st == null ? 0 : st.bytesToClient)
                        .put("commands", st == null ? 0 : st.completedCommands));
            }
        }

        private static AuditEvent event(String type, SessionInfo s) {
            return AuditEvent.of(type, Instant.now())
                    .put("session", s.sessionId())
                    .put("user", s.user())
                    .put("client", s.clientAddress() == null ? null : s.clientAddress().getHostAddress())
                    .put("listener", s.listener())
                    .put("tls", s.tls())
                    .put("mechanism", s.mechanism())
                    .put("backend", s.backend());
        }

        private void write(AuditEvent e) {
            sink.get().offer(e);
        }
    }
}
