package io.postern.policies;

import java.nio.charset.StandardCharsets;

/**
 * A backend response as a {@link ResponsePolicy} sees it: an untagged data response whose
 * keyword the policy asked for ({@code LIST}, {@code STATUS} ...), with its bytes as they came
 * (literal data inline), gathered up to a bound.
 *
 * <p>Immutable and thread-safe.
 */
public final class Response {

    private final String keyword;
    private final long number;
    private final byte[] wire;
    private final int dataIndex;
    private final boolean complete;

    /**
     * @param keyword the data keyword in upper case
     * @param number the number before the keyword ({@code * 3 FETCH}), or -1
     * @param wire the response from {@code *} on, as far as gathered
     * @param dataIndex the index in {@code wire} of the first byte after the keyword and its space
     * @param complete whether {@code wire} is the whole response
     */
    public Response(String keyword, long number, byte[] wire, int dataIndex, boolean complete) {
        this.keyword = keyword;
        this.number = number;
        this.wire = wire;
        this.dataIndex = dataIndex;
        this.complete = complete;
    }

    /** An untagged single-line response, for tests: {@code "* LIST () \"/\" INBOX"}. */
    public static Response parse(String line) {
        String rest = line.substring(2);
        long number = -1;
        int sp = rest.indexOf(' ');
        if (sp > 0 && rest.chars().limit(sp).allMatch(Character::isDigit)) {
            number = Long.parseLong(rest.substring(0, sp));
            rest = rest.substring(sp + 1);
        }
        int end = rest.indexOf(' ');
        String keyword = (end < 0 ? rest : rest.substring(0, end)).toUpperCase(java.util.Locale.ROOT);
        byte[] wire = (line + "\r\n").getBytes(StandardCharsets.UTF_8);
        int data = line.length() - rest.length() + (end < 0 ? rest.length() : end + 1);
        return new Response(keyword, number, wire, new String(line.substring(0, data)).getBytes(StandardCharsets.UTF_8).length, true);
    }

    public String keyword() {
        return keyword;
    }

    public long number() {
        return number;
    }

    /** The response's bytes from {@code *} on (a copy). */
    public byte[] wire() {
        return wire.clone();
    }

    /** Where the data after the keyword starts in {@link #wire()}. */
    public int dataIndex() {
        return dataIndex;
    }

    public boolean complete() {
        return complete;
    }

    @Override
    public String toString() {
        return "Response(" + keyword + ", " + wire.length + " bytes" + (complete ? "" : ", partial") + ")";
    }
}
