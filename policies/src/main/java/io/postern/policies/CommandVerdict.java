package io.postern.policies;

import java.time.Duration;
import java.util.List;

/**
 * The output of a {@link CommandPolicy}. Exactly one decisive call; see {@link Verdict} for the
 * contract and {@link #async}. A refused command never reaches the backend.
 */
public final class CommandVerdict extends Verdict {

    private final Command command;

    public CommandVerdict(Command command) {
        this.command = command;
    }

    /** The command goes on unchanged. */
    public void proceed() {
        decide(Decision.PROCEED);
    }

    /** The command goes on after {@code delay} (nothing else of the session moves meanwhile). */
    public void proceedAfter(Duration delay) {
        if (delay.isNegative()) {
            throw new IllegalArgumentException("delay: " + delay + " (expected: zero or more)");
        }
        decide(Decision.proceedAfter(delay));
    }

    /** Postern answers {@code tag NO [code] text}; {@code code} may be {@code null}. */
    public void no(String code, String text) {
        decide(Decision.reject(Status.NO, code, text));
    }

    /** Postern answers {@code tag BAD [code] text}; {@code code} may be {@code null}. */
    public void bad(String code, String text) {
        decide(Decision.reject(Status.BAD, code, text));
    }

    /** The session ends with {@code * BYE text}; the command does not reach the backend. */
    public void disconnect(String text) {
        decide(Decision.disconnect(text));
    }

    /**
     * The command goes on under another name with the same arguments ({@code SELECT} as
     * {@code EXAMINE}). The next policy sees the renamed command.
     */
    public void rename(String newName) {
        decide(Decision.rewrite(newName, null));
    }

    /**
     * The command goes on with other arguments (the text after the name, without the line
     * ending). Only for commands without literals.
     *
     * @throws IllegalStateException when the command carries literals
     */
    public void rewriteArguments(String arguments) {
        if (command.hasLiterals()) {
            throw new IllegalStateException("the arguments of a command with literals cannot be rewritten");
        }
        if (arguments.indexOf('\r') >= 0 || arguments.indexOf('\n') >= 0) {
            throw new IllegalArgumentException("arguments must be one line");
        }
        decide(Decision.rewrite(command.name(), arguments));
    }

    /**
     * Postern answers the command itself: {@code * line} for each of {@code untagged}, then
     * {@code tag OK text}. The backend does not see it.
     */
    public void answer(List<String> untagged, String text) {
        decide(Decision.answer(untagged, text));
    }
}
