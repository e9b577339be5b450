package io.postern.proxy.metrics;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tags;
import java.util.List;
import java.util.Locale;

/**
 * The catalogue of Postern's own meters: every meter Postern registers is made from one of these
 * constants, with exactly its tag keys, so this enum is the one place that names them. The
 * README's metrics table is generated from it ({@link #markdownTable()}) and a test keeps the
 * two equal.
 *
 * <p>Tags are bounded: listener, backend, policy and certificate names come from the
 * configuration; commands are the known IMAP commands or {@code other}; everything else is a
 * fixed set of words listed in the description. No meter is tagged by user, mailbox or client
 * address.
 */
public enum PosternMeter {

    SESSIONS_ACTIVE("postern.sessions.active", Meter.Type.GAUGE, null,
            "Client connections open now.", "listener"),
    SESSIONS("postern.sessions", Meter.Type.COUNTER, null,
            "Client connections ended, by how: `logout`, `client_closed`, `backend_closed`, `postern_closed` "
                    + "(timeouts, limits, shutdown, admin), `refused` (connection limits), `tls_failed`.",
            "listener", "outcome"),
    LOGINS("postern.logins", Meter.Type.COUNTER, null,
            "Logins answered, by `mechanism` (`login`, `plain`) and `result`: `ok`, `failed` (credentials refused), "
                    + "`denied` (a policy), `limited` (`max_sessions_per_user`), `unavailable` (no backend).",
            "listener", "mechanism", "result"),
    COMMANDS("postern.commands", Meter.Type.COUNTER, null,
            "Tagged commands completed after login, by `command` (the IMAP command as the backend ran it: "
                    + "`UID FETCH` and the like, `other` for unknown ones; a read-only SELECT counts as EXAMINE) "
                    + "and `status` (`OK`, `NO`, `BAD`, `other`); policies' own answers included.",
            "listener", "command", "status"),
    COMMAND_DURATION("postern.command.duration", Meter.Type.TIMER, "seconds",
            "Command latency split by `stage`: `postern` from the command's first line to its forwarding "
                    + "(policies, gathering; the whole time for commands Postern answers), `backend` from "
                    + "forwarding to the backend's tagged completion (IDLE included: its whole length).",
            "command", "stage"),
    BYTES("postern.bytes", Meter.Type.COUNTER, "bytes",
            "Bytes on the wire, by `side` (`client` with TLS and compression as sent, `backend`) and "
                    + "`direction` (`command`: client to backend, `response`: backend to client).",
            "side", "direction"),
    BACKEND_CONNECT("postern.backend.connect.duration", Meter.Type.TIMER, "seconds",
            "Time to open a TCP connection to a backend for a login, by `result` (`ok`, `failed`).",
            "backend", "result"),
    BACKEND_UP("postern.backend.up", Meter.Type.GAUGE, null,
            "1 while health checks and connects count the backend up, else 0.", "backend"),
    BACKEND_SESSIONS("postern.backend.sessions", Meter.Type.GAUGE, null,
            "Sessions (and logins in progress) holding a slot of the backend now.", "backend"),
    TLS_HANDSHAKES("postern.tls.handshakes", Meter.Type.COUNTER, null,
            "TLS handshakes, by `side` (`client`, `backend`), `result` (`ok`, `failed`) and `protocol` "
                    + "(`TLSv1.2`, `TLSv1.3`, `unknown` when it failed).",
            "side", "result", "protocol"),
    CERTIFICATE_EXPIRY("postern.tls.certificate.expiry", Meter.Type.GAUGE, "days",
            "Days until the listener's certificate (named by its file) expires; negative once expired.",
            "listener", "certificate"),
    POLICY_VERDICTS("postern.policy.verdicts", Meter.Type.COUNTER, null,
            "Policy decisions, by `stage` (`login`, `command`) and `verdict` (`allow` with `policy` `chain`: "
                    + "every policy let it through; `reject`, `answer`, `disconnect`, `error` with the deciding policy).",
            "policy", "stage", "verdict"),
    SCANS("postern.scans", Meter.Type.COUNTER, null,
            "Content scans, by `result`: `clean`, `blocked`, `failed_open`, `failed_closed`.", "result"),
    SCAN_DURATION("postern.scan.duration", Meter.Type.TIMER, "seconds",
            "Time a content scan took, by `result`.", "result"),
    AUDIT_QUEUE("postern.audit.queue", Meter.Type.GAUGE, "events",
            "Audit events waiting for the writer, over the open sinks of a kind (`sink`: `file`, `syslog`).",
            "sink"),
    AUDIT_DROPPED("postern.audit.dropped", Meter.Type.COUNTER, "events",
            "Audit events dropped because a sink's queue was full (`when_full: drop`), since the sinks opened.",
            "sink"),
    AUDIT_WRITE_FAILURES("postern.audit.write.failures", Meter.Type.COUNTER, null,
            "Audit writes that failed (disk full, I/O error), since the sinks opened.", "sink"),
    LIMIT_REFUSALS("postern.limit.refusals", Meter.Type.COUNTER, null,
            "Connections, logins and sessions refused by a limit, by the `limit` key: `max_connections`, "
                    + "`max_connections_per_address`, `max_sessions_per_user`, `max_login_failures`, "
                    + "`backend_max_sessions`.",
            "limit"),
    CONFIG_RELOADS("postern.config.reloads", Meter.Type.COUNTER, null,
            "Configuration reloads (SIGHUP, admin API), by `result` (`ok`, `refused`).", "result");

    private final String meterName;
    private final Meter.Type type;
    private final String baseUnit;
    private final String description;
    private final List<String> tagKeys;

    PosternMeter(String meterName, Meter.Type type, String baseUnit, String description, String... tagKeys) {
        this.meterName = meterName;
        this.type = type;
        this.baseUnit = baseUnit;
        this.description = description;
        this.tagKeys = List.of(tagKeys);
    }

    /** The dotted name, e.g. {@code postern.sessions.active}. */
    public String meterName() {
        return meterName;
    }

    public Meter.Type type() {
        return type;
    }

    /** The base unit, or {@code null} for a count of things. */
    public String baseUnit() {
        return baseUnit;
    }

    public String description() {
        return description;
    }

    public List<String> tagKeys() {
        return tagKeys;
    }

    /** The name as Prometheus shows it (counters with {@code _total}; histograms add {@code _bucket} and the like). */
    public String prometheusName() {
        String n = meterName.replace('.', '_');
        if (baseUnit != null && !n.endsWith("_" + baseUnit)) {
            n += "_" + baseUnit;
        }
        return type == Meter.Type.COUNTER ? n + "_total" : n;
    }

    /**
     * The tags for {@code values}, one per tag key in order.
     *
     * @throws IllegalArgumentException a value count that does not match the keys
     */
    public Tags tags(String... values) {
        if (values.length != tagKeys.size()) {
            throw new IllegalArgumentException(meterName + ": " + values.length + " tag values for keys " + tagKeys);
        }
        Tags t = Tags.empty();
        for (int i = 0; i < values.length; i++) {
            t = t.and(tagKeys.get(i), values[i]);
        }
        return t;
    }

    /** The README's metrics table: name, type, unit, tags, description. */
    public static String markdownTable() {
        StringBuilder b = new StringBuilder();
        b.append("| name (Prometheus) | type | unit | tags | description |\n");
        b.append("|---|---|---|---|---|\n");
        for (PosternMeter m : values()) {
            b.append("| `").append(m.meterName).append("` (`").append(m.prometheusName()).append("`) | ")
                    .append(m.type.name().toLowerCase(Locale.ROOT)).append(" | ")
                    .append(m.baseUnit == null ? "" : m.baseUnit).append(" | ")
                    .append(String.join(", ", m.tagKeys.stream().map(k -> "`" + k + "`").toList())).append(" | ")
                    .append(m.description).append(" |\n");
        }
        return b.toString();
    }
}
