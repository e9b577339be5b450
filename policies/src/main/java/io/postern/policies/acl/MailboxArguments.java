package io.postern.policies.acl;

import io.postern.imap.parse.ArgumentReader;
import io.postern.imap.parse.ImapParseException;
import io.postern.policies.Command;
import java.util.List;
import java.util.Set;

/** The mailbox names a command names, and what it does with each. */
final class MailboxArguments {

    enum Use {
        /** An existing mailbox is opened, read, changed or removed. */
        EXISTING,
        /** Messages go into it (COPY, MOVE, APPEND). */
        TARGET,
        /** It is made (CREATE, RENAME's new name). */
        NEW
    }

    record Named(String name, Use use) {}

    /** Commands whose first argument is an existing mailbox. */
    private static final Set<String> FIRST_EXISTING = Set.of(
            "SELECT", "EXAMINE", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE", "STATUS", "GETACL", "SETACL", "DELETEACL",
            "LISTRIGHTS", "MYRIGHTS", "GETQUOTAROOT", "SETMETADATA");

    /** Commands {@link #of} reads; others name no mailbox (LIST and LSUB are filtered in their responses). */
    static final Set<String> COMMANDS = Set.of(
            "SELECT", "EXAMINE", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE", "STATUS", "GETACL", "SETACL", "DELETEACL",
            "LISTRIGHTS", "MYRIGHTS", "GETQUOTAROOT", "SETMETADATA", "GETMETADATA", "CREATE", "RENAME", "APPEND",
            "COPY", "MOVE", "UID COPY", "UID MOVE");

    private MailboxArguments() {}

    /**
     * The mailboxes of {@code c}; empty for a command that names none.
     *
     * @throws ImapParseException when the arguments cannot be read (or were not all gathered)
     */
    static List<Named> of(Command c) throws ImapParseException {
        String name = c.name();
        if (!COMMANDS.contains(name)) {
            return List.of();
        }
        byte[] wire = c.wire();
        int from = c.argumentsIndex();
        if (FIRST_EXISTING.contains(name)) {
            return List.of(new Named(mailbox(new ArgumentReader(wire, from)), Use.EXISTING));
        }
        switch (name) {
            case "CREATE" -> {
                return List.of(new Named(mailbox(new ArgumentReader(wire, from)), Use.NEW));
            }
            case "APPEND" -> {
                return List.of(new Named(mailbox(new ArgumentReader(wire, from)), Use.TARGET));
            }
            case "RENAME" -> {
                ArgumentReader r = new ArgumentReader(wire, from);
                String old = mailbox(r);
                return List.of(new Named(old, Use.EXISTING), new Named(mailbox(r), Use.NEW));
            }
            case "GETMETADATA" -> {
                int at = from;
                if (at < wire.length && wire[at] == '(') { // GETMETADATA (MAXSIZE 1024) mailbox entries
                    at = afterParenthesis(wire, at);
                }
                String mailbox = mailbox(new ArgumentReader(wire, at));
                return mailbox.isEmpty() ? List.of() : List.of(new Named(mailbox, Use.EXISTING));
            }
            default -> { // COPY, MOVE, UID COPY, UID MOVE: sequence-set SP mailbox
                int at = from;
                while (at < wire.length && wire[at] != ' ' && wire[at] != '\r' && wire[at] != '\n') {
                    at++;
                }
                if (at >= wire.length || wire[at] != ' ') {
                    throw new ImapParseException("Expected a mailbox");
                }
                return List.of(new Named(mailbox(new ArgumentReader(wire, at + 1)), Use.TARGET));
            }
        }
    }

    /**
     * An astring that ends where a mailbox argument must: at a space (consumed) or the end of the
     * command, so that nothing the backend might read as part of the name is left unseen.
     */
    private static String mailbox(ArgumentReader r) throws ImapParseException {
        String name = r.astring();
        if (!r.atEnd() && !r.optionalSp()) {
            throw new ImapParseException("Invalid mailbox name");
        }
        return name;
    }

    /** The index after the closing parenthesis of the list at {@code open} and one space. */
    static int afterParenthesis(byte[] wire, int open) throws ImapParseException {
        int depth = 0;
        boolean quoted = false;
        for (int i = open; i < wire.length; i++) {
            byte b = wire[i];
            if (quoted) {
                if (b == '\\') {
                    i++;
                } else if (b == '"') {
                    quoted = false;
                }
            } else if (b == '"') {
                quoted = true;
            } else if (b == '(') {
                depth++;
            } else if (b == ')' && --depth == 0) {
                if (i + 1 >= wire.length || wire[i + 1] != ' ') {
                    throw new ImapParseException("Expected a space after a list");
                }
                return i + 2;
            } else if (b == '\r' || b == '\n' || b == '{') {
                break;
            }
        }
        throw new ImapParseException("Unterminated list");
    }
}
