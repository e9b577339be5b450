package io.postern.proxy.relay;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.postern.proxy.cli.CliRun;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Calls a running Postern's admin listener, over HTTP or through {@code postern.jar}'s commands. */
final class AdminClient {

    record Cli(int status, String out, String err) {}

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private final String base;
    private final String token;

    /** @param token the bearer token to send, or {@code null} for none */
    AdminClient(InetSocketAddress admin, String token) {
        this.base = "http://" + admin.getHostString() + ":" + admin.getPort();
        this.token = token;
    }

    String url() {
        return base;
    }

    HttpResponse<String> send(String method, String path) throws IOException, InterruptedException {
        return send(method, path, token == null ? null : "Bearer " + token);
    }

    HttpResponse<String> send(String method, String path, String authorization) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30))
                .method(method, HttpRequest.BodyPublishers.noBody());
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    JsonNode json(String method, String path) throws IOException, InterruptedException {
        HttpResponse<String> r = send(method, path);
        if (r.statusCode() != 200) {
            throw new AssertionError(method + " " + path + ": HTTP " + r.statusCode() + ": " + r.body());
        }
        return new ObjectMapper().readTree(r.body());
    }

    /** Runs {@code postern.jar ARGS} in this JVM, with its output captured. */
    static Cli cli(String... args) {
        CliRun.Result r = CliRun.run(args);
        return new Cli(r.status(), r.out(), r.err());
    }

    /** Waits (at most 15 s) for a condition that the machine's load may delay. */
    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 15_000_000_000L;
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        if (!condition.getAsBoolean()) {
            throw new AssertionError("not within 15 s: " + what);
        }
    }
}
