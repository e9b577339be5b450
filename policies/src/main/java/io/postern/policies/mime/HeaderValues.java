package io.postern.policies.mime;

import java.io.ByteArrayOutputStream;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Decoding of header field values: RFC 2047 encoded words and RFC 2045/2231 parameters. Lenient by
 * design: what cannot be decoded is kept as it was written, nothing is thrown.
 */
public final class HeaderValues {

    /** Parameter names longer than this are ignored. */
    static final int MAX_PARAMETER_NAME = 78;
    /** RFC 2231 sections numbered higher than this are ignored. */
    static final int MAX_SECTION = 999;

    private HeaderValues() {}

    /** A value such as {@code attachment} with its parameters (names in lower case, values decoded). */
    public record Parameterized(String value, Map<String, String> parameters) {}

    /**
     * Parses {@code value *(";" name "=" (token / quoted-string))} with comments skipped, RFC 2231
     * sections ({@code name*0}, {@code name*1*}...) joined and decoded with their charset, and RFC
     * 2047 encoded words decoded inside the result (not standard, but common in {@code filename}).
     */
    public static Parameterized parameterized(String raw) {
        List<String[]> pairs = new ArrayList<>();
        int[] pos = {0};
        String value = segment(raw, pos, false).strip();
        while (pos[0] < raw.length()) {
            pos[0]++; // the ';'
            String segment = segment(raw, pos, true);
            int eq = segment.indexOf('=');
            if (eq <= 0) {
                continue;
            }
            String name = segment.substring(0, eq).strip().toLowerCase(Locale.ROOT);
            if (name.isEmpty() || name.length() > MAX_PARAMETER_NAME) {
                continue;
            }
            pairs.add(new String[] {name, unquote(segment.substring(eq + 1).strip())});
        }
        return new Parameterized(value, Collections.unmodifiableMap(join(pairs)));
    }

    /**
     * Decodes RFC 2047 encoded words ({@code =?charset?B?...?=}, {@code =?charset?Q?...?=}); white
     * space between two encoded words is dropped; adjacent words in one charset are decoded
     * together, so a character split between them survives. A word with an unknown charset or a
     * broken encoding stays as written.
     */
    public static String decodeEncodedWords(String s) {
        if (s.indexOf("=?") < 0) {
            return s;
        }
        StringBuilder out = new StringBuilder(s.length());
        ByteArrayOutputStream pending = new ByteArrayOutputStream();
        Charset pendingCharset = null;
        int i = 0;
        int textStart = 0;
        while (i < s.length()) {
            EncodedWord word = s.startsWith("=?", i) ? EncodedWord.at(s, i) : null;
            if (word == null) {
                i++;
                continue;
            }
            String between = s.substring(textStart, i);
            boolean adjacent = pendingCharset != null && between.isBlank();
            if (!adjacent) {
                flush(out, pending, pendingCharset);
                pendingCharset = null;
                out.append(between);
            } else if (!word.charset.equals(pendingCharset)) {
                flush(out, pending, pendingCharset);
                pendingCharset = null;
            }
            pendingCharset = word.charset;
            pending.writeBytes(word.bytes);
            i = word.end;
            textStart = i;
        }
        flush(out, pending, pendingCharset);
        out.append(s, textStart, s.length());
        return out.toString();
    }

    private static void flush(StringBuilder out, ByteArrayOutputStream pending, Charset charset) {
        if (charset != null) {
            out.append(new String(pending.toByteArray(), charset));
        }
        pending.reset();
    }

    private record EncodedWord(Charset charset, byte[] bytes, int end) {
        /** The well-formed encoded word at {@code start}, or null. */
        static EncodedWord at(String s, int start) {
            int q1 = s.indexOf('?', start + 2);
            if (q1 < 0 || q1 + 2 >= s.length() || s.charAt(q1 + 2) != '?') {
                return null;
            }
            int close = s.indexOf("?=", q1 + 3);
            if (close < 0) {
                return null;
            }
            String charsetName = s.substring(start + 2, q1);
            String text = s.substring(q1 + 3, close);
            if (hasWhitespace(charsetName) || hasWhitespace(text)) {
                return null;
            }
            int star = charsetName.indexOf('*'); // RFC 2231 section 5: charset*language
            Optional<Charset> charset = HeaderValues.charset(star < 0 ? charsetName : charsetName.substring(0, star));
            if (charset.isEmpty()) {
                return null;
            }
            char encoding = Character.toUpperCase(s.charAt(q1 + 1));
            byte[] bytes;
            if (encoding == 'B') {
                bytes = base64(text);
            } else if (encoding == 'Q') {
                bytes = qEncoding(text);
            } else {
                return null;
            }
            return bytes == null ? null : new EncodedWord(charset.get(), bytes, close + 2);
        }

        private static boolean hasWhitespace(String s) {
            for (int i = 0; i < s.length(); i++) {
                if (Character.isWhitespace(s.charAt(i))) {
                    return true;
                }
            }
            return false;
        }

        private static byte[] base64(String text) {
            ByteArrayOutputStream out = new ByteArrayOutputStream(text.length());
            int bits = 0;
            int n = 0;
            for (int i = 0; i < text.length(); i++) {
                char c = text.charAt(i);
                if (c == '=') {
                    break;
                }
                int v = c < 128 ? BodyDecoder.BASE64[c] : -1;
                if (v < 0) {
                    return null;
                }
                bits = (bits << 6) | v;
                if (++n == 4) {
                    out.write(bits >> 16);
                    out.write(bits >> 8);
                    out.write(bits);
                    bits = 0;
                    n = 0;
                }
            }
            if (n == 2) {
                out.write(bits >> 4);
            } else if (n == 3) {
                out.write(bits >> 10);
                out.write(bits >> 2);
            } else if (n == 1) {
                return null;
            }
            return out.toByteArray();
        }

        private static byte[] qEncoding(String text) {
            ByteArrayOutputStream out = new ByteArrayOutputStream(text.length());
            for (int i = 0; i < text.length(); i++) {
                char c = text.charAt(i);
                if (c == '_') {
                    out.write(' ');
                } else if (c == '=' && i + 2 < text.length() && hex(text.charAt(i + 1)) >= 0 && hex(text.charAt(i + 2)) >= 0) {
                    out.write(hex(text.charAt(i + 1)) << 4 | hex(text.charAt(i + 2)));
                    i += 2;
                } else if (c < 128) {
                    out.write(c);
                } else {
                    return null;
                }
            }
            return out.toByteArray();
        }
    }

    static int hex(int c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        return -1;
    }

    static Optional<Charset> charset(String name) {
        try {
            return Optional.of(Charset.forName(name.strip()));
        } catch (IllegalArgumentException unsupportedOrIllegal) {
            // IllegalCharsetNameException and UnsupportedCharsetException: the caller keeps the raw text
            return Optional.empty();
        }
    }

    // ---------------------------------------------------------------- parameters

    /**
     * The text from {@code pos} to the next {@code ';'} outside quotes and comments (or the end),
     * comments removed, quoted strings kept with their quotes; {@code pos} is left on the ';'.
     */
    private static String segment(String raw, int[] pos, boolean keepQuotes) {
        StringBuilder out = new StringBuilder();
        int i = pos[0];
        int comment = 0;
        boolean quoted = false;
        for (; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (quoted) {
                out.append(c);
                if (c == '\\' && i + 1 < raw.length()) {
                    out.append(raw.charAt(++i));
                } else if (c == '"') {
                    quoted = false;
                }
            } else if (comment > 0) {
                if (c == '\\') {
                    i++;
                } else if (c == '(') {
                    comment++;
                } else if (c == ')') {
                    comment--;
                }
            } else if (c == ';') {
                break;
            } else if (c == '(') {
                comment++;
            } else {
                if (c == '"') {
                    quoted = true;
                }
                out.append(c);
            }
        }
        pos[0] = i;
        return keepQuotes ? out.toString() : out.toString().replace("\"", "");
    }

    private static String unquote(String v) {
        if (v.length() < 2 || v.charAt(0) != '"') {
            return v;
        }
        int end = v.endsWith("\"") ? v.length() - 1 : v.length();
        StringBuilder out = new StringBuilder(end);
        for (int i = 1; i < end; i++) {
            char c = v.charAt(i);
            if (c == '\\' && i + 1 < end) {
                c = v.charAt(++i);
            }
            out.append(c);
        }
        return out.toString();
    }

    /** Joins RFC 2231 sections and decodes values; the plain form of a name yields to its 2231 form. */
    private static Map<String, String> join(List<String[]> pairs) {
        Map<String, String> plain = new LinkedHashMap<>();
        Map<String, TreeMap<Integer, String[]>> sections = new LinkedHashMap<>();
        for (String[] pair : pairs) {
            String name = pair[0];
            int star = name.indexOf('*');
            if (star < 0) {
                plain.putIfAbsent(name, pair[1]);
                continue;
            }
            String base = name.substring(0, star);
            String rest = name.substring(star + 1);
            boolean extended = rest.endsWith("*") || rest.isEmpty();
            String number = rest.endsWith("*") ? rest.substring(0, rest.length() - 1) : rest;
            int section;
            if (number.isEmpty()) {
                section = 0;
            } else if (number.length() <= 3 && number.chars().allMatch(c -> c >= '0' && c <= '9')) {
                section = Integer.parseInt(number);
            } else {
                continue;
            }
            if (base.isEmpty() || section > MAX_SECTION) {
                continue;
            }
            sections.computeIfAbsent(base, k -> new TreeMap<>())
                    .putIfAbsent(section, new String[] {extended ? "*" : "", pair[1]});
        }
        Map<String, String> result = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : plain.entrySet()) {
            result.put(e.getKey(), decodeEncodedWords(e.getValue()));
        }
        for (Map.Entry<String, TreeMap<Integer, String[]>> e : sections.entrySet()) {
            result.put(e.getKey(), decodeEncodedWords(rfc2231(e.getValue())));
        }
        return result;
    }

    private static String rfc2231(TreeMap<Integer, String[]> sections) {
        Charset charset = StandardCharsets.UTF_8;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        boolean first = true;
        for (String[] section : sections.values()) {
            boolean extended = !section[0].isEmpty();
            String v = section[1];
            if (extended && first) {
                // charset'language'value
                int q1 = v.indexOf('\'');
                int q2 = q1 < 0 ? -1 : v.indexOf('\'', q1 + 1);
                if (q2 > 0) {
                    charset = q1 == 0 ? charset : charset(v.substring(0, q1)).orElse(StandardCharsets.ISO_8859_1);
                    v = v.substring(q2 + 1);
                }
            }
            first = false;
            if (extended) {
                for (int i = 0; i < v.length(); i++) {
                    char c = v.charAt(i);
                    if (c == '%' && i + 2 < v.length() && hex(v.charAt(i + 1)) >= 0 && hex(v.charAt(i + 2)) >= 0) {
                        bytes.write(hex(v.charAt(i + 1)) << 4 | hex(v.charAt(i + 2)));
                        i += 2;
                    } else {
                        bytes.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
                    }
                }
            } else {
                bytes.writeBytes(v.getBytes(charset));
            }
        }
        return new String(bytes.toByteArray(), charset);
    }
}
