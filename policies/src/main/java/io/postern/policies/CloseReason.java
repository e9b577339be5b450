package io.postern.policies;

/** Why a session ended. */
public enum CloseReason {
    /** The client sent LOGOUT. */
    LOGOUT,
    /** The client closed the connection (or it broke). */
    CLIENT_CLOSED,
    /** The backend closed the connection or said BYE. */
    BACKEND_CLOSED,
    /** Postern ended it: a policy's disconnect, a timeout, a limit, an error, shutdown. */
    POSTERN
}
