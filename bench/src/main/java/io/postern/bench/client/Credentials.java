package io.postern.bench.client;

/**
 * The users sessions log in as. With a {@code %d} in the user name, session i logs in as the
 * name with {@code i % count} in its place (many users spread sessions over per-user limits).
 */
public record Credentials(String userPattern, int count, String password) {

    public Credentials {
        if (count < 1) {
            throw new IllegalArgumentException("user count: " + count + " (expected: >= 1)");
        }
        if (count > 1 && !userPattern.contains("%d")) {
            throw new IllegalArgumentException("user: " + userPattern + " (expected: a %d in the name when --user-count > 1)");
        }
    }

    public String user(long session) {
        return userPattern.contains("%d") ? userPattern.replace("%d", Long.toString(session % count)) : userPattern;
    }
}
