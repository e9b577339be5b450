package io.postern.imap.parse;

/**
 * Modified UTF-7, the encoding of international mailbox names in IMAP4rev1 (RFC 3501 section
 * 5.1.3, kept by RFC 9051 section 5.1.3 for servers and clients without UTF8=ACCEPT).
 *
 * <p>Printable US-ASCII (0x20 to 0x7e) stands for itself, except {@code &}, which is written
 * {@code &-}. Everything else is UTF-16 written in base64 (with {@code ,} for {@code /}) between
 * {@code &} and {@code -}: {@code ~peter/mail/&U,BTFw-/&ZeVnLIqe-} is
 * {@code ~peter/mail/台北/日本語}.
 *
 * <p>{@link #decode} is strict: it accepts exactly the strings {@link #encode} produces, so every
 * mailbox name has one spelling and a policy that compares names compares the decoded forms
 * without being fooled by an alternative encoding. Refused, each with an {@link
 * ImapParseException} whose message names the position (and never echoes the input):
 * <ul>
 *   <li>a character outside 0x20 to 0x7e written as itself;
 *   <li>a character in an encoded run that is not a modified base64 digit ({@code /} and
 *       {@code =} included);
 *   <li>an {@code &} that no {@code -} closes (a name must end in US-ASCII);
 *   <li>an encoded run whose digits leave 6 or more bits over, or non-zero bits over (so
 *       {@code &A-}, which encodes nothing, and {@code &AOl-} instead of {@code &AOk-});
 *   <li>printable US-ASCII, {@code &} included, inside an encoded run ("Modified BASE64 MUST NOT
 *       be used to represent any printing US-ASCII character which can represent itself");
 *   <li>a surrogate that is not half of a pair within its run;
 *   <li>an encoded run right after another ({@code &AOk-&AOk-}): RFC 3501 forbids these "null
 *       shifts"; {@code &AOk-&-} is fine, {@code &-} being the literal {@code &}.
 * </ul>
 * A decoded name may contain control characters (U+0000 to U+001F, U+007F), which the encoding
 * can carry; whether a mailbox may be called that is the caller's business.
 *
 * <p>Stateless and thread-safe.
 */
public final class ModifiedUtf7 {

    private static final char[] DIGITS =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,".toCharArray();

    /** Digit values by character, -1 for characters that are not modified base64 digits. */
    private static final byte[] VALUES = new byte[128];

    static {
        java.util.Arrays.fill(VALUES, (byte) -1);
        for (int i = 0; i < DIGITS.length; i++) {
            VALUES[DIGITS[i]] = (byte) i;
        }
    }

    private ModifiedUtf7() {}

    /**
     * The Unicode name that {@code mutf7} encodes.
     *
     * @throws ImapParseException if {@code mutf7} is not modified UTF-7 in its one canonical form
     *     (see the class comment for each case)
     */
    public static String decode(CharSequence mutf7) throws ImapParseException {
        int n = mutf7.length();
        StringBuilder out = new StringBuilder(n);
        int runEnd = -1; // the index just after the '-' that closed the last encoded run
        int i = 0;
        while (i < n) {
            char c = mutf7.charAt(i);
            if (c == '&') {
                if (i + 1 < n && mutf7.charAt(i + 1) == '-') {
                    out.append('&');
                    i += 2;
                } else if (i == runEnd) {
                    throw new ImapParseException(
                            "Modified UTF-7: an encoded run right after another at index " + i);
                } else {
                    i = decodeRun(mutf7, i, out);
                    runEnd = i;
                }
            } else if (c < 0x20 || c > 0x7e) {
                throw new ImapParseException(
                        "Modified UTF-7: a character that must be encoded appears as itself at index " + i);
            } else {
                out.append(c);
                i++;
            }
        }
        return out.toString();
    }

    /** Decodes the run whose {@code &} is at {@code amp} into {@code out}; returns the index after its {@code -}. */
    private static int decodeRun(CharSequence s, int amp, StringBuilder out) throws ImapParseException {
        int n = s.length();
        int bits = 0; // the bits not yet taken, the low nbits of it
        int nbits = 0;
        char high = 0; // a high surrogate waiting for its low half
        int i = amp + 1;
        for (; ; i++) {
            if (i >= n) {
                throw new ImapParseException("Modified UTF-7: the & at index " + amp + " is not closed by -");
            }
            char c = s.charAt(i);
            if (c == '-') {
                break;
            }
            int value = c < 128 ? VALUES[c] : -1;
            if (value < 0) {
                throw new ImapParseException("Modified UTF-7: not a modified base64 digit at index " + i);
            }
            bits = (bits << 6) | value;
            nbits += 6;
            if (nbits < 16) {
                continue;
            }
            nbits -= 16;
            char unit = (char) (bits >>> nbits);
            bits &= (1 << nbits) - 1;
            if (high != 0) {
                if (!Character.isLowSurrogate(unit)) {
                    throw unpaired(i);
                }
                out.append(high).append(unit);
                high = 0;
            } else if (Character.isHighSurrogate(unit)) {
                high = unit;
            } else if (Character.isLowSurrogate(unit)) {
                throw unpaired(i);
            } else if (unit >= 0x20 && unit <= 0x7e) {
                throw new ImapParseException(
                        "Modified UTF-7: printable US-ASCII encoded at index " + i);
            } else {
                out.append(unit);
            }
        }
        if (high != 0) {
            throw unpaired(i);
        }
        if (nbits >= 6 || bits != 0) {
            // 6 bits or more: a digit too many (or a run too short for one character); fewer but
            // not zero: a second spelling of the same characters
            throw new ImapParseException("Modified UTF-7: the encoded run ending at index " + i
                    + (nbits >= 6 ? " has digits left over" : " has non-zero bits left over"));
        }
        return i + 1;
    }

    private static ImapParseException unpaired(int index) {
        return new ImapParseException("Modified UTF-7: an unpaired surrogate at index " + index);
    }

    /**
     * The canonical (and shortest) modified UTF-7 form of {@code unicode}: {@code &} as {@code &-},
     * each maximal stretch of characters outside 0x20 to 0x7e as one encoded run with zero bits
     * over. {@code decode(encode(s))} is {@code s}.
     *
     * @throws IllegalArgumentException if {@code unicode} holds a surrogate that is not half of a
     *     pair (such a string is not Unicode text)
     */
    public static String encode(CharSequence unicode) {
        int n = unicode.length();
        StringBuilder out = new StringBuilder(n + 8);
        int i = 0;
        while (i < n) {
            char c = unicode.charAt(i);
            if (c == '&') {
                out.append("&-");
                i++;
            } else if (c >= 0x20 && c <= 0x7e) {
                out.append(c);
                i++;
            } else {
                i = encodeRun(unicode, i, out);
            }
        }
        return out.toString();
    }

    /** Encodes the run of characters to be encoded from {@code start}; returns the index after it. */
    private static int encodeRun(CharSequence s, int start, StringBuilder out) {
        int n = s.length();
        out.append('&');
        int bits = 0;
        int nbits = 0;
        int i = start;
        for (; i < n; i++) {
            char c = s.charAt(i);
            if (c >= 0x20 && c <= 0x7e) {
                break;
            }
            if (Character.isHighSurrogate(c)
                    ? i + 1 >= n || !Character.isLowSurrogate(s.charAt(i + 1))
                    : Character.isLowSurrogate(c) && (i == start || !Character.isHighSurrogate(s.charAt(i - 1)))) {
                throw new IllegalArgumentException("an unpaired surrogate at index " + i);
            }
            bits = (bits << 16) | c;
            nbits += 16;
            while (nbits >= 6) {
                nbits -= 6;
                out.append(DIGITS[(bits >>> nbits) & 63]);
            }
            bits &= (1 << nbits) - 1;
        }
        if (nbits > 0) {
            out.append(DIGITS[(bits << (6 - nbits)) & 63]);
        }
        out.append('-');
        return i;
    }
}
