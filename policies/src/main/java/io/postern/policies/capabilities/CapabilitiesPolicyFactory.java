package io.postern.policies.capabilities;

import io.postern.policies.Command;
import io.postern.policies.CommandVerdict;
import io.postern.policies.Policy;
import io.postern.policies.PolicyConfigException;
import io.postern.policies.PolicyFactory;
import io.postern.policies.PolicySettings;
import io.postern.policies.engine.Glob;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The {@code capabilities} policy: removes, replaces and adds capabilities in what the client is
 * shown (greeting, CAPABILITY, {@code [CAPABILITY ...]} codes), and enforces removals: the
 * commands of a removed extension get {@code BAD} from Postern, so do base commands that use the
 * arguments a removed extension adds (CONDSTORE's {@code CHANGEDSINCE}, LIST-EXTENDED's
 * {@code RETURN} ...; see {@link ExtensionSyntax}), and {@code ENABLE} of a removed extension
 * enables nothing.
 *
 * <pre>{@code
 * capabilities:
 *   remove: [QUOTA, "THREAD=*"]     # names, or globs with *
 *   replace: { IMAP4rev1: IMAP4rev1 }
 *   add: [XYZZY]
 * }</pre>
 */
public final class CapabilitiesPolicyFactory implements PolicyFactory {

    public static final Set<String> KEYS = Set.of("remove", "add", "replace");

    /** The commands each extension brings; a removed extension's commands are refused. */
    static final Map<String, List<String>> EXTENSION_COMMANDS = Map.ofEntries(
            Map.entry("QUOTA", List.of("GETQUOTA", "GETQUOTAROOT", "SETQUOTA")),
            Map.entry("ACL", List.of("GETACL", "SETACL", "DELETEACL", "LISTRIGHTS", "MYRIGHTS")),
            Map.entry("MOVE", List.of("MOVE", "UID MOVE")),
            Map.entry("IDLE", List.of("IDLE")),
            Map.entry("NAMESPACE", List.of("NAMESPACE")),
            Map.entry("UNSELECT", List.of("UNSELECT")),
            Map.entry("UIDPLUS", List.of("UID EXPUNGE")),
            Map.entry("SORT", List.of("SORT", "UID SORT")),
            Map.entry("THREAD=*", List.of("THREAD", "UID THREAD")),
            Map.entry("METADATA", List.of("GETMETADATA", "SETMETADATA")),
            Map.entry("NOTIFY", List.of("NOTIFY")),
            Map.entry("ENABLE", List.of("ENABLE")),
            Map.entry("ID", List.of("ID")),
            Map.entry("MULTISEARCH", List.of("ESEARCH")),
            Map.entry("REPLACE", List.of("REPLACE", "UID REPLACE")),
            Map.entry("URLAUTH", List.of("GENURLAUTH", "RESETKEY", "URLFETCH")));

    @Override
    public String type() {
        return "capabilities";
    }

    @Override
    public Policy create(String name, PolicySettings s) throws PolicyConfigException {
        s.requireKeys(KEYS);
        List<Glob> remove = new ArrayList<>();
        List<String> removeTexts = s.get("remove").strings();
        for (int i = 0; i < removeTexts.size(); i++) {
            checkName(s.get("remove"), i, removeTexts.get(i), true);
            remove.add(new Glob(removeTexts.get(i)));
        }
        List<String> add = s.get("add").strings();
        for (int i = 0; i < add.size(); i++) {
            checkName(s.get("add"), i, add.get(i), false);
        }
        Map<String, String> replace = new LinkedHashMap<>();
        for (Map.Entry<String, PolicySettings> e : s.get("replace").entries().entrySet()) {
            String to = e.getValue().string(null);
            if (to == null || !to.matches("[!#-'+-Z^-z|~]+")) {
                throw e.getValue().error("expected a capability name");
            }
            replace.put(e.getKey().toUpperCase(Locale.ROOT), to);
        }
        if (remove.isEmpty() && add.isEmpty() && replace.isEmpty()) {
            throw s.error("set remove, add or replace");
        }
        Map<String, String> refused = new HashMap<>(); // command -> extension
        EXTENSION_COMMANDS.forEach((extension, commands) -> {
            boolean removed = extension.equals("THREAD=*")
                    ? removeTexts.stream().anyMatch(t -> t.equalsIgnoreCase("THREAD=*"))
                    : remove.stream().anyMatch(g -> g.matches(extension));
            if (removed) {
                commands.forEach(c -> refused.put(c, extension));
            }
        });
        List<String> removedSyntax = ExtensionSyntax.EXTENSIONS.stream()
                .filter(e -> remove.stream().anyMatch(g -> g.matches(e)))
                .toList();
        Policy.Builder b = Policy.builder(name).capabilities((session, offered) -> rewrite(offered, remove, replace, add));
        if (!remove.isEmpty()) {
            Map<String, String> refusedCommands = new TreeMap<>(refused);
            b.onCommand((session, command, verdict) -> enforce(command, verdict, refusedCommands, removedSyntax, remove));
        }
        return b.build();
    }

    private static void checkName(PolicySettings list, int i, String name, boolean glob) throws PolicyConfigException {
        // ATOM-CHARs (no space, parentheses, braces, quotes, backslash, ']'), plus '*' in globs
        if (!name.matches(glob ? "[!#-'*+-Z^-z|~\\[]+" : "[!#-'+-Z^-z|~\\[]+")) {
            throw list.list().get(i).error("\"" + name + "\" is not a capability name");
        }
    }

    static List<String> rewrite(List<String> offered, List<Glob> remove, Map<String, String> replace, List<String> add) {
        List<String> out = new ArrayList<>(offered.size() + add.size());
        for (String c : offered) {
            if (remove.stream().anyMatch(g -> g.matches(c))) {
                continue;
            }
            String replacement = replace.get(c.toUpperCase(Locale.ROOT));
            out.add(replacement == null ? c : replacement);
        }
        for (String a : add) {
            if (out.stream().noneMatch(a::equalsIgnoreCase)) {
                out.add(a);
            }
        }
        return out;
    }

    static void enforce(Command c, CommandVerdict v, Map<String, String> refused, List<String> removedSyntax,
            List<Glob> remove) {
        String extension = refused.get(c.name());
        if (extension != null) {
            v.bad(null, c.name() + " is not available: the " + extension + " extension is disabled here.");
            return;
        }
        if (!removedSyntax.isEmpty()) {
            for (String used : ExtensionSyntax.used(c)) {
                if (removedSyntax.contains(used)) {
                    v.bad(null, c.name() + " uses " + used + " syntax, and the " + used + " extension is disabled here.");
                    return;
                }
            }
        }
        if (!c.name().equals("ENABLE") || c.hasLiterals()) {
            v.proceed();
            return;
        }
        // ENABLE CONDSTORE QRESYNC: what is removed is not enabled
        String[] asked = c.argumentText().trim().split(" +");
        List<String> kept = new ArrayList<>();
        for (String a : asked) {
            if (!a.isEmpty() && remove.stream().noneMatch(g -> g.matches(a))) {
                kept.add(a);
            }
        }
        if (kept.size() == asked.length) {
            v.proceed();
        } else if (kept.isEmpty()) {
            v.answer(List.of("ENABLED"), "ENABLE completed.");
        } else {
            v.rewriteArguments(String.join(" ", kept));
        }
    }
}
