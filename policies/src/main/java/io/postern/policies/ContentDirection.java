package io.postern.policies;

/** Which way message content passes Postern. */
public enum ContentDirection {
    /** From the client to the backend: the message literals of APPEND (MULTIAPPEND, CATENATE's TEXT parts). */
    UPLOAD,
    /** From the backend to the client: the body literals of FETCH ({@code BODY[]}, {@code RFC822}, {@code BINARY[]}...). */
    DOWNLOAD,
    /**
     * From the backend to the client, a section or a range of a message fetched on its own
     * ({@code BODY[2]}, {@code BODY[TEXT]}, {@code BINARY[1.2]}, {@code BODY[]<0.4096>}): its MIME
     * structure cannot be relied on, so it is content of unknown type.
     */
    DOWNLOAD_SECTION
}
