package io.postern.proxy.relay;

import io.postern.proxy.config.ConfigException;
import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.server.PosternServer;
import java.net.InetSocketAddress;

/** A Postern in front of one backend, on a free loopback port, for the length of a test class. */
public final class PosternHarness implements AutoCloseable {

    private final PosternServer server;

    private PosternHarness(PosternServer server) {
        this.server = server;
    }

    static PosternHarness inFrontOf(String host, int port) throws Exception {
        return inFrontOf(host, port, "");
    }

    /** @param extraYaml more top-level keys, e.g. {@code timeouts:} or {@code limits:} */
    static PosternHarness inFrontOf(String host, int port, String extraYaml) throws Exception {
        return new PosternHarness(PosternServer.start(config(host, port, extraYaml)));
    }

    /** One plain listener on a free loopback port, one backend, static routing; plus {@code extraYaml}. */
    public static PosternConfig config(String host, int port, String extraYaml) throws ConfigException {
        return PosternConfig.parse("""
                listeners:
                  - name: imap
                    bind: 127.0.0.1:0
                    tls: none
                backends:
                  - name: backend
                    address: %s:%d
                    tls: none
                    connect_timeout: 2s
                routing:
                  strategy: static
                  default: backend
                %s
                """.formatted(host, port, extraYaml));
    }

    PosternServer server() {
        return server;
    }

    InetSocketAddress address() {
        return server.address("imap");
    }

    String host() {
        return address().getHostString();
    }

    int port() {
        return address().getPort();
    }

    @Override
    public void close() {
        server.close();
    }
}
