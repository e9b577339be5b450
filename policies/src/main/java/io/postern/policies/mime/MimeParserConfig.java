package io.postern.policies.mime;

/**
 * The limits of a {@link MimeParser}, one message at a time. Every value is checked when the
 * record is built ({@code name: value (expected: ...)}).
 *
 * <table>
 *   <caption>Limits and defaults</caption>
 *   <tr><th>limit</th><th>default</th><th>when exceeded</th></tr>
 *   <tr><td>{@code maxHeaderBytes}</td><td>262,144</td>
 *       <td>{@link MimeDefect.Kind#HEADER_TOO_LONG}; the header block of that part ends there and
 *       the bytes that follow are its body</td></tr>
 *   <tr><td>{@code maxDepth}</td><td>20</td>
 *       <td>{@link MimeDefect.Kind#NESTING_TOO_DEEP}; the multipart or {@code message/rfc822} at
 *       that depth is treated as a leaf, its raw body passed on as content</td></tr>
 *   <tr><td>{@code maxParts}</td><td>1,000</td>
 *       <td>{@link MimeDefect.Kind#TOO_MANY_PARTS}; parsing stops, the rest of the message is
 *       only counted</td></tr>
 * </table>
 *
 * @param maxHeaderBytes the largest header block of one part (the root's or a body part's), line
 *     ends included
 * @param maxDepth the deepest nesting; the root message is at depth 0
 * @param maxParts the most parts in one message, the root included
 */
public record MimeParserConfig(int maxHeaderBytes, int maxDepth, int maxParts) {

    public static final int DEFAULT_MAX_HEADER_BYTES = 256 * 1024;
    public static final int DEFAULT_MAX_DEPTH = 20;
    public static final int DEFAULT_MAX_PARTS = 1000;

    public MimeParserConfig {
        check("maxHeaderBytes", maxHeaderBytes, 256, 64 * 1024 * 1024);
        check("maxDepth", maxDepth, 1, 1000);
        check("maxParts", maxParts, 1, 1_000_000);
    }

    public static MimeParserConfig defaults() {
        return new MimeParserConfig(DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_DEPTH, DEFAULT_MAX_PARTS);
    }

    private static void check(String name, int value, int min, int max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: " + min + " to " + max + ")");
        }
    }
}
