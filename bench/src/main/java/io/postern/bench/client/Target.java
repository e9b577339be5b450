package io.postern.bench.client;

import java.net.URI;
import java.util.Locale;

/**
 * Where the driver connects: {@code imap://HOST:PORT} (plain), {@code imap+starttls://HOST:PORT}
 * or {@code imaps://HOST:PORT} (implicit TLS).
 *
 * @param trustAll accept any server certificate (tests and loopback benchmarks only)
 */
public record Target(String host, int port, Security security, boolean trustAll) {

    public enum Security {
        PLAIN,
        STARTTLS,
        IMPLICIT
    }

    public static Target parse(String spec, boolean trustAll) {
        URI uri;
        try {
            uri = URI.create(spec);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("target: " + spec + " (expected: imap://HOST:PORT, imap+starttls://HOST:PORT or imaps://HOST:PORT)");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        Security security;
        switch (scheme) {
            case "imap":
                security = Security.PLAIN;
                break;
            case "imap+starttls":
                security = Security.STARTTLS;
                break;
            case "imaps":
                security = Security.IMPLICIT;
                break;
            default:
                throw new IllegalArgumentException("target: " + spec + " (expected scheme: imap, imap+starttls or imaps)");
        }
        if (uri.getHost() == null || uri.getPort() <= 0) {
            throw new IllegalArgumentException("target: " + spec + " (expected: a host and a port)");
        }
        return new Target(uri.getHost(), uri.getPort(), security, trustAll);
    }

    @Override
    public String toString() {
        String scheme = security == Security.PLAIN ? "imap" : security == Security.STARTTLS ? "imap+starttls" : "imaps";
        return scheme + "://" + host + ":" + port;
    }
}
