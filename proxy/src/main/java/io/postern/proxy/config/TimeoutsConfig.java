package io.postern.proxy.config;

import java.time.Duration;
import java.util.Set;

/**
 * {@code timeouts}.
 *
 * @param preAuth a client that has not logged in this long after connecting gets {@code BYE} (a
 *     deadline, not an idle timer: trickling bytes does not extend it)
 * @param idle an authenticated session in which neither side sent anything for this long is
 *     closed with {@code BYE}; RFC 9051 asks for at least 30 minutes
 * @param shutdownGrace how long a graceful shutdown (and a kick, drain or move) waits for running
 *     commands to complete before the connection is cut
 */
public record TimeoutsConfig(Duration preAuth, Duration idle, Duration shutdownGrace) {

    static final Set<String> KEYS = Set.of("pre_auth", "idle", "shutdown_grace");

    static TimeoutsConfig defaults() {
        return new TimeoutsConfig(Duration.ofSeconds(60), Duration.ofMinutes(35), Duration.ofSeconds(30));
    }

    static TimeoutsConfig read(ConfigNode n) throws ConfigException {
        n.requireMapping(KEYS);
        Duration preAuth = n.get("pre_auth").duration(Duration.ofSeconds(60), Duration.ofMillis(100));
        Duration idle = n.get("idle").duration(Duration.ofMinutes(35), Duration.ofMillis(100));
        Duration shutdownGrace = n.get("shutdown_grace").duration(Duration.ofSeconds(30), Duration.ZERO);
        return new TimeoutsConfig(preAuth, idle, shutdownGrace);
    }
}
