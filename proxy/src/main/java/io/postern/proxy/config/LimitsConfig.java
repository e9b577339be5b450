package io.postern.proxy.config;

import io.postern.imap.codec.ImapDecoderConfig;
import java.time.Duration;
import java.util.Set;

/**
 * {@code limits}: what a client or backend may send. The defaults are those of
 * {@link ImapDecoderConfig}.
 *
 * @param maxLoginFailures failed logins on one connection before Postern says {@code BYE}
 * @param loginFailureDelay the wait before answering the second failed login of an address or user
 *     (within 15 minutes); it doubles with each further failure
 * @param loginFailureDelayMax the longest such wait
 * @param maxSessionsPerUser sessions of one user at once through this Postern (0: no limit)
 * @param maxConnectionsPerAddress connections from one client address at once (0: no limit)
 * @param maxConnections client connections at once in all (0: no limit)
 */
public record LimitsConfig(
        ImapDecoderConfig commands,
        ImapDecoderConfig responses,
        int maxLoginFailures,
        Duration loginFailureDelay,
        Duration loginFailureDelayMax,
        int maxSessionsPerUser,
        int maxConnectionsPerAddress,
        int maxConnections) {

    static final Set<String> KEYS = Set.of(
            "max_line_length",
            "max_literal_size_before_auth",
            "max_literal_size_after_auth",
            "max_literals_per_command",
            "max_response_line_length",
            "max_login_failures",
            "login_failure_delay",
            "login_failure_delay_max",
            "max_sessions_per_user",
            "max_connections_per_address",
            "max_connections");

    static LimitsConfig defaults() {
        return new LimitsConfig(
                ImapDecoderConfig.commands(), ImapDecoderConfig.responses(), 3, Duration.ofSeconds(1), Duration.ofSeconds(16),
                20, 0, 0);
    }

    static LimitsConfig read(ConfigNode n) throws ConfigException {
        n.requireMapping(KEYS);
        ImapDecoderConfig commands = ImapDecoderConfig.builder()
                .maxLineLength(n.get("max_line_length").integer(
                        ImapDecoderConfig.DEFAULT_MAX_COMMAND_LINE_LENGTH, ImapDecoderConfig.MIN_LINE_LENGTH, 64 << 20))
                .maxLiteralSizeBeforeAuth(n.get("max_literal_size_before_auth").size(
                        ImapDecoderConfig.DEFAULT_MAX_LITERAL_SIZE_BEFORE_AUTH, 0, 1 << 20))
                .maxLiteralSizeAfterAuth(n.get("max_literal_size_after_auth").size(
                        ImapDecoderConfig.DEFAULT_MAX_LITERAL_SIZE_AFTER_AUTH, 0, Long.MAX_VALUE))
                .maxLiteralsPerCommand(n.get("max_literals_per_command").integer(
                        ImapDecoderConfig.DEFAULT_MAX_LITERALS_PER_COMMAND, 1, Integer.MAX_VALUE))
                .build();
        ImapDecoderConfig responses = ImapDecoderConfig.responses().toBuilder()
                .maxLineLength(n.get("max_response_line_length").integer(
                        ImapDecoderConfig.DEFAULT_MAX_RESPONSE_LINE_LENGTH, ImapDecoderConfig.MIN_LINE_LENGTH, 256 << 20))
                .build();
        int failures = n.get("max_login_failures").integer(3, 1, 1000);
        Duration delay = n.get("login_failure_delay").duration(Duration.ofSeconds(1), Duration.ZERO);
        Duration delayMax = n.get("login_failure_delay_max").duration(Duration.ofSeconds(16), Duration.ZERO);
        if (delayMax.compareTo(delay) < 0) {
            throw n.get("login_failure_delay_max").error("is shorter than login_failure_delay");
        }
        int perUser = n.get("max_sessions_per_user").integer(20, 0, 1_000_000);
        int perAddress = n.get("max_connections_per_address").integer(0, 0, 10_000_000);
        int connections = n.get("max_connections").integer(0, 0, 10_000_000);
        return new LimitsConfig(commands, responses, failures, delay, delayMax, perUser, perAddress, connections);
    }
}
