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
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
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
 *   events: [login, command]     # login: connect, login, login_failed, logout, close; command: each completed command
 *   commands: [FETCH, STORE]     # optional: only these commands (UID forms included)
 *   fsync: each                  # or a duration: force at most this long after a record
 *   queue: 10000
 *   when_full: block             # block | drop | fail-closed
 *   rotate: { max_size: 100MiB, max_age: 1d }
 *   syslog:                      # optional, with or instead of file: RFC 5424 over TCP or TLS
 *     host: 127.0.0.1
 *     port: 6514
 *     tls: true
 *     ca: /etc/postern/syslog-ca.pem
 *     server_name: logs.example.com
 *     app_name: postern
 *     facility: authpriv
 *     hostname: imap-gw-1
 * }</pre>
 *
 * <p>Give it a small {@code order} (e.g. {@code -100}) so it runs before policies that refuse
 * commands: it reads each command's arguments in its command hook, and refuses nothing there
 * except in {@code fail-closed} mode while a sink is unavailable.
 */
public final class AuditPolicyFactory implements PolicyFactory {

    public static final Set<String> KEYS = Set.of("file", "key_file", "events", "commands", "fsync", "queue", "when_full", "rotate",
            "syslog");
    public static final Set<String> ROTATE_KEYS = Set.of("max_size", "max_age");
    public static final Set<String> SYSLOG_KEYS = Set.of("host", "port", "tls", "ca", "server_name", "app_name", "facility",
            "hostname");
    static final Set<String> EVENTS = Set.of("login", "command");

    @Override
    public String type() {
        return "audit";
    }

    @Override
    public Policy create(String name, PolicySettings s) throws PolicyConfigException {
        s.requireKeys(KEYS);
        String file = s.get("file").string(null);
        if (s.get("syslog").isMissing() && (file == null || file.isBlank())) {
            throw s.get("file").error("required (the audit log file), unless syslog is given");
        }
        if (file != null && file.isBlank()) {
            throw s.get("file").error("must not be empty");
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
        AuditSink.WhenFull whenFull;
        String mode = s.get("when_full").string("block");
        try {
            whenFull = AuditSink.WhenFull.parse(mode);
        } catch (IllegalArgumentException e) {
            throw s.get("when_full").error("\"" + mode + "\" is not one of block, drop, fail-closed");
        }
        PolicySettings rotate = s.get("rotate").requireKeys(ROTATE_KEYS);
        long maxSize = rotate.get("max_size").size(0, 0, Long.MAX_VALUE);
        if (maxSize > 0 && maxSize < 4096) {
            throw rotate.get("max_size").error(maxSize + " (expected: 0 for never, or at least 4096 bytes)");
        }
        Duration maxAge = rotate.get("max_age").duration(Duration.ZERO, Duration.ZERO);
        AuditSyslogSink.Settings syslog = syslogSettings(s.get("syslog"), key, queue, whenFull);
        List<AtomicReference<AuditSink>> sinks = new ArrayList<>();
        if (file != null) {
            try {
                sinks.add(AuditSinks.open(new AuditFileSink.Settings(Path.of(file), key, fsync, queue, whenFull, maxSize, maxAge)));
            } catch (IOException e) {
                throw s.get("file").error("cannot be opened: " + e.getMessage());
            }
        }
        if (syslog != null) {
            try {
                sinks.add(AuditSinks.open(syslog));
            } catch (IOException e) {
                throw s.get("syslog").get("ca").error("cannot be read: " + e.getMessage());
            }
        }
        return new AuditPolicy(name, sinks, events.contains("login"), events.contains("command"), commands).build();
    }

    /** The {@code syslog} sub-tree, or {@code null} when absent. */
    static AuditSyslogSink.Settings syslogSettings(PolicySettings y, byte[] key, int queue, AuditSink.WhenFull whenFull)
            throws PolicyConfigException {
        if (y.isMissing()) {
            return null;
        }
        y.requireKeys(SYSLOG_KEYS);
        String host = y.get("host").string(null);
        if (host == null || host.isBlank()) {
            throw y.get("host").error("required (the syslog receiver's host name or address)");
        }
        boolean tls = y.get("tls").bool(false);
        int port = (int) y.get("port").integer(tls ? 6514 : 514, 1, 65535);
        String ca = y.get("ca").string(null);
        String serverName = y.get("server_name").string(null);
        if (!tls && ca != null) {
            throw y.get("ca").error("only with tls: true");
        }
        if (!tls && serverName != null) {
            throw y.get("server_name").error("only with tls: true");
        }
        if (ca != null && !Files.isReadable(Path.of(ca))) {
            throw y.get("ca").error("cannot be read: " + ca);
        }
        String appName = header(y.get("app_name"), "postern", 48);
        String facilityName = y.get("facility").string("authpriv").toLowerCase(Locale.ROOT);
        Integer facility = AuditSyslogSink.FACILITIES.get(facilityName);
        if (facility == null) {
            throw y.get("facility").error("\"" + facilityName + "\" is not a syslog facility (expected: one of "
                    + AuditSyslogSink.FACILITIES.keySet().stream().sorted().collect(Collectors.joining(", ")) + ")");
        }
        String hostname = header(y.get("hostname"), localHostName(), 255);
        return new AuditSyslogSink.Settings(host, port, tls, ca == null ? null : Path.of(ca), serverName, appName, facility,
                hostname, key, queue, whenFull);
    }

    /** An RFC 5424 header field: printable US-ASCII without spaces, at most {@code max} characters. */
    private static String header(PolicySettings node, String fallback, int max) throws PolicyConfigException {
        String v = node.string(fallback);
        if (v.isEmpty() || v.length() > max || !v.chars().allMatch(c -> c >= 33 && c <= 126)) {
            throw node.error("\"" + v + "\" (expected: 1 to " + max + " printable US-ASCII characters, no spaces)");
        }
        return v;
    }

    private static String localHostName() {
        try {
            String h = InetAddress.getLocalHost().getHostName();
            return h.isEmpty() || h.length() > 255 || !h.chars().allMatch(c -> c >= 33 && c <= 126) ? "-" : h;
        } catch (IOException e) {
            return "-";
        }
    }

    /** One configured audit policy: its sinks and the per-session state of the sessions it is selected for. */
    static final class AuditPolicy {
        /** The most sessions remembered as having their connect record written without having logged in. */
        private static final int CONNECTS_REMEMBERED = 10_000;

        private final String name;
        private final List<AtomicReference<AuditSink>> sinks;
        private final boolean logins;
        private final boolean commands;
        private final Set<String> only;
        private final Map<String, SessionState> sessions = new ConcurrentHashMap<>();
        /** Sessions whose connect record was written (failed logins included), oldest first, bounded. */
        private final Set<String> connectWritten = Collections.synchronizedSet(Collections.newSetFromMap(
                new LinkedHashMap<>(64, 0.75f, false) {
                    @Override
                    protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
                        return size() > CONNECTS_REMEMBERED;
                    }
                }));

        AuditPolicy(String name, List<AtomicReference<AuditSink>> sinks, boolean logins, boolean commands, Set<String> only) {
            this.name = name;
            this.sinks = List.copyOf(sinks);
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
                b.onLoginFailed((session, reason) -> {
                    connect(session);
                    write(event("login_failed", session).put("reason", reason));
                });
            }
            boolean failClosed = sinks.stream().anyMatch(r -> r.get().whenFull() == AuditSink.WhenFull.FAIL_CLOSED);
            if (commands || failClosed) {
                b.onCommand(this::command);
            }
            if (commands) {
                b.onUntagged(Set.of("EXPUNGE", "VANISHED", "FETCH", "OK"),
                        (session, keyword, number, data) -> state(session).untagged(keyword, number, data));
                if (audited("EXPUNGE") || audited("CLOSE")) {
                    b.wantsDeletedUids();
                }
            }
            if (commands || logins) {
                b.onCompleted(this::completed);
            }
            return b.build();
        }

        private SessionState state(SessionInfo session) {
            return sessions.computeIfAbsent(session.sessionId(), k -> new SessionState());
        }

        /** The session's connect record, once, in front of its first login or failed login. */
        private void connect(SessionInfo session) {
            if (connectWritten.add(session.sessionId())) {
                AuditEvent e = event("connect", session.connectedAt() != null ? session.connectedAt() : Instant.now(), session)
                        .put("tls_protocol", session.tlsProtocol())
                        .put("tls_cipher", session.tlsCipher());
                write(e);
            }
        }

        private void login(SessionInfo session, LoginVerdict verdict) {
            connect(session);
            write(event("login", session));
            verdict.proceed();
        }

        private void command(SessionInfo session, Command command, CommandVerdict verdict) {
            if (!command.name().equals("LOGOUT")) {
                for (AtomicReference<AuditSink> r : sinks) {
                    AuditSink s = r.get();
                    if (s.whenFull() == AuditSink.WhenFull.FAIL_CLOSED && !s.available()) {
                        s.refusedCommand();
                        verdict.no("UNAVAILABLE", "The audit log is unavailable; try again later.");
                        return;
                    }
                }
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
            if (commands && audited(c.command())) {
                SessionState st = state(session);
                AuditEvent e = event("command", session);
                st.completed(c, e);
                write(e);
            }
            if (logins && c.command().equals("LOGOUT") && !c.byPostern()) {
                write(event("logout", session).put("status", c.status()));
            }
        }

        private void closed(SessionInfo session, CloseReason reason) {
            SessionState st = sessions.remove(session.sessionId());
            connectWritten.remove(session.sessionId());
            if (logins && session.loggedIn()) {
                write(event("close", session).put("reason", reason.name().toLowerCase(Locale.ROOT))
                        .put("bytes_from_client", st == null ? 0 : st.bytesFromClient)
                        .put("bytes_to_client", st == null ? 0 : st.bytesToClient)
                        .put("commands", st == null ? 0 : st.completedCommands));
            }
        }

        private static AuditEvent event(String type, SessionInfo s) {
            return event(type, Instant.now(), s);
        }

        private static AuditEvent event(String type, Instant at, SessionInfo s) {
            return AuditEvent.of(type, at)
                    .put("session", s.sessionId())
                    .put("user", s.user())
                    .put("client", s.clientAddress() == null ? null : s.clientAddress().getHostAddress())
                    .put("listener", s.listener())
                    .put("tls", s.tls())
                    .put("mechanism", s.mechanism())
                    .put("backend", s.backend());
        }

        private void write(AuditEvent e) {
            for (AtomicReference<AuditSink> r : sinks) {
                r.get().offer(e);
            }
        }
    }
}
