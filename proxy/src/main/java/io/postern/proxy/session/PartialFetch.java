package io.postern.proxy.session;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.postern.imap.parse.CommandHead;
import io.postern.policies.ContentVerdict;
import io.postern.policies.engine.PolicyChain;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A FETCH of a scanned user that asks for a range of message content ({@code BODY[]<0.4096>},
 * {@code BODY.PEEK[2]<n.m>}, {@code BINARY[]<n.m>}), made consistent with a full fetch: the
 * whole section is what is scanned, once, and the client gets its range of what a full fetch
 * would have given it.
 *
 * <pre>
 *   C: a1 FETCH 3 (BODY.PEEK[]&lt;0.65536&gt;)
 *   P: postern7 FETCH 3 (UID)             Postern's own: which messages (by UID) the command names
 *   B: * 3 FETCH (UID 17)                 taken by Postern, never seen by the client
 *   B: postern7 OK Fetch completed.
 *   P: a1 FETCH 3 (BODY.PEEK[])           widened, when a verdict is not known yet; as the client sent it
 *                                         when every verdict is known and none replaces parts; a window of
 *                                         the original bytes the range needs when a known verdict replaces
 *   B: * 3 FETCH (BODY[] {25000000}       held and scanned as a full fetch, the verdict remembered
 *   P: * 3 FETCH (BODY[]&lt;0&gt; {65536}       the range of the (maybe replaced) message
 * </pre>
 *
 * <p>The command runs alone: it waits for the commands before it to complete, and the client's
 * later commands wait for it, so the untagged FETCH answers between are its own. Only a command
 * in one line is taken (a literal among the items is rare: such a command is relayed as it is).
 *
 * <p>Threading: the session's event loop only.
 */
final class PartialFetch {

    /** The tag of Postern's own UID lookup. */
    static final String LOOKUP_TAG = "postern7";

    /** The most sequence numbers remembered from one lookup; beyond that the command is widened unseen. */
    static final int MAX_UIDS = 10_000;

    static final Set<String> COMMANDS = Set.of("FETCH", "UID FETCH");

    /** A range of content: group 1 BODY or BINARY, 2 .PEEK, 3 the section, 4 origin, 5 count. */
    private static final Pattern PARTIAL = Pattern.compile("(?i)(BODY|BINARY)(\\.PEEK)?\\[([^\\]]*)\\]<(\\d+)\\.(\\d+)>");

    /** A whole section: group 1 BODY or BINARY, group 2 the section. */
    private static final Pattern WHOLE = Pattern.compile("(?i)(BODY|BINARY)(?:\\.PEEK)?\\[([^\\]]*)\\]");

    private static final Pattern LOOKUP_LINE = Pattern.compile("(?i)\\* (\\d+) FETCH \\((.*)\\)");
    private static final Pattern UID_ITEM = Pattern.compile("(?i)(?:^| )UID (\\d+)(?= |$)");
    private static final Pattern LEADING_UID = Pattern.compile("(?i)\\* \\d+ FETCH \\(UID (\\d+)[ )]");

    /** How one range goes to the backend. */
    enum Mode {
        /** As the client asked for it: its verdict is known and replaces nothing. */
        AS_SENT,
        /** Widened to the whole section, which is scanned (or its known verdict applied) and the range cut out. */
        WHOLE,
        /**
         * Its verdict is known and replaces parts: only the original bytes the range of the
         * replaced content needs ({@code <windowOrigin.n>}) are fetched.
         */
        WINDOW
    }

    /**
     * One range the client asked for: {@code item} the response's name of the whole section
     * ({@code BODY[2]}); {@code cutStart} and {@code cutEnd} where its {@code <origin.count>} is in
     * the command's text.
     */
    static final class Range {
        private final String item;
        private final long origin;
        private final long count;
        private final int cutStart;
        private final int cutEnd;
        private Mode mode = Mode.WHOLE;
        private long windowOrigin = -1;
        private long windowCount;
        private PolicyChain.KnownDownload known;

        Range(String item, long origin, long count, int cutStart, int cutEnd) {
            this.item = item;
            this.origin = origin;
            this.count = count;
            this.cutStart = cutStart;
            this.cutEnd = cutEnd;
        }

        String item() {
            return item;
        }

        long origin() {
            return origin;
        }

        long count() {
            return count;
        }

        Mode mode() {
            return mode;
        }

        long windowOrigin() {
            return windowOrigin;
        }

        /** For {@link Mode#WINDOW}: the known verdict and the size of the section it is about. */
        PolicyChain.KnownDownload known() {
            return known;
        }
    }

    enum Phase {
        /** Commands before it are still running. */
        WAITING,
        /** Postern's lookup of the UIDs is at the backend. */
        LOOKING_UP,
        /** The client's command (widened or not) is at the backend. */
        RUNNING
    }

    /** What a backend line is while the lookup runs. */
    enum LookupLine {
        /** Not the lookup's: it goes to the client. */
        OTHER,
        /** The lookup's answer about one message: taken. */
        TAKEN,
        /** The lookup's completion: taken, the lookup is over. */
        DONE
    }

    private final String tag;
    private final String name;
    private final long arrivedNanos;
    private ByteBuf line;
    private final String set;
    private final List<Range> ranges;
    /** The command's text, without CRLF. */
    private final String text;
    private Phase phase = Phase.WAITING;
    private final Map<Long, Long> uids = new HashMap<>();
    private boolean numbersUnknown;
    private boolean widened;
    /** The UIDs a {@code UID FETCH} names one by one ({@code 17} or {@code 17,19}): no lookup needed; else {@code null}. */
    private final List<Long> named;

    private PartialFetch(String tag, String name, long arrivedNanos, ByteBuf line, String set, List<Range> ranges,
            String text) {
        this.tag = tag;
        this.name = name;
        this.arrivedNanos = arrivedNanos;
        this.line = line;
        this.set = set;
        this.ranges = List.copyOf(ranges);
        this.text = text;
        this.named = name.equals("UID FETCH") ? uidList(set) : null;
    }

    /** The UIDs of a set made only of single numbers, or {@code null}. */
    private static List<Long> uidList(String set) {
        if (!set.matches("[0-9]{1,10}(,[0-9]{1,10}){0,99}")) {
            return null;
        }
        List<Long> out = new ArrayList<>();
        for (String n : set.split(",")) {
            out.add(Long.parseLong(n));
        }
        return out;
    }

    /** Whether the command names its messages by UID one by one, so that no lookup is needed ({@link #send} at once). */
    boolean needsNoLookup() {
        return named != null;
    }

    /**
     * The partial fetch in {@code line} (a whole FETCH or UID FETCH command), or {@code null}
     * when it asks no range of content, or asks one Postern cannot widen unambiguously (two
     * ranges of one section, or a range beside the whole section): that command is relayed as it
     * is. Does not take {@code line}; the returned object does, on {@link #hold}.
     */
    static PartialFetch parse(String tag, String name, ByteBuf line, long arrivedNanos) {
        CommandHead head;
        try {
            head = CommandHead.parse(line);
        } catch (io.postern.imap.parse.ImapParseException e) {
            return null;
        }
        int base = line.readerIndex();
        String text = line.toString(base, CommandHead.textEnd(line) - base, StandardCharsets.ISO_8859_1);
        int at = head.argumentsIndex() - base;
        int sp = text.indexOf(' ', at);
        if (at <= 0 || sp < 0 || sp + 1 >= text.length()) {
            return null;
        }
        String set = text.substring(at, sp);
        int itemsStart = sp + 1;
        boolean list = text.charAt(itemsStart) == '(';
        int itemsEnd = list ? closing(text, itemsStart) : tokenEnd(text, itemsStart, text.length());
        if (itemsEnd < 0) {
            return null;
        }
        List<Range> ranges = new ArrayList<>();
        Set<String> whole = new HashSet<>();
        int from = list ? itemsStart + 1 : itemsStart;
        int to = list ? itemsEnd - 1 : itemsEnd;
        for (int i = from; i < to; ) {
            if (text.charAt(i) == ' ') {
                i++;
                continue;
            }
            int end = tokenEnd(text, i, to);
            if (end < 0) {
                return null;
            }
            String item = text.substring(i, end);
            Matcher m = PARTIAL.matcher(item);
            Matcher w = WHOLE.matcher(item);
            if (m.matches() && content(m.group(3))) {
                String responseName = m.group(1).toUpperCase(Locale.ROOT) + "[" + m.group(3).toUpperCase(Locale.ROOT) + "]";
                long origin;
                long count;
                try {
                    origin = Long.parseLong(m.group(4));
                    count = Long.parseLong(m.group(5));
                } catch (NumberFormatException e) {
                    return null; // the backend answers that
                }
                if (ranges.stream().anyMatch(r -> r.item().equals(responseName))) {
                    return null;
                }
                ranges.add(new Range(responseName, origin, count, i + m.start(4) - 1, end)); // the cut starts at the angle bracket
            } else if (w.matches()) {
                whole.add(w.group(1).toUpperCase(Locale.ROOT) + "[" + w.group(2).toUpperCase(Locale.ROOT) + "]");
            }
            i = end;
        }
        if (ranges.isEmpty() || ranges.stream().anyMatch(r -> whole.contains(r.item()))) {
            return null;
        }
        return new PartialFetch(tag, name, arrivedNanos, null, set, ranges, text);
    }

    /** Whether a section is message content (not a header). */
    static boolean content(String section) {
        String s = section.toUpperCase(Locale.ROOT);
        return !s.contains("HEADER") && !s.endsWith("MIME");
    }

    /** The index after the parenthesis that closes the one at {@code open}, or -1. */
    private static int closing(String text, int open) {
        int depth = 0;
        for (int i = open; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '"') {
                i = quotedEnd(text, i);
                if (i < 0) {
                    return -1;
                }
                continue;
            }
            if (c == '(' || c == '[') {
                depth++;
            } else if (c == ')' || c == ']') {
                depth--;
                if (depth == 0) {
                    return c == ')' ? i + 1 : -1;
                }
            }
        }
        return -1;
    }

    /** The end of one item starting at {@code i}: the next space outside brackets and parentheses. */
    private static int tokenEnd(String text, int i, int limit) {
        int depth = 0;
        for (; i < limit; i++) {
            char c = text.charAt(i);
            if (c == '"') {
                i = quotedEnd(text, i);
                if (i < 0) {
                    return -1;
                }
            } else if (c == '(' || c == '[') {
                depth++;
            } else if (c == ')' || c == ']') {
                depth--;
            } else if (c == ' ' && depth == 0) {
                return i;
            }
        }
        return depth == 0 ? limit : -1;
    }

    /** The index of the quote that ends the quoted string opened at {@code open}, or -1. */
    private static int quotedEnd(String text, int open) {
        for (int i = open + 1; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                return i;
            }
        }
        return -1;
    }

    String tag() {
        return tag;
    }

    String name() {
        return name;
    }

    long arrivedNanos() {
        return arrivedNanos;
    }

    Phase phase() {
        return phase;
    }

    /** Takes the client's line (until it is sent). */
    void hold(ByteBuf line) {
        this.line = line;
    }

    /** Postern's own command that asks the UIDs of the messages the client's command names (not for {@link #needsNoLookup}). */
    String lookupCommand() {
        phase = Phase.LOOKING_UP;
        return LOOKUP_TAG + " " + name + " " + set + " (UID)\r\n";
    }

    /**
     * A whole backend line ({@code text} without CRLF) while the lookup runs. An untagged FETCH
     * with only the UID is the lookup's; one with more (the backend adding flag changes) gives
     * its UID, and goes to the client with the UID item taken out by {@link #withoutUid}.
     */
    LookupLine lookupLine(String text) {
        String upper = text.toUpperCase(Locale.ROOT);
        if (upper.startsWith(LOOKUP_TAG.toUpperCase(Locale.ROOT) + " ")) {
            numbersUnknown |= !upper.startsWith(LOOKUP_TAG.toUpperCase(Locale.ROOT) + " OK");
            return LookupLine.DONE;
        }
        Matcher m = LOOKUP_LINE.matcher(text);
        if (!m.matches()) {
            return LookupLine.OTHER;
        }
        Matcher u = UID_ITEM.matcher(m.group(2));
        if (!u.find()) {
            return LookupLine.OTHER;
        }
        try {
            if (uids.size() < MAX_UIDS) {
                uids.put(Long.parseLong(m.group(1)), Long.parseLong(u.group(1)));
            } else {
                numbersUnknown = true;
            }
        } catch (NumberFormatException e) {
            numbersUnknown = true;
        }
        return m.group(2).trim().equalsIgnoreCase("UID " + u.group(1)) ? LookupLine.TAKEN : LookupLine.OTHER;
    }

    /** {@code text}, an untagged FETCH the lookup's answer was merged into, without its UID item. */
    static String withoutUid(String text) {
        Matcher m = LOOKUP_LINE.matcher(text);
        if (!m.matches()) {
            return text;
        }
        String items = m.group(2);
        Matcher u = UID_ITEM.matcher(items);
        if (!u.find()) {
            return text;
        }
        String rest = (items.substring(0, u.start()) + items.substring(u.end())).trim().replaceAll("  +", " ");
        return text.substring(0, m.start(2)) + rest + ")";
    }

    /** An EXPUNGE or VANISHED passed: sequence numbers from the lookup no longer name the same messages. */
    void forgetNumbers() {
        numbersUnknown = true;
        uids.clear();
    }

    /**
     * Decides, once the UIDs are known, how each range goes ({@link Mode}): as sent when every
     * message it names has a known verdict for that section and none replaces parts; for a single
     * message whose known verdict replaces parts, as the window of original bytes the range of the
     * replaced content needs; otherwise widened to the whole section. Returns the line to send;
     * the object keeps no buffer.
     *
     * @param known the remembered verdict of a UID's item ({@code BODY[2]}), or {@code null}
     */
    ByteBuf send(BiFunction<Long, String, PolicyChain.KnownDownload> known, ByteBufAllocator alloc) {
        java.util.Collection<Long> messages = named != null ? named : uids.values();
        boolean unknownSet = named == null && numbersUnknown || messages.isEmpty();
        StringBuilder out = new StringBuilder(text.length() + 2);
        int copied = 0;
        for (Range r : ranges) {
            r.mode = unknownSet ? Mode.WHOLE : Mode.AS_SENT;
            for (Long uid : unknownSet ? List.<Long>of() : messages) {
                PolicyChain.KnownDownload k = known.apply(uid, r.item());
                if (k == null) {
                    r.mode = Mode.WHOLE;
                } else if (k.verdict().kind() == ContentVerdict.Kind.REPLACE && r.mode == Mode.AS_SENT) {
                    long[] w = messages.size() == 1 ? window(k.verdict().replacements(), k.size(), r.origin, r.count) : null;
                    if (w == null) {
                        r.mode = Mode.WHOLE;
                    } else {
                        r.mode = Mode.WINDOW;
                        r.windowOrigin = w[0];
                        r.windowCount = w[1] - w[0];
                        r.known = k;
                    }
                }
            }
            widened |= r.mode != Mode.AS_SENT;
            out.append(text, copied, r.cutStart);
            copied = r.cutEnd;
            if (r.mode == Mode.AS_SENT) {
                out.append(text, r.cutStart, r.cutEnd);
            } else if (r.mode == Mode.WINDOW) {
                out.append('<').append(r.windowOrigin).append('.').append(r.windowCount).append('>');
            }
        }
        out.append(text, copied, text.length()).append("\r\n");
        phase = Phase.RUNNING;
        line.release();
        line = null;
        return alloc.buffer(out.length()).writeBytes(out.toString().getBytes(StandardCharsets.ISO_8859_1));
    }

    /**
     * The original bytes {@code [a, b)} of a section of {@code size} bytes that bytes {@code [o,
     * o + c)} of its replaced form need (replacements as {@link ScannedDownload} applies them), or
     * {@code null} when they need none (the range lies within replacement text, or beyond the end).
     */
    static long[] window(List<ContentVerdict.Replacement> rs, long size, long o, long c) {
        long to = c > Long.MAX_VALUE - o ? Long.MAX_VALUE : o + c;
        long a = Long.MAX_VALUE;
        long b = -1;
        long pos = 0;
        long out = 0;
        for (int i = 0; i <= rs.size(); i++) {
            long segmentEnd = i < rs.size() ? Math.min(rs.get(i).start(), size) : size;
            if (segmentEnd > pos) {
                long from = Math.max(o, out);
                long until = Math.min(to, out + (segmentEnd - pos));
                if (from < until) {
                    a = Math.min(a, pos + (from - out));
                    b = Math.max(b, pos + (until - out));
                }
                out += segmentEnd - pos;
            }
            if (i < rs.size()) {
                out += rs.get(i).bytes().length;
                pos = Math.max(pos, Math.min(rs.get(i).end(), size));
            }
        }
        return b < 0 ? null : new long[] {a, b};
    }

    boolean widened() {
        return widened;
    }

    /** The UID of the message a FETCH response is about: {@code leading} (its UID item) when known, else by the lookup. */
    Long uidOf(long number, long leading) {
        if (leading >= 0) {
            return leading;
        }
        return numbersUnknown ? null : uids.get(number);
    }

    /** The range asked of {@code item} ({@code BODY[2]}, a response's section), or {@code null}. */
    Range rangeFor(String item) {
        for (Range r : ranges) {
            if (r.item().equalsIgnoreCase(item)) {
                return r;
            }
        }
        return null;
    }

    /** The UID of a FETCH response line that names it first ({@code * 3 FETCH (UID 17 ...}), else -1. */
    static long leadingUid(ByteBuf line) {
        int n = Math.min(line.readableBytes(), 64);
        Matcher m = LEADING_UID.matcher(line.toString(line.readerIndex(), n, StandardCharsets.ISO_8859_1));
        if (!m.lookingAt()) {
            return -1;
        }
        try {
            return Long.parseLong(m.group(1));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** The session ended: the held line is released. */
    void close() {
        if (line != null) {
            line.release();
            line = null;
        }
    }
}
