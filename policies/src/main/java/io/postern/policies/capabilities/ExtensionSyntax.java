package io.postern.policies.capabilities;

import io.postern.policies.Command;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Extensions that add no command of their own but change the arguments of base commands
 * (CONDSTORE, QRESYNC, LIST-EXTENDED, LIST-STATUS, ESEARCH): which of them a command's arguments
 * use, so that a removed one is refused like a removed command.
 *
 * <p>The arguments are split into top-level tokens: quoted strings and literals are whole tokens
 * whatever they hold, and a section ({@code BODY[HEADER.FIELDS (MODSEQ)]}) is part of its atom,
 * so a header or mailbox called {@code MODSEQ} is not taken for the keyword.
 */
final class ExtensionSyntax {

    /** The extensions this class recognises. */
    static final List<String> EXTENSIONS = List.of("CONDSTORE", "QRESYNC", "LIST-EXTENDED", "LIST-STATUS", "ESEARCH");

    /** SEARCH keys whose next argument is a string that may look like a keyword. */
    private static final Set<String> SEARCH_STRING_KEYS =
            Set.of("BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO", "KEYWORD", "UNKEYWORD");

    /** The base commands whose arguments these extensions change. */
    private static final Set<String> COMMANDS = Set.of("SELECT", "EXAMINE", "FETCH", "UID FETCH", "STORE",
            "UID STORE", "SEARCH", "UID SEARCH", "STATUS", "LIST");

    private ExtensionSyntax() {}

    /** The extensions whose syntax {@code c} uses, in the order found; empty for plain base syntax. */
    static Set<String> used(Command c) {
        String name = c.name();
        if (!COMMANDS.contains(name)) {
            return Set.of(); // most commands: no copy of the arguments, no tokens
        }
        Set<String> used = new LinkedHashSet<>();
        List<Token> t = tokens(c.wire(), c.argumentsIndex());
        switch (name) {
            case "SELECT", "EXAMINE" -> {
                for (int i = 1; i < t.size(); i++) {
                    keyword(t.get(i), used, "CONDSTORE", "CONDSTORE");
                    keyword(t.get(i), used, "QRESYNC", "QRESYNC");
                }
            }
            case "FETCH", "UID FETCH" -> {
                for (int i = 1; i < t.size(); i++) {
                    keyword(t.get(i), used, "MODSEQ", "CONDSTORE");
                    keyword(t.get(i), used, "CHANGEDSINCE", "CONDSTORE");
                    keyword(t.get(i), used, "VANISHED", "QRESYNC");
                }
            }
            case "STORE", "UID STORE" -> {
                for (int i = 1; i < t.size(); i++) {
                    keyword(t.get(i), used, "UNCHANGEDSINCE", "CONDSTORE");
                }
            }
            case "SEARCH", "UID SEARCH" -> {
                if (!t.isEmpty() && t.get(0).is("RETURN")) {
                    used.add("ESEARCH");
                }
                for (int i = 0; i < t.size(); i++) {
                    Token k = t.get(i);
                    if (k.kind == Kind.ATOM && SEARCH_STRING_KEYS.contains(k.upper)) {
                        i++; // the string searched for
                    } else if (k.is("HEADER")) {
                        i += 2; // field name and string
                    } else {
                        keyword(k, used, "MODSEQ", "CONDSTORE");
                    }
                }
            }
            case "STATUS" -> {
                for (int i = 1; i < t.size(); i++) {
                    keyword(t.get(i), used, "HIGHESTMODSEQ", "CONDSTORE");
                }
            }
            case "LIST" -> list(t, used);
            default -> { }
        }
        return used;
    }

    // LIST [(selection options)] reference (pattern | (patterns)) [RETURN (options)]
    private static void list(List<Token> t, Set<String> used) {
        int i = 0;
        if (i < t.size() && t.get(i).kind == Kind.OPEN) {
            used.add("LIST-EXTENDED");
            i = skipList(t, i);
        }
        i++; // reference
        if (i < t.size() && t.get(i).kind == Kind.OPEN) {
            used.add("LIST-EXTENDED");
            i = skipList(t, i);
        } else {
            i++;
        }
        if (i < t.size() && t.get(i).is("RETURN")) {
            used.add("LIST-EXTENDED");
            for (int j = i + 1; j < t.size(); j++) {
                keyword(t.get(j), used, "STATUS", "LIST-STATUS");
            }
        }
    }

    /** From an OPEN token, the index after its matching CLOSE. */
    private static int skipList(List<Token> t, int open) {
        int depth = 0;
        for (int i = open; i < t.size(); i++) {
            if (t.get(i).kind == Kind.OPEN) {
                depth++;
            } else if (t.get(i).kind == Kind.CLOSE && --depth == 0) {
                return i + 1;
            }
        }
        return t.size();
    }

    private static void keyword(Token t, Set<String> used, String keyword, String extension) {
        if (t.is(keyword)) {
            used.add(extension);
        }
    }

    enum Kind { ATOM, STRING, OPEN, CLOSE }

    record Token(Kind kind, String upper) {
        boolean is(String keyword) {
            return kind == Kind.ATOM && upper.equals(keyword);
        }
    }

    /** The top-level tokens of the arguments in {@code wire} from {@code from} (literal data skipped). */
    static List<Token> tokens(byte[] wire, int from) {
        List<Token> out = new ArrayList<>();
        int i = from;
        int n = wire.length;
        while (i < n) {
            byte b = wire[i];
            if (b == ' ' || b == '\r' || b == '\n') {
                i++;
            } else if (b == '(') {
                out.add(new Token(Kind.OPEN, "("));
                i++;
            } else if (b == ')') {
                out.add(new Token(Kind.CLOSE, ")"));
                i++;
            } else if (b == '"') {
                i++;
                while (i < n && wire[i] != '"') {
                    i += wire[i] == '\\' ? 2 : 1;
                }
                i++;
                out.add(new Token(Kind.STRING, ""));
            } else if (b == '{' || (b == '~' && i + 1 < n && wire[i + 1] == '{')) {
                int close = indexOf(wire, (byte) '}', i);
                long size = close < 0 ? -1 : digits(wire, i + (b == '~' ? 2 : 1), close);
                if (close < 0 || size < 0) {
                    out.add(new Token(Kind.ATOM, "{")); // not a literal: an odd atom
                    i = close < 0 ? n : close + 1;
                    continue;
                }
                int lineEnd = indexOf(wire, (byte) '\n', close);
                i = lineEnd < 0 ? n : (int) Math.min(n, lineEnd + 1L + size);
                out.add(new Token(Kind.STRING, ""));
            } else {
                int start = i;
                int brackets = 0;
                while (i < n) {
                    byte c = wire[i];
                    if (c == '[') {
                        brackets++;
                    } else if (c == ']' && brackets > 0) {
                        brackets--;
                    } else if (brackets == 0 && (c == ' ' || c == '(' || c == ')' || c == '\r' || c == '\n')) {
                        break;
                    }
                    i++;
                }
                out.add(new Token(Kind.ATOM, new String(wire, start, i - start, StandardCharsets.UTF_8).toUpperCase(Locale.ROOT)));
            }
        }
        return out;
    }

    private static int indexOf(byte[] wire, byte b, int from) {
        for (int i = from; i < wire.length; i++) {
            if (wire[i] == b) {
                return i;
            }
        }
        return -1;
    }

    // digits of a literal's size, with an optional trailing '+' or '-'; -1 if not a size
    private static long digits(byte[] wire, int from, int to) {
        if (to > from && (wire[to - 1] == '+' || wire[to - 1] == '-')) {
            to--;
        }
        if (to <= from || to - from > 18) {
            return -1;
        }
        long v = 0;
        for (int i = from; i < to; i++) {
            if (wire[i] < '0' || wire[i] > '9') {
                return -1;
            }
            v = v * 10 + (wire[i] - '0');
        }
        return v;
    }
}
