package io.postern.policies.acl;

import io.postern.imap.parse.ImapParseException;
import io.postern.policies.Command;
import io.postern.policies.CommandVerdict;
import io.postern.policies.LoginVerdict;
import io.postern.policies.Policy;
import io.postern.policies.PolicyConfigException;
import io.postern.policies.PolicyFactory;
import io.postern.policies.PolicySettings;
import io.postern.policies.Response;
import io.postern.policies.ResponseVerdict;
import io.postern.policies.SessionInfo;
import io.postern.imap.parse.ArgumentReader;
import java.net.InetAddress;
import java.time.DayOfWeek;
import java.time.Duration;
import java.time.LocalTime;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Predicate;

/**
 * The {@code acl} policy: who may log in from where and when, which commands a user may send,
 * what is read-only, which mailboxes are denied or hidden, and how fast a user may go.
 *
 * <pre>{@code
 * acl:
 *   read_only: true                      # no STORE, APPEND, EXPUNGE, COPY, MOVE, CREATE ...; SELECT opens read-only
 *   commands: { deny: [SETACL] }         # or allow: [...] for an allow-list
 *   mailboxes:                           # first match wins: allow, deny or hide
 *     - { pattern: "Legal Hold", action: hide }
 *     - { pattern: "Legal Hold/*", action: hide }
 *   allowed_addresses: [10.0.0.0/8]      # login refused from elsewhere
 *   require_tls: true                    # login refused without TLS
 *   login_hours: { from: "07:00", to: "19:00", days: [mon, tue, wed, thu, fri], zone: Europe/Berlin }
 *   rate_limit: { commands_per_second: 20, bytes_per_second: 10MiB, max_delay: 1s }
 * }</pre>
 */
public final class AclPolicyFactory implements PolicyFactory {

    public static final Set<String> KEYS = Set.of(
            "read_only", "commands", "mailboxes", "allowed_addresses", "require_tls", "login_hours", "rate_limit");
    public static final Set<String> COMMANDS_KEYS = Set.of("allow", "deny");
    public static final Set<String> MAILBOX_KEYS = Set.of("pattern", "action");
    public static final Set<String> HOURS_KEYS = Set.of("from", "to", "days", "zone");
    public static final Set<String> RATE_KEYS = Set.of("commands_per_second", "bytes_per_second", "max_delay");

    /**
     * What a read-only user may send: commands that only read (SELECT goes on as EXAMINE). Every
     * other command, vendor extensions included, gets {@code NO [NOPERM]}: read-only fails closed.
     */
    public static final Set<String> READ_COMMANDS = Set.of(
            "CAPABILITY", "NOOP", "LOGOUT", "ID", "ENABLE", "NAMESPACE", "SELECT", "EXAMINE", "LIST", "LSUB", "XLIST",
            "STATUS", "CHECK", "CLOSE", "UNSELECT", "IDLE", "NOTIFY", "FETCH", "UID FETCH", "SEARCH", "UID SEARCH",
            "SORT", "UID SORT", "THREAD", "UID THREAD", "ESEARCH", "GETQUOTA", "GETQUOTAROOT", "GETACL", "MYRIGHTS",
            "LISTRIGHTS", "GETMETADATA", "COMPRESS");

    /**
     * Commands that reach mailboxes named inside URLs or search programs (URLAUTH, MULTISEARCH);
     * with mailbox rules they are refused, as is APPEND with CATENATE, whose URL parts may copy
     * from a hidden mailbox.
     */
    static final Set<String> REACHES_OTHER_MAILBOXES = Set.of("ESEARCH", "URLFETCH", "GENURLAUTH");

    /** Never refused by a command allow-list: a session cannot work without them. */
    private static final Set<String> ALWAYS = Set.of("CAPABILITY", "NOOP", "LOGOUT");

    @Override
    public String type() {
        return "acl";
    }

    @Override
    public Policy create(String name, PolicySettings s) throws PolicyConfigException {
        s.requireKeys(KEYS);
        boolean readOnly = s.get("read_only").bool(false);
        PolicySettings commands = s.get("commands").requireKeys(COMMANDS_KEYS);
        Set<String> allow = commandNames(commands.get("allow"));
        Set<String> deny = commandNames(commands.get("deny"));
        List<MailboxRules.Rule> rules = new ArrayList<>();
        for (PolicySettings r : s.get("mailboxes").list()) {
            r.requireKeys(MAILBOX_KEYS);
            String pattern = r.get("pattern").string(null);
            if (pattern == null || pattern.isEmpty()) {
                throw r.get("pattern").error("required");
            }
            String action = r.get("action").string("deny").toLowerCase(Locale.ROOT);
            if (!Set.of("allow", "deny", "hide").contains(action)) {
                throw r.get("action").error("\"" + action + "\" is not one of allow, deny, hide");
            }
            rules.add(MailboxRules.rule(pattern, MailboxRules.action(action)));
        }
        MailboxRules mailboxes = new MailboxRules(rules);
        List<Predicate<InetAddress>> addresses = s.get("allowed_addresses").addressBlocks();
        boolean requireTls = s.get("require_tls").bool(false);
        LoginHours hours = s.get("login_hours").isMissing() ? null : LoginHours.read(s.get("login_hours"));
        RateLimiter rates = rateLimiter(s.get("rate_limit"));

        Policy.Builder b = Policy.builder(name);
        if (!addresses.isEmpty() || requireTls || hours != null || rates != null) {
            b.onLogin((session, verdict) -> login(session, verdict, addresses, requireTls, hours, rates));
        }
        if (rates != null) {
            b.onClose((session, reason) -> rates.sessionEnded(session));
            if (!s.get("rate_limit").get("bytes_per_second").isMissing()) {
                b.onTraffic((session, fromClient, bytes) -> rates.bytes(session.user(), bytes));
            }
        }
        boolean commandRules = readOnly || !allow.isEmpty() || !deny.isEmpty() || !mailboxes.isEmpty() || rates != null;
        if (commandRules) {
            b.onCommand((session, command, verdict) ->
                    command(session, command, verdict, readOnly, allow, deny, mailboxes, rates));
        }
        if (mailboxes.hides()) {
            b.onResponse(Set.of("LIST", "LSUB", "STATUS", "XLIST"), (session, response, verdict) -> {
                if (hiddenInResponse(response, mailboxes)) {
                    verdict.drop();
                } else {
                    verdict.proceed();
                }
            });
        }
        return b.build();
    }

    private static Set<String> commandNames(PolicySettings list) throws PolicyConfigException {
        List<String> names = list.strings();
        for (int i = 0; i < names.size(); i++) {
            if (!names.get(i).matches("(?i)(UID )?[A-Z][A-Z0-9_-]*")) {
                throw list.list().get(i).error("\"" + names.get(i) + "\" is not a command name (e.g. STORE, UID STORE)");
            }
        }
        return Set.copyOf(names.stream().map(n -> n.toUpperCase(Locale.ROOT)).toList());
    }

    private static RateLimiter rateLimiter(PolicySettings r) throws PolicyConfigException {
        if (r.isMissing()) {
            return null;
        }
        r.requireKeys(RATE_KEYS);
        long commands = r.get("commands_per_second").integer(0, 0, 1_000_000_000);
        long bytes = r.get("bytes_per_second").size(0, 0, 1L << 40);
        Duration maxDelay = r.get("max_delay").duration(Duration.ofSeconds(1), Duration.ZERO);
        if (commands == 0 && bytes == 0) {
            throw r.error("set commands_per_second, bytes_per_second or both");
        }
        if (maxDelay.compareTo(Duration.ofSeconds(30)) > 0) {
            throw r.get("max_delay").error(maxDelay.toSeconds() + "s is too long (expected: at most 30s)");
        }
        return new RateLimiter(commands, bytes, maxDelay);
    }

    // ---------------------------------------------------------------- login

    private static void login(SessionInfo s, LoginVerdict v, List<Predicate<InetAddress>> addresses, boolean requireTls,
            LoginHours hours, RateLimiter rates) {
        if (!addresses.isEmpty() && (s.clientAddress() == null || addresses.stream().noneMatch(p -> p.test(s.clientAddress())))) {
            v.reject("AUTHORIZATIONFAILED", "Login not allowed from this address.");
        } else if (requireTls && !s.tls()) {
            v.reject("PRIVACYREQUIRED", "Login requires TLS.");
        } else if (hours != null && !hours.allows(ZonedDateTime.now(hours.zone()))) {
            v.reject("AUTHORIZATIONFAILED", "Login not allowed at this time.");
        } else {
            if (rates != null) {
                rates.sessionStarted(s);
            }
            v.proceed();
        }
    }

    /** Login hours: {@code from} (inclusive) to {@code to} (exclusive) on {@code days}, in {@code zone}. */
    record LoginHours(LocalTime from, LocalTime to, Set<DayOfWeek> days, ZoneId zone) {

        static LoginHours read(PolicySettings h) throws PolicyConfigException {
            h.requireKeys(HOURS_KEYS);
            LocalTime from = time(h.get("from"), LocalTime.MIN);
            LocalTime to = time(h.get("to"), LocalTime.MAX);
            Set<DayOfWeek> days = EnumSet.noneOf(DayOfWeek.class);
            List<String> names = h.get("days").strings();
            for (int i = 0; i < names.size(); i++) {
                String d = names.get(i).toLowerCase(Locale.ROOT);
                DayOfWeek day = null;
                for (DayOfWeek w : DayOfWeek.values()) {
                    if (w.name().toLowerCase(Locale.ROOT).startsWith(d) && d.length() >= 3) {
                        day = w;
                    }
                }
                if (day == null) {
                    throw h.get("days").list().get(i).error("\"" + names.get(i) + "\" is not a day (mon, tue, ... sun)");
                }
                days.add(day);
            }
            if (days.isEmpty()) {
                days = EnumSet.allOf(DayOfWeek.class);
            }
            ZoneId zone;
            try {
                zone = ZoneId.of(h.get("zone").string("UTC"));
            } catch (java.time.DateTimeException e) {
                throw h.get("zone").error("unknown time zone (e.g. UTC, Europe/Berlin)");
            }
            return new LoginHours(from, to, days, zone);
        }

        private static LocalTime time(PolicySettings t, LocalTime fallback) throws PolicyConfigException {
            String text = t.string(null);
            if (text == null) {
                return fallback;
            }
            try {
                return text.equals("24:00") ? LocalTime.MAX : LocalTime.parse(text);
            } catch (DateTimeParseException e) {
                throw t.error("\"" + text + "\" is not a time of day such as 08:00");
            }
        }

        boolean allows(ZonedDateTime now) {
            LocalTime t = now.toLocalTime();
            boolean inHours = from.isBefore(to)
                    ? !t.isBefore(from) && t.isBefore(to)
                    : !t.isBefore(from) || t.isBefore(to); // over midnight, e.g. 22:00 to 06:00
            return days.contains(now.getDayOfWeek()) && inHours;
        }
    }

    // ---------------------------------------------------------------- commands

    private static void command(SessionInfo s, Command c, CommandVerdict v, boolean readOnly, Set<String> allow,
            Set<String> deny, MailboxRules mailboxes, RateLimiter rates) {
        String name = c.name();
        if (rates != null) {
            RateLimiter.Admission a = rates.command(s.user());
            if (a instanceof RateLimiter.Refused) {
                v.no("LIMIT", "Too many commands; slow down.");
                return;
            }
            if (a instanceof RateLimiter.After after) {
                String refusal = refusal(c, readOnly, allow, deny, mailboxes);
                if (refusal == null) {
                    v.proceedAfter(after.delay()); // rules checked first, so a delayed command is not refused after waiting
                    return;
                }
            }
        }
        String refusal = refusal(c, readOnly, allow, deny, mailboxes);
        if (refusal != null) {
            int sp = refusal.indexOf(' ');
            String code = refusal.substring(0, sp);
            String text = refusal.substring(sp + 1);
            if (code.equals("BAD")) {
                v.bad(null, text);
            } else {
                v.no(code, text);
            }
        } else if (readOnly && name.equals("SELECT")) {
            v.rename("EXAMINE");
        } else {
            v.proceed();
        }
    }

    /** {@code "CODE text"} when the command is refused, {@code null} when it may go on. */
    private static String refusal(Command c, boolean readOnly, Set<String> allow, Set<String> deny, MailboxRules mailboxes) {
        String name = c.name();
        if (deny.contains(name) || (!allow.isEmpty() && !allow.contains(name) && !ALWAYS.contains(name))) {
            return "NOPERM " + name + " is not permitted.";
        }
        if (readOnly && !READ_COMMANDS.contains(name)) {
            return "NOPERM Read-only access: " + name + " is not permitted.";
        }
        if (mailboxes.isEmpty()) {
            return null;
        }
        if (REACHES_OTHER_MAILBOXES.contains(name)
                || (name.equals("APPEND") && c.argumentText().toUpperCase(Locale.ROOT).contains("CATENATE"))) {
            // IMAP URLs and multi-mailbox searches name mailboxes Postern does not check: refused outright
            return "CANNOT " + name + (name.equals("APPEND") ? " with CATENATE" : "") + " is not available here.";
        }
        if (!MailboxArguments.COMMANDS.contains(name)) {
            return null;
        }
        List<MailboxArguments.Named> named;
        try {
            named = MailboxArguments.of(c);
        } catch (ImapParseException e) {
            return c.complete() ? "BAD Invalid arguments: " + e.getMessage() + "."
                    : "CANNOT Arguments too long to check.";
        }
        for (MailboxArguments.Named m : named) {
            MailboxRules.Action action = mailboxes.check(m.name());
            switch (action) {
                case ALLOW -> { }
                case DENY -> {
                    return "NOPERM Permission denied.";
                }
                case INVALID -> {
                    return "CANNOT Invalid mailbox name.";
                }
                case HIDE -> {
                    return switch (m.use()) {
                        case EXISTING -> "NONEXISTENT Mailbox doesn't exist.";
                        case TARGET -> "TRYCREATE Mailbox doesn't exist.";
                        case NEW -> "NOPERM Permission denied.";
                    };
                }
                default -> throw new IllegalStateException("action " + action);
            }
        }
        return null;
    }

    // ---------------------------------------------------------------- responses

    /** Whether an untagged LIST, LSUB or STATUS response names a hidden mailbox (or cannot be read). */
    static boolean hiddenInResponse(Response r, MailboxRules mailboxes) {
        byte[] wire = r.wire();
        String name;
        try {
            if (r.keyword().equals("STATUS")) {
                name = new ArgumentReader(wire, r.dataIndex()).astring();
            } else {
                // * LIST (\HasNoChildren) "/" "Legal Hold"
                ArgumentReader a = new ArgumentReader(wire, MailboxArguments.afterParenthesis(wire, r.dataIndex()));
                a.nstring();
                a.sp();
                name = a.astring();
            }
        } catch (ImapParseException e) {
            return true; // what cannot be read cannot be shown safely
        }
        MailboxRules.Action action = mailboxes.check(name);
        return action == MailboxRules.Action.HIDE || action == MailboxRules.Action.INVALID;
    }
}
