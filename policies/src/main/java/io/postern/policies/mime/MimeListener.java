package io.postern.policies.mime;

import java.nio.ByteBuffer;

/**
 * Receives a {@link MimeParser}'s events, in message order, on the thread that calls
 * {@link MimeParser#feed} and {@link MimeParser#finish()}. For every part: {@link #partStarted}
 * once, then (leaves only) {@link #bodyChunk} any number of times, then {@link #partEnded} once;
 * a multipart's or a {@code message/rfc822}'s children start and end between its own start and end.
 *
 * <p>Body chunks are cut by the parser's own buffer, not by the caller's reads: the same message
 * gives the same events however it was split. An exception thrown here propagates to the caller of
 * {@code feed}/{@code finish} and leaves the parser unusable.
 */
public interface MimeListener {

    /** The part's header block has been read; {@code headers} is not kept by the parser. */
    default void partStarted(MimePart part, MimeHeaders headers) {}

    /**
     * Decoded body bytes of a leaf part (Content-Transfer-Encoding undone). The buffer is read-only
     * and valid only during the call; copy what you keep.
     */
    default void bodyChunk(MimePart part, ByteBuffer decoded) {}

    /** The part has ended: {@link MimePart#end()} is set. */
    default void partEnded(MimePart part) {}

    /** A defect, as soon as it is noticed (also listed in {@link MimeParser#defects()}). */
    default void defect(MimeDefect defect) {}
}
