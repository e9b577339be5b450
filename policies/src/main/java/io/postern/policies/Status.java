package io.postern.policies;

/** The status of a tagged answer Postern gives in a policy's name. */
public enum Status {
    /** The command was understood and refused ({@code tag NO [CODE] text}). */
    NO,
    /** The command is not acceptable here, e.g. an extension the session does not have ({@code tag BAD}). */
    BAD
}
