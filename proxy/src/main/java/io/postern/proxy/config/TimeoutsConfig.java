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
 */
public record TimeoutsConfig(Duration preAuth, Duration idle) {

    static final Set<String> KEYS = Set.of("pre_auth", "idle");

    static TimeoutsConfig defaults() {
        return new TimeoutsConfig(Duration.ofSeconds(60), Duration.ofMinutes(35));
    }

    static TimeoutsConfig read(ConfigNode n) throws ConfigException {
        n.requireMapping(KEYS);
        Duration preAuth = n.get("pre_auth").duration(Duration.ofSeconds(60), Duration.ofMillis(100));
        Duration idle = n.get("idle").duration(Duration.ofMinutes(35), Duration.ofMillis(100));
        return new TimeoutsConfig(preAuth, idle);
    }
}
