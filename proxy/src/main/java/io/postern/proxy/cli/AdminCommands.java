package io.postern.proxy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.postern.proxy.config.AdminConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The command-line side of the admin API: each command is one HTTP request to a running
 * Postern's admin listener. Exit status 0 when it answered 2xx, 1 otherwise.
 */
final class AdminCommands {

    private AdminCommands() {}

    /** Where the admin listener is, and the token it wants. */
    static final class Target {
        @Option(names = "--admin", defaultValue = "http://127.0.0.1:9143", paramLabel = "URL",
                description = "the admin listener (default: ${DEFAULT-VALUE})")
        URI admin;

        @Option(names = "--token-file", paramLabel = "FILE",
                description = "a file whose first line is the bearer token (admin.token_file of the server)")
        Path tokenFile;

        @CommandLine.Spec(CommandLine.Spec.Target.MIXEE)
        CommandLine.Model.CommandSpec spec;

        /** Sends the request, prints the answer (to stderr when it is not 2xx), returns the exit status. */
        int call(String method, String path) throws IOException, InterruptedException {
            return print(send(method, path));
        }

        HttpResponse<String> send(String method, String path) throws IOException, InterruptedException {
            String base = admin.toString().replaceAll("/+$", "");
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path))
                    .timeout(Duration.ofSeconds(60))
                    .method(method, HttpRequest.BodyPublishers.noBody());
            if (tokenFile != null) {
                request.header("Authorization", "Bearer " + AdminConfig.readToken(tokenFile));
            }
            HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
        }

        int print(HttpResponse<String> response) {
            boolean ok = response.statusCode() / 100 == 2;
            PrintWriter out = ok ? spec.commandLine().getOut() : spec.commandLine().getErr();
            if (!ok) {
                out.print("postern: HTTP " + response.statusCode() + ": ");
            }
            out.print(response.body().endsWith("\n") ? response.body() : response.body() + "\n");
            out.flush();
            return ok ? 0 : PosternCli.EXIT_FAILURE;
        }

        static String encode(String s) {
            return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
        }
    }

    @Command(name = "sessions", mixinStandardHelpOptions = true, description = "Lists the live sessions of a running Postern.")
    static final class Sessions implements Callable<Integer> {
        @Mixin
        Target target;

        @Option(names = "--json", description = "print the admin API's JSON as it is")
        boolean json;

        @Override
        public Integer call() throws Exception {
            if (json) {
                return target.call("GET", "/sessions");
            }
            HttpResponse<String> response = target.send("GET", "/sessions");
            if (response.statusCode() != 200) {
                return target.print(response);
            }
            JsonNode sessions = new ObjectMapper().readTree(response.body());
            PrintWriter realOut = target.spec.commandLine().getOut();
            realOut.printf("%-8s %-24s %-22s %-10s %-12s %-10s %-20s %10s %10s%n",
                    "ID", "USER", "CLIENT", "LISTENER", "BACKEND", "STATE", "SINCE", "BYTES IN", "BYTES OUT");
            for (JsonNode s : sessions) {
                realOut.printf("%-8s %-24s %-22s %-10s %-12s %-10s %-20s %10d %10d%n",
                        s.path("id").asText(), s.path("user").asText("-"), s.path("client").asText("-"),
                        s.path("listener").asText(), s.path("backend").asText("-"), s.path("state").asText(),
                        s.path("since").asText().replaceAll("\\.\\d+Z$", "Z"), s.path("bytes_in").asLong(),
                        s.path("bytes_out").asLong());
            }
            realOut.flush();
            return 0;
        }
    }

    @Command(name = "kick", mixinStandardHelpOptions = true,
            description = "Ends a user's sessions (* BYE [UNAVAILABLE] after their running commands).")
    static final class Kick implements Callable<Integer> {
        @Mixin
        Target target;

        @Parameters(index = "0", paramLabel = "USER")
        String user;

        @Override
        public Integer call() throws Exception {
            return target.call("POST", "/sessions/kick?user=" + Target.encode(user));
        }
    }

    @Command(name = "drain", mixinStandardHelpOptions = true,
            description = "Drains a backend: no new sessions go there, its sessions end after their running commands.")
    static final class Drain implements Callable<Integer> {
        @Mixin
        Target target;

        @Parameters(index = "0", paramLabel = "BACKEND")
        String backend;

        @Option(names = "--undo", description = "undrain: the backend takes new sessions again")
        boolean undo;

        @Override
        public Integer call() throws Exception {
            return target.call("POST", "/backends/" + Target.encode(backend) + (undo ? "/undrain" : "/drain"));
        }
    }

    @Command(name = "move", mixinStandardHelpOptions = true,
            description = {"Moves a user to another backend in a running Postern (until it restarts: change the",
                "configured route too); the user's sessions elsewhere get * BYE [UNAVAILABLE] mailbox moved."})
    static final class Move implements Callable<Integer> {
        @Mixin
        Target target;

        @Parameters(index = "0", paramLabel = "USER")
        String user;

        @Parameters(index = "1", paramLabel = "BACKEND", arity = "0..1")
        String backend;

        @Option(names = "--clear", description = "forget the user's override: the configured route applies again")
        boolean clear;

        @Override
        public Integer call() throws Exception {
            String path = "/users/" + Target.encode(user) + "/move";
            if (clear) {
                return target.call("DELETE", path);
            }
            if (backend == null) {
                throw new CommandLine.ParameterException(target.spec.commandLine(), "BACKEND is required (or --clear)");
            }
            return target.call("POST", path + "?backend=" + Target.encode(backend));
        }
    }

    @Command(name = "reload", mixinStandardHelpOptions = true,
            description = "Makes a running Postern re-read its configuration file (as SIGHUP does).")
    static final class Reload implements Callable<Integer> {
        @Mixin
        Target target;

        @Override
        public Integer call() throws Exception {
            return target.call("POST", "/reload");
        }
    }
}
