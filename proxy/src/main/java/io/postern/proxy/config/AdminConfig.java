package io.postern.proxy.config;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;

/**
 * {@code admin}: the HTTP listener for health checks, the admin API and the status page.
 *
 * <p>The token rule: with {@code token_file} set, every request except {@code /healthz} and
 * {@code /readyz} needs {@code Authorization: Bearer TOKEN}; without it the listener must be on a
 * loopback address, where anyone who can connect is trusted.
 *
 * @param bind the address to listen on
 * @param tokenFile a file whose first line is the bearer token, or {@code null}
 * @param requestTimeout how long a connection may take to send its whole request (a deadline:
 *     trickling bytes does not extend it)
 */
public record AdminConfig(HostPort bind, Path tokenFile, Duration requestTimeout) {

    static final Set<String> KEYS = Set.of("bind", "token_file", "request_timeout");

    public boolean requiresToken() {
        return tokenFile != null;
    }

    static AdminConfig read(ConfigNode n) throws ConfigException {
        n.requireMapping(KEYS);
        HostPort bind = HostPort.parse(n.get("bind"));
        Path tokenFile = n.get("token_file").file(true);
        if (tokenFile == null && !isLoopback(n.get("bind"), bind.host())) {
            throw n.get("token_file").error("required when admin.bind is not a loopback address (" + bind + ")");
        }
        if (tokenFile != null) {
            try {
                if (readToken(tokenFile).isEmpty()) {
                    throw n.get("token_file").error("the file " + tokenFile + " is empty (expected: the token on its first line)");
                }
            } catch (java.io.IOException e) {
                throw n.get("token_file").error("cannot read file " + tokenFile + ": " + e.getMessage());
            }
        }
        Duration requestTimeout = n.get("request_timeout")
                .duration(Duration.ofSeconds(10), Duration.ofMillis(100));
        return new AdminConfig(bind, tokenFile, requestTimeout);
    }

    /** The token: the first line of the file, without surrounding white space. */
    public static String readToken(Path file) throws java.io.IOException {
        try (java.io.BufferedReader r = java.nio.file.Files.newBufferedReader(file)) {
            String line = r.readLine();
            return line == null ? "" : line.strip();
        }
    }

    private static boolean isLoopback(ConfigNode node, String host) throws ConfigException {
        try {
            for (InetAddress a : InetAddress.getAllByName(host)) {
                if (!a.isLoopbackAddress()) {
                    return false;
                }
            }
            return true;
        } catch (UnknownHostException e) {
            throw node.error("unknown host \"" + host + "\"");
        }
    }
}
