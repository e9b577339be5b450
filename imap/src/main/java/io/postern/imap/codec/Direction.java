package io.postern.imap.codec;

/** Which way a stream flows through Postern. */
public enum Direction {
    /** Client to backend: commands, literal data, AUTHENTICATE responses, {@code DONE}. */
    COMMAND,
    /** Backend to client: greeting, untagged and tagged responses, {@code +} continuations. */
    RESPONSE
}
