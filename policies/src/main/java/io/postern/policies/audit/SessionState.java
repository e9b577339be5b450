package io.postern.policies.audit;

import io.postern.imap.parse.ArgumentReader;
import io.postern.imap.parse.ImapParseException;
import io.postern.policies.Command;
import io.postern.policies.CommandCompletion;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the audit policy keeps about one session between events: the selected mailbox, the
 * bytes relayed, and the commands running (their arguments, and the untagged responses seen
 * while they ran). Used on the session's event loop only.
 *
 * <p>Untagged responses are given to the oldest running command: with several commands in
 * flight at once (pipelining), IMAP does not say which one an {@code EXPUNGE} belongs to.
 * Expunged messages are recorded by sequence number ({@code expunged_seqs}), as the server sent
 * them, and for {@code EXPUNGE} and {@code CLOSE} by UID ({@code expunged_uids}) from Postern's
 * own {@code UID SEARCH DELETED} just before ({@link CommandCompletion#deletedUids}): when the
 * number of EXPUNGE responses differs from the number of UIDs found (another session changed
 * flags in between), the UIDs are recorded as {@code deleted_uids} instead. A UID set given in
 * the command ({@code UID EXPUNGE}, {@code UID MOVE}), VANISHED and COPYUID's source UIDs name
 * the messages by UID.
 */
final class SessionState {

    long bytesFromClient;
    long bytesToClient;
    long completedCommands;
    private String selected;
    private final Map<String, Running> running = new LinkedHashMap<>();

    /** A command that was sent on and has not completed. */
    private static final class Running {
        String mailbox;
        String target;
        String set;
        String storeOp;
        String flags;
        String items;
        long appendSize = -1;
        long bytesToClientAtStart;
        long fetches;
        List<String> expunged;
        List<String> vanished;
        /** COPYUID from an untagged OK (MOVE gives it there, RFC 6851). */
        String copyUid;
    }

    void traffic(boolean fromClient, long bytes) {
        if (fromClient) {
            bytesFromClient += bytes;
        } else {
            bytesToClient += bytes;
        }
    }

    void started(Command c) {
        Running r = new Running();
        r.bytesToClientAtStart = bytesToClient;
        try {
            parse(c, r);
        } catch (ImapParseException e) {
            // a command the backend will answer with BAD: its status and code are recorded, not its arguments
            r.items = null;
        }
        running.put(c.tag(), r);
    }

    private void parse(Command c, Running r) throws ImapParseException {
        ArgumentReader a = c.arguments();
        switch (c.name()) {
            case "SELECT", "EXAMINE", "CREATE", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE", "STATUS" -> r.mailbox = a.astring();
            case "APPEND" -> {
                r.mailbox = a.astring();
                r.appendSize = literalBytes(c);
            }
            case "RENAME" -> {
                r.mailbox = a.astring();
                a.sp();
                r.target = a.astring();
            }
            case "FETCH", "UID FETCH" -> {
                r.set = a.sequenceSet();
                r.items = a.rest().trim();
            }
            case "STORE", "UID STORE" -> {
                r.set = a.sequenceSet();
                a.sp();
                r.storeOp = a.atom();
                r.flags = a.rest().trim();
            }
            case "COPY", "MOVE", "UID COPY", "UID MOVE" -> {
                r.set = a.sequenceSet();
                a.sp();
                r.target = a.astring();
            }
            case "UID EXPUNGE" -> r.set = a.sequenceSet();
            default -> {
                // other commands: name, status and timing only
            }
        }
    }

    /**
     * The sizes of an APPEND's literals, from their announcements ({@code {n}}, {@code {n+}},
     * {@code ~{n}}), skipping the literal data itself where it was gathered.
     */
    static long literalBytes(Command c) {
        byte[] w = c.wire();
        long total = 0;
        boolean found = false;
        int i = c.argumentsIndex();
        while (i < w.length) {
            if (w[i] == '{') {
                int j = i + 1;
                long n = 0;
                while (j < w.length && w[j] >= '0' && w[j] <= '9' && j - i < 19) {
                    n = n * 10 + (w[j] - '0');
                    j++;
                }
                if (j < w.length && w[j] == '+') {
                    j++;
                }
                if (j > i + 1 && j < w.length && w[j] == '}' && j + 2 < w.length + 1
                        && (j + 1 == w.length || w[j + 1] == '\r')) {
                    total += n;
                    found = true;
                    i = j + 3 + (int) Math.min(n, Integer.MAX_VALUE); // past CRLF and the data
                    continue;
                }
            }
            i++;
        }
        return found ? total : -1;
    }

    void untagged(String keyword, long number, String data) {
        Iterator<Running> it = running.values().iterator();
        if (!it.hasNext()) {
            return;
        }
        Running r = it.next();
        switch (keyword) {
            case "FETCH" -> r.fetches++;
            case "EXPUNGE" -> {
                if (r.expunged == null) {
                    r.expunged = new ArrayList<>();
                }
                if (r.expunged.size() < 10_000) {
                    r.expunged.add(Long.toString(number));
                }
            }
            case "VANISHED" -> {
                if (r.vanished == null) {
                    r.vanished = new ArrayList<>();
                }
                String d = data.startsWith("(EARLIER) ") ? data.substring(10) : data;
                if (r.vanished.size() < 10_000) {
                    r.vanished.add(d.trim());
                }
            }
            case "OK" -> {
                if (data.startsWith("[COPYUID ")) {
                    int end = data.indexOf(']');
                    r.copyUid = end < 0 ? null : data.substring(1, end);
                }
            }
            default -> {
                // not registered for
            }
        }
    }

    /** Fills a command event from the completion and what was seen while it ran. */
    void completed(CommandCompletion c, AuditEvent e) {
        completedCommands++;
        Running r = running.remove(c.tag());
        boolean uid = c.command().startsWith("UID ");
        e.put("tag", c.tag()).put("command", c.command());
        if (r != null) {
            boolean selecting = c.command().equals("SELECT") || c.command().equals("EXAMINE");
            String mailbox = r.mailbox != null ? r.mailbox : selected;
            e.put("mailbox", mailbox);
            e.put("target", r.target);
            if (r.set != null) {
                e.put(uid ? "uids" : "seqs", r.set);
            }
            e.put("store", r.storeOp);
            e.put("flags", r.flags);
            e.put("items", r.items);
            if (c.command().endsWith("FETCH")) {
                e.put("messages", r.fetches);
                e.put("response_bytes", bytesToClient - r.bytesToClientAtStart);
            }
            if (r.appendSize >= 0) {
                e.put("append_size", r.appendSize);
            }
            if (r.expunged != null) {
                e.put("expunged_seqs", r.expunged);
            }
            if (r.vanished != null) {
                e.put("vanished_uids", r.vanished);
            }
            deletedUids(c, r, e);
            if (selecting) {
                selected = "OK".equals(c.status()) ? r.mailbox : null;
            }
        } else {
            e.put("mailbox", selected);
        }
        if ("OK".equals(c.status()) && (c.command().equals("CLOSE") || c.command().equals("UNSELECT"))) {
            selected = null;
        }
        e.put("status", c.status());
        e.put("code", c.code());
        codeArguments(c.code() != null ? c.code() : null, c.codeText(), e);
        if (r != null && r.copyUid != null && !"COPYUID".equals(c.code())) {
            codeArguments("COPYUID", r.copyUid, e);
        }
        e.put("duration_us", c.duration().toNanos() / 1000);
        if (c.byPostern()) {
            e.put("by_postern", true);
            e.put("policy", c.policy());
        }
    }

    /** The UIDs an EXPUNGE or CLOSE removed, where Postern searched for them before it ran. */
    private static void deletedUids(CommandCompletion c, Running r, AuditEvent e) {
        List<String> uids = c.deletedUids();
        if (uids == null || !"OK".equals(c.status())) {
            return;
        }
        boolean close = c.command().equals("CLOSE");
        int expunged = (r.expunged == null ? 0 : r.expunged.size());
        if (close || (r.vanished == null && expunged == uids.size())) {
            e.put("expunged_uids", uids);
        } else {
            e.put("deleted_uids", uids);
        }
    }

    /** APPENDUID and COPYUID: the UIDs the backend gave. */
    private static void codeArguments(String code, String codeText, AuditEvent e) {
        if (codeText == null || code == null) {
            return;
        }
        String[] p = codeText.trim().split(" +");
        if (code.equals("APPENDUID") && p.length == 3) {
            e.put("uidvalidity", p[1]).put("append_uid", p[2]);
        } else if (code.equals("COPYUID") && p.length == 4) {
            e.put("uidvalidity", p[1]).put("source_uids", p[2]).put("target_uids", p[3]);
        }
    }
}
