package io.postern.policies;

import java.time.Duration;
import java.util.List;

/**
 * A command's tagged completion, as the backend (or Postern, for a command it answered)
 * gave it.
 *
 * @param tag the command's tag
 * @param command the command name, upper case ({@code UID FETCH})
 * @param status {@code OK}, {@code NO} or {@code BAD}
 * @param code the response code name ({@code TRYCREATE}), or {@code null}
 * @param duration from the command's first line to its completion
 * @param byPostern whether Postern answered it (a policy's refusal, for example) rather than the backend
 * @param codeText the whole response code inside the brackets, arguments included
 *     ({@code APPENDUID 38505 3955}, {@code COPYUID 38505 304,319 3956:3957}), or {@code null}
 * @param policy the policy that answered it when {@code byPostern} was a policy's decision, or {@code null}
 * @param deletedUids for {@code EXPUNGE} and {@code CLOSE} where a policy asked for them
 *     ({@link Policy.Builder#wantsDeletedUids}): the UIDs of the selected mailbox's messages
 *     flagged {@code \Deleted} just before the command ran (what it expunges, unless another
 *     session changed flags in between); {@code null} when not known
 */
public record CommandCompletion(String tag, String command, String status, String code, Duration duration, boolean byPostern,
        String codeText, String policy, List<String> deletedUids) {

    public CommandCompletion {
        deletedUids = deletedUids == null ? null : List.copyOf(deletedUids);
    }

    public CommandCompletion(String tag, String command, String status, String code, Duration duration, boolean byPostern,
            String codeText, String policy) {
        this(tag, command, status, code, duration, byPostern, codeText, policy, null);
    }

    public CommandCompletion(String tag, String command, String status, String code, Duration duration, boolean byPostern) {
        this(tag, command, status, code, duration, byPostern, null, null, null);
    }
}
