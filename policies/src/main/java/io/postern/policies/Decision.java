package io.postern.policies;

import java.time.Duration;
import java.util.List;

/**
 * What a verdict was decided to be. Made by the decisive calls of {@link LoginVerdict},
 * {@link CommandVerdict} and {@link ResponseVerdict}; read by the engine that carries it out.
 *
 * @param kind what happens
 * @param status for {@link Kind#REJECT}: NO or BAD
 * @param code for {@link Kind#REJECT}: the response code without brackets ({@code NOPERM}), or {@code null}
 * @param text for {@link Kind#REJECT}, {@link Kind#DISCONNECT} and {@link Kind#ANSWER}: the human-readable text
 * @param delay for {@link Kind#PROCEED}: how long to wait before going on ({@link Duration#ZERO} for at once)
 * @param name for {@link Kind#REWRITE}: the new command name
 * @param arguments for {@link Kind#REWRITE}: the new arguments, or {@code null} to keep them
 * @param untagged for {@link Kind#ANSWER}: untagged data lines (without {@code "* "}) before the tagged OK
 */
public record Decision(
        Kind kind,
        Status status,
        String code,
        String text,
        Duration delay,
        String name,
        String arguments,
        List<String> untagged) {

    public enum Kind {
        /** Go on: the next policy decides, then the backend. */
        PROCEED,
        /** Postern answers the command (tagged NO or BAD), or refuses the login. */
        REJECT,
        /** Postern ends the session with {@code * BYE text}. */
        DISCONNECT,
        /** The command goes on in a changed form. */
        REWRITE,
        /** Postern answers the command itself with OK, without the backend. */
        ANSWER,
        /** An untagged response is not passed to the client. */
        DROP
    }

    public static final Decision PROCEED = new Decision(Kind.PROCEED, null, null, null, Duration.ZERO, null, null, List.of());

    public static Decision proceedAfter(Duration delay) {
        return delay.isZero() ? PROCEED : new Decision(Kind.PROCEED, null, null, null, delay, null, null, List.of());
    }

    public static Decision reject(Status status, String code, String text) {
        return new Decision(Kind.REJECT, status, code, text, Duration.ZERO, null, null, List.of());
    }

    public static Decision disconnect(String text) {
        return new Decision(Kind.DISCONNECT, null, null, text, Duration.ZERO, null, null, List.of());
    }

    public static Decision rewrite(String name, String arguments) {
        return new Decision(Kind.REWRITE, null, null, null, Duration.ZERO, name, arguments, List.of());
    }

    public static Decision answer(List<String> untagged, String text) {
        return new Decision(Kind.ANSWER, null, null, text, Duration.ZERO, null, null, List.copyOf(untagged));
    }

    public static final Decision DROP = new Decision(Kind.DROP, null, null, null, Duration.ZERO, null, null, List.of());

    /** The tagged answer text, {@code [CODE] text} or {@code text}. */
    public String answerText() {
        return code == null ? text : "[" + code + "] " + text;
    }

    @Override
    public String toString() {
        return switch (kind) {
            case PROCEED -> delay.isZero() ? "proceed" : "proceed after " + delay.toMillis() + " ms";
            case REJECT -> status + " " + answerText();
            case DISCONNECT -> "disconnect";
            case REWRITE -> "rewrite to " + name;
            case ANSWER -> "answer";
            case DROP -> "drop";
        };
    }
}
