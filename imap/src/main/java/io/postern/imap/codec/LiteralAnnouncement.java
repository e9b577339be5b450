package io.postern.imap.codec;

/**
 * The literal announced at the end of a line: {@code {n}}, {@code {n+}}, {@code ~{n}} or
 * {@code ~{n+}}.
 *
 * @param size the announced size in bytes; {@link Long#MAX_VALUE} when the digits overflow, a size
 *     the decoder always refuses
 * @param nonSynchronizing {@code {n+}} (LITERAL+ / LITERAL-): the data follows without a {@code +}
 * @param binary {@code ~{n}} (RFC 3516 literal8)
 */
public record LiteralAnnouncement(long size, boolean nonSynchronizing, boolean binary) {

    /** A synchronizing literal: the sender waits for a {@code +} continuation before the data. */
    public boolean synchronizing() {
        return !nonSynchronizing;
    }

    @Override
    public String toString() {
        return (binary ? "~{" : "{") + size + (nonSynchronizing ? "+}" : "}");
    }
}
