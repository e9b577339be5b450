package io.postern.policies;

import java.time.Duration;

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
 */
public record CommandCompletion(String tag, String command, String status, String code, Duration duration, boolean byPostern) {}
