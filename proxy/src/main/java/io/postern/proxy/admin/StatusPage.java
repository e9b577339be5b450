package io.postern.proxy.admin;

import io.postern.proxy.config.BackendConfig;
import io.postern.proxy.config.ListenerConfig;
import io.postern.proxy.server.PosternServer;
import io.postern.proxy.server.SessionRegistry.LiveSession;
import io.postern.proxy.session.DenialLog;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;

/**
 * The read-only status page at {@code /} of the admin listener, for sites without Prometheus:
 * listeners, backends, live sessions, route overrides, recent refusals. One self-contained HTML
 * document (inline style, no script, no external asset) that reloads itself every few seconds.
 * Every string that comes from a client or the configuration is escaped: user names are chosen
 * by whoever connects.
 */
public final class StatusPage {

    /** Sessions shown at most (the oldest); {@code /sessions} lists them all. */
    static final int MAX_SESSION_ROWS = 500;

    /** Seconds between the page's own reloads. */
    static final int REFRESH_SECONDS = 5;

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'")
            .withZone(ZoneOffset.UTC);

    private StatusPage() {}

    /** Renders the page; {@code sessions} as {@link io.postern.proxy.server.SessionRegistry#snapshot} gave them. */
    public static String render(PosternServer server, List<LiveSession> sessions) {
        Instant now = Instant.now();
        StringBuilder h = new StringBuilder(8192);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<meta http-equiv=\"refresh\" content=\"").append(REFRESH_SECONDS).append("\">")
                .append("<title>Postern status</title><style>")
                .append("body{font:13px/1.4 sans-serif;margin:1em 2em;color:#222;background:#fafafa}")
                .append("h1{font-size:20px;margin:0 0 .2em}h2{font-size:15px;margin:1.4em 0 .4em;border-bottom:1px solid #ccc}")
                .append("table{border-collapse:collapse;min-width:40em}th,td{padding:3px 8px;border:1px solid #ccc;text-align:left}")
                .append("th{background:#e4e8ef}td.n{text-align:right;font-variant-numeric:tabular-nums}")
                .append(".up{background:#c8f0c8}.down{background:#f4b8b8}.drained{background:#f4e2a8}")
                .append(".muted{color:#777}</style></head><body>\n");
        h.append("<h1>Postern</h1><p class=\"muted\">")
                .append(esc(TIME.format(now))).append(" &middot; up ").append(esc(duration(Duration.between(server.started(), now))))
                .append(" &middot; ").append(server.ready() ? "ready" : "<b>not ready</b>")
                .append(" &middot; refreshes every ").append(REFRESH_SECONDS).append(" s</p>\n");
        listeners(h, server);
        backends(h, server);
        sessions(h, sessions, now);
        overrides(h, server.overrides());
        denials(h, server.denials().recent());
        h.append("</body></html>\n");
        return h.toString();
    }

    private static void listeners(StringBuilder h, PosternServer server) {
        h.append("<h2>Listeners</h2><table id=\"listeners\"><tr><th>name</th><th>address</th><th>tls</th><th>proxy protocol</th></tr>\n");
        Map<String, InetSocketAddress> bound = server.boundAddresses();
        for (ListenerConfig l : server.config().listeners()) {
            InetSocketAddress a = bound.get(l.name());
            h.append("<tr><td>").append(esc(l.name())).append("</td><td>")
                    .append(esc(a == null ? l.bind() + " (not bound: restart)" : a.getHostString() + ":" + a.getPort()))
                    .append("</td><td>").append(esc(l.tls())).append("</td><td>").append(l.proxyProtocol() ? "yes" : "no")
                    .append("</td></tr>\n");
        }
        h.append("</table>\n");
    }

    private static void backends(StringBuilder h, PosternServer server) {
        h.append("<h2>Backends</h2><table id=\"backends\"><tr><th>name</th><th>address</th><th>state</th>")
                .append("<th>sessions</th><th>max</th><th>fallback</th></tr>\n");
        for (String name : server.pool().names()) {
            BackendConfig c = server.config().backends().get(name);
            boolean up = server.pool().isUp(name);
            boolean drained = server.pool().isDrained(name);
            String state = drained ? "drained" : up ? "up" : "down";
            h.append("<tr class=\"").append(state).append("\"><td>").append(esc(name)).append("</td><td>")
                    .append(c == null ? "<span class=\"muted\">removed by a reload</span>" : esc(c.address().toString()))
                    .append("</td><td>").append(state).append(drained && !up ? " (down)" : "")
                    .append("</td><td class=\"n\">").append(server.pool().sessions(name))
                    .append("</td><td class=\"n\">").append(c == null || c.maxSessions() == 0 ? "&ndash;" : c.maxSessions())
                    .append("</td><td>").append(c == null || c.fallback() == null ? "" : esc(c.fallback()))
                    .append("</td></tr>\n");
        }
        h.append("</table>\n");
    }

    private static void sessions(StringBuilder h, List<LiveSession> sessions, Instant now) {
        h.append("<h2>Sessions (").append(sessions.size()).append(")</h2><table id=\"sessions\"><tr><th>id</th><th>user</th>")
                .append("<th>client</th><th>listener</th><th>backend</th><th>state</th><th>since</th>")
                .append("<th>bytes in</th><th>bytes out</th></tr>\n");
        for (LiveSession s : sessions.subList(0, Math.min(sessions.size(), MAX_SESSION_ROWS))) {
            var v = s.view();
            h.append("<tr><td>").append(esc(v.id())).append("</td><td>").append(esc(v.user())).append("</td><td>")
                    .append(esc(v.client())).append("</td><td>").append(esc(v.listener())).append("</td><td>")
                    .append(esc(v.backend())).append("</td><td>").append(esc(v.state())).append("</td><td>")
                    .append(esc(TIME.format(v.since()))).append(" <span class=\"muted\">(")
                    .append(esc(duration(Duration.between(v.since(), now)))).append(")</span></td><td class=\"n\">")
                    .append(s.bytesIn()).append("</td><td class=\"n\">").append(s.bytesOut()).append("</td></tr>\n");
        }
        h.append("</table>\n");
        if (sessions.size() > MAX_SESSION_ROWS) {
            h.append("<p class=\"muted\">").append(sessions.size() - MAX_SESSION_ROWS)
                    .append(" more: GET /sessions lists every session.</p>\n");
        }
    }

    private static void overrides(StringBuilder h, Map<String, String> overrides) {
        h.append("<h2>Route overrides (admin moves, until restart)</h2><table id=\"overrides\"><tr><th>user</th><th>backend</th></tr>\n");
        overrides.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> h.append("<tr><td>")
                .append(esc(e.getKey())).append("</td><td>").append(esc(e.getValue())).append("</td></tr>\n"));
        h.append("</table>\n");
    }

    private static void denials(StringBuilder h, List<DenialLog.Denial> denials) {
        h.append("<h2>Recent refusals (logins, limits, policies)</h2><table id=\"denials\"><tr><th>time</th><th>user</th>")
                .append("<th>client</th><th>reason</th></tr>\n");
        for (int i = denials.size() - 1; i >= 0; i--) {
            DenialLog.Denial d = denials.get(i);
            h.append("<tr><td>").append(esc(TIME.format(d.at()))).append("</td><td>").append(esc(d.user()))
                    .append("</td><td>").append(esc(d.client())).append("</td><td>").append(esc(d.reason()))
                    .append("</td></tr>\n");
        }
        h.append("</table>\n");
    }

    static String duration(Duration d) {
        long s = Math.max(0, d.toSeconds());
        if (s < 60) {
            return s + " s";
        }
        if (s < 3600) {
            return s / 60 + " min " + s % 60 + " s";
        }
        return s / 3600 + " h " + (s % 3600) / 60 + " min";
    }

    /** HTML text and attribute escaping; {@code null} becomes an empty string. */
    static String esc(String s) {
        if (s == null) {
            return "";
        }
        StringBuilder out = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '&' -> out.append("&amp;");
                case '"' -> out.append("&quot;");
                case '\'' -> out.append("&#39;");
                default -> {
                    if (c < 0x20 && c != '\t') {
                        out.append("&#xFFFD;"); // control characters have no business on the page
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.toString();
    }
}
