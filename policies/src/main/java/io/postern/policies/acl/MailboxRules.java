package io.postern.policies.acl;

import io.postern.imap.parse.ImapParseException;
import io.postern.imap.parse.ModifiedUtf7;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Mailbox rules in order, the first matching rule deciding: {@code allow}, {@code deny} (the
 * mailbox is listed but cannot be opened or changed) or {@code hide} (as if it did not exist).
 *
 * <p>Patterns are written in Unicode; {@code *} matches any characters, {@code %} any characters
 * but the hierarchy separator {@code /}. {@code INBOX} matches in any case, as IMAP says.
 * A name on the wire is compared in every form it may stand for: as sent (a UTF-8 name after
 * UTF8=ACCEPT, or plain US-ASCII), and decoded from modified UTF-7; the strictest result wins,
 * so a client cannot reach a hidden mailbox by spelling its name another way. A name that is
 * neither valid modified UTF-7 nor plain is {@link Action#INVALID}.
 */
final class MailboxRules {

    enum Action {
        ALLOW,
        DENY,
        HIDE,
        /** Not a name Postern can compare safely: refused. */
        INVALID
    }

    record Rule(String pattern, Pattern regex, Action action) {}

    private final List<Rule> rules;

    MailboxRules(List<Rule> rules) {
        this.rules = List.copyOf(rules);
    }

    boolean isEmpty() {
        return rules.isEmpty();
    }

    boolean hides() {
        return rules.stream().anyMatch(r -> r.action() == Action.HIDE);
    }

    static Rule rule(String pattern, Action action) {
        StringBuilder re = new StringBuilder();
        String p = canonicalInbox(pattern);
        for (int i = 0; i < p.length(); i++) {
            char c = p.charAt(i);
            switch (c) {
                case '*' -> re.append(".*");
                case '%' -> re.append("[^/]*");
                default -> re.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return new Rule(pattern, Pattern.compile(re.toString(), Pattern.DOTALL), action);
    }

    /** What the rules say about a mailbox name as it came on the wire. */
    Action check(String wireName) {
        if (rules.isEmpty()) {
            return Action.ALLOW;
        }
        List<String> forms = forms(wireName);
        if (forms == null) {
            return Action.INVALID;
        }
        Action strictest = Action.ALLOW;
        for (String form : forms) {
            Action a = first(form);
            if (a.ordinal() > strictest.ordinal()) {
                strictest = a;
            }
        }
        return strictest;
    }

    private Action first(String name) {
        for (Rule r : rules) {
            if (r.regex().matcher(name).matches()) {
                return r.action();
            }
        }
        return Action.ALLOW;
    }

    /** The names {@code wireName} may stand for, normalised; {@code null} when none is safe to compare. */
    static List<String> forms(String wireName) {
        List<String> forms = new ArrayList<>(2);
        forms.add(normalise(wireName));
        boolean ascii = wireName.chars().allMatch(c -> c < 0x80);
        if (ascii && wireName.indexOf('&') >= 0) {
            try {
                forms.add(normalise(ModifiedUtf7.decode(wireName)));
            } catch (ImapParseException e) {
                return null;
            }
        }
        return forms;
    }

    private static String normalise(String name) {
        String n = name;
        while (n.length() > 1 && n.endsWith("/")) {
            n = n.substring(0, n.length() - 1); // "Legal/" names "Legal" on most servers
        }
        return canonicalInbox(n);
    }

    private static String canonicalInbox(String name) {
        if (name.length() >= 5 && name.regionMatches(true, 0, "INBOX", 0, 5)
                && (name.length() == 5 || name.charAt(5) == '/')) {
            return "INBOX" + name.substring(5);
        }
        return name;
    }

    static Action action(String text) {
        return Action.valueOf(text.toUpperCase(Locale.ROOT));
    }
}
