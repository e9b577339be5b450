package io.postern.policies;

import java.nio.ByteBuffer;

/** <b>Reserved, not called by this build</b>: see {@link ContentPolicy}. */
public interface ContentInspector {

    /** A chunk of message data; valid only during the call. */
    void onData(ByteBuffer chunk);

    /** The end of the data: exactly one decisive call on {@code verdict}. */
    void onEnd(CommandVerdict verdict);
}
