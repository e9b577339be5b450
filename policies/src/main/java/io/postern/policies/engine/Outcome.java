package io.postern.policies.engine;

import io.postern.policies.Command;
import io.postern.policies.Decision;

/**
 * What a chain decided for a login or a command.
 *
 * @param decision {@link Decision.Kind#PROCEED} (every policy let it through), or the decision
 *     of the policy that stopped it (REJECT, DISCONNECT, ANSWER)
 * @param command the command as it goes on (renamed or rewritten by policies), or {@code null} for a login
 * @param policy the name of the policy that stopped it, or {@code null}
 * @param error the failure of that policy (it threw, decided twice, or returned without deciding), or {@code null}
 */
public record Outcome(Decision decision, Command command, String policy, Throwable error) {}
