package io.postern.bench.client;

import java.util.Locale;

/**
 * One whole server response.
 *
 * @param kind tagged, untagged ({@code *}) or a continuation request ({@code +})
 * @param tag the tag of a tagged response, else {@code null}
 * @param text every line of the response without line ends and without literal data (the
 *     {@code {n}} announcements stay)
 * @param literals literals in the response
 * @param literalBytes their total size
 */
public record Response(Kind kind, String tag, String text, int literals, long literalBytes) {

    public enum Kind {
        TAGGED,
        UNTAGGED,
        CONTINUATION
    }

    static Response of(String text, int literals, long literalBytes) {
        if (text.startsWith("+")) {
            return new Response(Kind.CONTINUATION, null, text, literals, literalBytes);
        }
        if (text.startsWith("*")) {
            return new Response(Kind.UNTAGGED, null, text, literals, literalBytes);
        }
        int space = text.indexOf(' ');
        return new Response(Kind.TAGGED, space < 0 ? text : text.substring(0, space), text, literals, literalBytes);
    }

    /** For a tagged response: {@code OK}, {@code NO} or {@code BAD} (upper case); for others the second word. */
    public String status() {
        int start = text.indexOf(' ');
        if (start < 0) {
            return "";
        }
        int end = text.indexOf(' ', start + 1);
        return text.substring(start + 1, end < 0 ? text.length() : end).toUpperCase(Locale.ROOT);
    }

    public boolean ok() {
        return kind == Kind.TAGGED && status().equals("OK");
    }

    /** For {@code * 12 EXISTS}: 12; otherwise -1. */
    public long exists() {
        if (kind != Kind.UNTAGGED || !text.regionMatches(true, text.length() - 7, " EXISTS", 0, 7)) {
            return -1;
        }
        try {
            return Long.parseLong(text.substring(2, text.length() - 7));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** {@code true} for {@code * n FETCH ...}. */
    public boolean isFetch() {
        if (kind != Kind.UNTAGGED) {
            return false;
        }
        int space = text.indexOf(' ', 2);
        return space > 2 && text.regionMatches(true, space, " FETCH ", 0, 7);
    }

    @Override
    public String toString() {
        return text.length() > 200 ? text.substring(0, 200) + "..." : text;
    }
}
