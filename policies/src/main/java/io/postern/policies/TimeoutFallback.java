package io.postern.policies;

/** What an asynchronous verdict becomes when its policy has not decided in time. */
public enum TimeoutFallback {
    /** The event goes on as if the policy had called {@code proceed()}. */
    PROCEED,
    /**
     * The event is refused: a command gets {@code NO [UNAVAILABLE]}, a login
     * {@code NO [UNAVAILABLE]}. The safe choice for a policy that guards something.
     */
    REJECT
}
