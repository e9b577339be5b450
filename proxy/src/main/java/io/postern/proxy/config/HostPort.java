package io.postern.proxy.config;

import java.net.InetSocketAddress;

/** {@code host:port}, with IPv6 literals in brackets ({@code [::1]:1143}). */
public record HostPort(String host, int port) {

    static HostPort parse(ConfigNode node) throws ConfigException {
        String text = node.requiredString().trim();
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw node.error("expected host:port, found \"" + text + "\"");
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.contains(":")) {
            throw node.error("an IPv6 address needs brackets, as in [::1]:1143");
        }
        int port;
        try {
            port = Integer.parseInt(text.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw node.error("invalid port in \"" + text + "\"");
        }
        if (port < 0 || port > 65535) {
            throw node.error("port " + port + " is out of range (expected: 0 to 65535)");
        }
        return new HostPort(host, port);
    }

    public InetSocketAddress toUnresolved() {
        return InetSocketAddress.createUnresolved(host, port);
    }

    public InetSocketAddress toResolved() {
        return new InetSocketAddress(host, port);
    }

    @Override
    public String toString() {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
}
