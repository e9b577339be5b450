package io.postern.imap.codec;

/**
 * The limits of an {@link ImapFrameDecoder}. Immutable; every value is checked when the object
 * is built.
 *
 * <table>
 *   <caption>Limits and defaults</caption>
 *   <tr><th>limit</th><th>commands (client)</th><th>responses (backend)</th><th>when exceeded</th></tr>
 *   <tr><td>{@code maxLineLength}</td><td>65,536</td><td>4,194,304</td>
 *       <td>{@link ImapDecoderError.Kind#LINE_TOO_LONG}, rest of the stream discarded</td></tr>
 *   <tr><td>{@code maxLiteralSizeBeforeAuth}</td><td>8,192</td><td>unlimited</td>
 *       <td>{@link ImapDecoderError.Kind#LITERAL_TOO_LARGE}</td></tr>
 *   <tr><td>{@code maxLiteralSizeAfterAuth}</td><td>67,108,864</td><td>unlimited</td>
 *       <td>{@link ImapDecoderError.Kind#LITERAL_TOO_LARGE}</td></tr>
 *   <tr><td>{@code maxLiteralsPerCommand}</td><td>1,000</td><td>unlimited</td>
 *       <td>{@link ImapDecoderError.Kind#TOO_MANY_LITERALS}, rest of the stream discarded</td></tr>
 *   <tr><td>{@code maxChunkSize}</td><td>65,536</td><td>65,536</td>
 *       <td>a literal is passed on in chunks of at most this many bytes</td></tr>
 * </table>
 */
public final class ImapDecoderConfig {

    public static final int DEFAULT_MAX_COMMAND_LINE_LENGTH = 64 * 1024;
    public static final int DEFAULT_MAX_RESPONSE_LINE_LENGTH = 4 * 1024 * 1024;
    public static final long DEFAULT_MAX_LITERAL_SIZE_BEFORE_AUTH = 8 * 1024;
    public static final long DEFAULT_MAX_LITERAL_SIZE_AFTER_AUTH = 64L * 1024 * 1024;
    public static final int DEFAULT_MAX_LITERALS_PER_COMMAND = 1000;
    public static final int DEFAULT_MAX_CHUNK_SIZE = 64 * 1024;

    /** The smallest line limit accepted: room for a tag, a command name and a literal marker. */
    public static final int MIN_LINE_LENGTH = 64;

    private final int maxLineLength;
    private final long maxLiteralSizeBeforeAuth;
    private final long maxLiteralSizeAfterAuth;
    private final int maxLiteralsPerCommand;
    private final int maxChunkSize;

    private ImapDecoderConfig(Builder b) {
        this.maxLineLength = checkAtLeast("maxLineLength", b.maxLineLength, MIN_LINE_LENGTH);
        this.maxLiteralSizeBeforeAuth = checkAtLeast("maxLiteralSizeBeforeAuth", b.maxLiteralSizeBeforeAuth, 0);
        this.maxLiteralSizeAfterAuth = checkAtLeast("maxLiteralSizeAfterAuth", b.maxLiteralSizeAfterAuth, 0);
        this.maxLiteralsPerCommand = checkAtLeast("maxLiteralsPerCommand", b.maxLiteralsPerCommand, 1);
        this.maxChunkSize = checkAtLeast("maxChunkSize", b.maxChunkSize, 1);
    }

    /** Defaults for what a client sends. */
    public static ImapDecoderConfig commands() {
        return new Builder().build();
    }

    /** Defaults for what a backend sends: long lines allowed, literals of any size. */
    public static ImapDecoderConfig responses() {
        return new Builder()
                .maxLineLength(DEFAULT_MAX_RESPONSE_LINE_LENGTH)
                .maxLiteralSizeBeforeAuth(Long.MAX_VALUE)
                .maxLiteralSizeAfterAuth(Long.MAX_VALUE)
                .maxLiteralsPerCommand(Integer.MAX_VALUE)
                .build();
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        return new Builder()
                .maxLineLength(maxLineLength)
                .maxLiteralSizeBeforeAuth(maxLiteralSizeBeforeAuth)
                .maxLiteralSizeAfterAuth(maxLiteralSizeAfterAuth)
                .maxLiteralsPerCommand(maxLiteralsPerCommand)
                .maxChunkSize(maxChunkSize);
    }

    /** The longest line, line ending included, in bytes. */
    public int maxLineLength() {
        return maxLineLength;
    }

    public long maxLiteralSizeBeforeAuth() {
        return maxLiteralSizeBeforeAuth;
    }

    public long maxLiteralSizeAfterAuth() {
        return maxLiteralSizeAfterAuth;
    }

    public long maxLiteralSize(boolean authenticated) {
        return authenticated ? maxLiteralSizeAfterAuth : maxLiteralSizeBeforeAuth;
    }

    public int maxLiteralsPerCommand() {
        return maxLiteralsPerCommand;
    }

    public int maxChunkSize() {
        return maxChunkSize;
    }

    @Override
    public String toString() {
        return "ImapDecoderConfig(maxLineLength=" + maxLineLength
                + ", maxLiteralSizeBeforeAuth=" + maxLiteralSizeBeforeAuth
                + ", maxLiteralSizeAfterAuth=" + maxLiteralSizeAfterAuth
                + ", maxLiteralsPerCommand=" + maxLiteralsPerCommand
                + ", maxChunkSize=" + maxChunkSize + ")";
    }

    private static int checkAtLeast(String name, int value, int min) {
        if (value < min) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: >= " + min + ")");
        }
        return value;
    }

    private static long checkAtLeast(String name, long value, long min) {
        if (value < min) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: >= " + min + ")");
        }
        return value;
    }

    public static final class Builder {
        private int maxLineLength = DEFAULT_MAX_COMMAND_LINE_LENGTH;
        private long maxLiteralSizeBeforeAuth = DEFAULT_MAX_LITERAL_SIZE_BEFORE_AUTH;
        private long maxLiteralSizeAfterAuth = DEFAULT_MAX_LITERAL_SIZE_AFTER_AUTH;
        private int maxLiteralsPerCommand = DEFAULT_MAX_LITERALS_PER_COMMAND;
        private int maxChunkSize = DEFAULT_MAX_CHUNK_SIZE;

        private Builder() {}

        public Builder maxLineLength(int v) {
            maxLineLength = v;
            return this;
        }

        public Builder maxLiteralSizeBeforeAuth(long v) {
            maxLiteralSizeBeforeAuth = v;
            return this;
        }

        public Builder maxLiteralSizeAfterAuth(long v) {
            maxLiteralSizeAfterAuth = v;
            return this;
        }

        public Builder maxLiteralsPerCommand(int v) {
            maxLiteralsPerCommand = v;
            return this;
        }

        public Builder maxChunkSize(int v) {
            maxChunkSize = v;
            return this;
        }

        public ImapDecoderConfig build() {
            return new ImapDecoderConfig(this);
        }
    }
}
