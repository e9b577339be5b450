package io.postern.imap.parse;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;

/** Character classes of RFC 9051's ABNF, and small scans over a {@link ByteBuf} that copy nothing. */
public final class ImapChars {

    /** Tags longer than this are not reported back (they are still valid on the wire). */
    public static final int MAX_TAG_LENGTH = 64;

    private static final String[] STATUS_WORDS = {"OK", "NO", "BAD", "BYE", "PREAUTH"};

    private ImapChars() {}

    public static boolean isDigit(int b) {
        return b >= '0' && b <= '9';
    }

    /** ATOM-CHAR: any CHAR except atom-specials ({@code (){ } SP, CTL, {@code %*"\]}). */
    public static boolean isAtomChar(int b) {
        if (b <= 0x20 || b >= 0x7f) {
            return false;
        }
        return switch (b) {
            case '(', ')', '{', '%', '*', '"', '\\', ']' -> false;
            default -> true;
        };
    }

    /** ASTRING-CHAR: ATOM-CHAR or {@code ]}. */
    public static boolean isAstringChar(int b) {
        return b == ']' || isAtomChar(b);
    }

    /** A tag character: any ASTRING-CHAR except {@code +}. */
    public static boolean isTagChar(int b) {
        return b != '+' && isAstringChar(b);
    }

    /**
     * The tag at {@code start}, when the bytes up to the first space (before {@code end}) form a
     * valid tag of at most {@link #MAX_TAG_LENGTH} characters; otherwise {@code null}.
     */
    public static String tag(ByteBuf buf, int start, int end) {
        int i = start;
        while (i < end && i - start <= MAX_TAG_LENGTH && isTagChar(buf.getByte(i))) {
            i++;
        }
        if (i == start || i - start > MAX_TAG_LENGTH || i >= end || buf.getByte(i) != ' ') {
            return null;
        }
        return buf.toString(start, i - start, StandardCharsets.US_ASCII);
    }

    /** Whether the bytes at {@code from} are a status word (OK, NO, BAD, BYE, PREAUTH) ending in SP or the line end. */
    public static boolean startsWithStatus(ByteBuf buf, int from, int end) {
        for (String word : STATUS_WORDS) {
            int n = word.length();
            if (from + n > end) {
                continue;
            }
            boolean match = true;
            for (int k = 0; k < n && match; k++) {
                match = upper(buf.getByte(from + k)) == word.charAt(k);
            }
            if (match) {
                int after = from + n;
                if (after >= end) {
                    return true;
                }
                byte b = buf.getByte(after);
                if (b == ' ' || b == '\r' || b == '\n') {
                    return true;
                }
            }
        }
        return false;
    }

    static int upper(int b) {
        return b >= 'a' && b <= 'z' ? b - 32 : b;
    }

    /**
     * Checks the text of a command line, the {@code textLength} bytes from the reader index
     * (the line ending left out): a NUL (RFC 9051's CHAR8 excludes it) or a CR (a line ends only
     * at CRLF) inside a line is refused, since a server may read such a line otherwise than
     * Postern does (Dovecot ends a command at a bare CR and drops the rest).
     *
     * @throws ImapParseException naming the character, safe to send in a BAD reply
     */
    public static void checkLineText(ByteBuf line, int textLength) throws ImapParseException {
        int at = line.forEachByte(line.readerIndex(), textLength, b -> b != 0 && b != '\r');
        if (at >= 0) {
            throw new ImapParseException(line.getByte(at) == 0
                    ? "Invalid character in command (NUL)"
                    : "Invalid character in command (CR without LF)");
        }
    }
}
