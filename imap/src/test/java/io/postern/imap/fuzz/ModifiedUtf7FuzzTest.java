package io.postern.imap.fuzz;

import static java.nio.charset.StandardCharsets.ISO_8859_1;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.postern.imap.parse.ImapParseException;
import io.postern.imap.parse.ModifiedUtf7;

/**
 * Coverage-guided fuzzing of {@link ModifiedUtf7}. The input is used twice:
 * <ul>
 *   <li>as a name to decode (each byte one character, ISO-8859-1): {@code decode} throws nothing
 *       but {@link ImapParseException}, and a name it accepts is canonical, {@code encode} gives
 *       it back character for character, so no mailbox has two accepted spellings;
 *   <li>as Unicode text to encode (UTF-16BE, two bytes a character, a last odd byte dropped): the
 *       encoding is printable US-ASCII only and decodes back to the text, or, exactly when the
 *       text holds an unpaired surrogate, {@code encode} throws {@link IllegalArgumentException}.
 * </ul>
 * The committed inputs are the RFC 3501 example, names with {@code &}, pairs, and one of each
 * malformed kind.
 */
class ModifiedUtf7FuzzTest {

    @FuzzTest(maxDuration = "5m")
    void codec(byte[] input) {
        String mutf7 = new String(input, ISO_8859_1);
        String decoded = decodeOrNull(mutf7);
        if (decoded != null) {
            String again = ModifiedUtf7.encode(decoded);
            if (!again.equals(mutf7)) {
                throw new AssertionError("decode accepted a non-canonical spelling: " + escape(mutf7)
                        + " re-encodes as " + escape(again));
            }
        }

        char[] chars = new char[input.length / 2];
        for (int i = 0; i < chars.length; i++) {
            chars[i] = (char) (((input[2 * i] & 0xff) << 8) | (input[2 * i + 1] & 0xff));
        }
        String unicode = new String(chars);
        boolean wellFormed = unpairedSurrogate(unicode) < 0;
        String encoded;
        try {
            encoded = ModifiedUtf7.encode(unicode);
        } catch (IllegalArgumentException e) {
            if (wellFormed) {
                throw new AssertionError("encode refused well-formed text " + escape(unicode), e);
            }
            return;
        }
        if (!wellFormed) {
            throw new AssertionError("encode accepted an unpaired surrogate: " + escape(unicode));
        }
        for (int i = 0; i < encoded.length(); i++) {
            if (encoded.charAt(i) < 0x20 || encoded.charAt(i) > 0x7e) {
                throw new AssertionError("encode wrote a character outside printable US-ASCII: " + escape(encoded));
            }
        }
        String back;
        try {
            back = ModifiedUtf7.decode(encoded);
        } catch (ImapParseException e) {
            throw new AssertionError("decode refused encode's output " + escape(encoded) + ": " + e.getMessage(), e);
        }
        if (!back.equals(unicode)) {
            throw new AssertionError(escape(unicode) + " encodes as " + escape(encoded) + ", which decodes as " + escape(back));
        }
    }

    /** The decoded name, or {@code null} when decode refused it with the one exception it may throw. */
    private static String decodeOrNull(String mutf7) {
        try {
            return ModifiedUtf7.decode(mutf7);
        } catch (ImapParseException malformedOrNotCanonical) {
            return null;
        }
    }

    /** The index of the first surrogate that is not half of a pair, or -1. */
    private static int unpairedSurrogate(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                    i++;
                } else {
                    return i;
                }
            } else if (Character.isLowSurrogate(c)) {
                return i;
            }
        }
        return -1;
    }

    private static String escape(String s) {
        StringBuilder out = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c >= 0x20 && c <= 0x7e && c != '\\') {
                out.append(c);
            } else {
                out.append(String.format("\\u%04x", (int) c));
            }
        }
        return out.append('"').toString();
    }
}
