package io.postern.proxy.cli;

import io.postern.proxy.config.ConfigException;
import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.demo.Demo;
import io.postern.proxy.routing.Router;
import io.postern.proxy.routing.Routers;
import io.postern.proxy.server.ConfigFile;
import io.postern.proxy.server.PosternServer;
import io.postern.proxy.server.TlsRuntime;
import io.postern.tls.TlsConfigException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code java -jar postern.jar COMMAND}. Exit status: 0 success, 1 failure at run time, 2 a bad
 * configuration or command line.
 */
@Command(
        name = "postern.jar",
        mixinStandardHelpOptions = true,
        version = "Postern 0.1.0",
        description = "IMAP proxy and policy gateway.",
        subcommands = {
            PosternCli.Run.class,
            PosternCli.CheckConfig.class,
            PosternCli.Route.class,
            CertCommand.class,
            AuditCommand.class,
            Demo.class,
            AdminCommands.Sessions.class,
            AdminCommands.Kick.class,
            AdminCommands.Drain.class,
            AdminCommands.Move.class,
            AdminCommands.Reload.class
        })
public final class PosternCli implements Runnable {

    public static final int EXIT_FAILURE = 1;
    public static final int EXIT_BAD_CONFIG = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    public static int execute(String... args) {
        return new CommandLine(new PosternCli())
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    if (e instanceof ConfigException || e instanceof TlsConfigException) {
                        cmd.getErr().println("postern: " + ConfigFile.problem((Exception) e));
                        return EXIT_BAD_CONFIG;
                    }
                    if (e instanceof java.io.IOException) {
                        cmd.getErr().println("postern: " + e);
                        return EXIT_FAILURE;
                    }
                    throw e;
                })
                .execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getErr());
    }

    static PosternConfig load(Path file) throws ConfigException {
        return ConfigFile.load(file);
    }

    @Command(name = "run", mixinStandardHelpOptions = true, description = "Runs the proxy in the foreground until stopped (SIGTERM, Ctrl-C: a graceful shutdown); SIGHUP reloads the configuration.")
    static final class Run implements Callable<Integer> {
        @Option(names = "--config", required = true, description = "the YAML configuration file")
        Path config;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PosternServer server = PosternServer.start(config);
            ReloadSignal.onHangup(() -> {
                try {
                    server.reload();
                } catch (PosternServer.ReloadRefused e) {
                    spec.commandLine().getErr().println("postern: reload refused, the running configuration stays: "
                            + e.getMessage());
                }
            });
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                server.shutdownGracefully(server.config().timeouts().shutdownGrace());
                stopped.countDown();
            }, "postern-shutdown"));
            stopped.await();
            return 0;
        }
    }

    @Command(name = "check-config", mixinStandardHelpOptions = true, description = "Validates a configuration; exit 0 when good, 2 when not.")
    static final class CheckConfig implements Callable<Integer> {
        @Option(names = "--config", required = true, description = "the YAML configuration file")
        Path config;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PosternConfig c = load(config);
            TlsRuntime.create(c).close(); // loads and checks every certificate, key and CA
            PrintWriter out = spec.commandLine().getOut();
            out.println(config + ": ok (" + c.listeners().size() + " listener(s), " + c.backends().size()
                    + " backend(s), routing " + c.routing().strategy() + ")");
            return 0;
        }
    }

    @Command(name = "route", mixinStandardHelpOptions = true, description = {"Prints the name of the backend a user is routed to, from the configuration file alone.",
            "A running Postern may override it (admin API: move); ask it with GET /overrides."})
    static final class Route implements Callable<Integer> {
        @Option(names = "--config", required = true, description = "the YAML configuration file")
        Path config;

        @Parameters(index = "0", paramLabel = "USER", description = "the user name as the client logs in")
        String user;

        @Option(names = "--why", description = "also print how the backend was chosen")
        boolean explain;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PosternConfig c = load(config);
            Router.Route route;
            try (Router router = Routers.of(c)) {
                route = router.route(user);
            } catch (IllegalStateException e) { // a lookup that failed, or refuses the user
                spec.commandLine().getErr().println("postern: " + e.getMessage());
                return EXIT_FAILURE;
            }
            PrintWriter out = spec.commandLine().getOut();
            out.println(route.backend());
            if (explain) {
                out.println("  reason: " + route.reason() + " (key \"" + route.key() + "\", strategy "
                        + c.routing().strategy() + ")");
                if (!route.groups().isEmpty()) {
                    out.println("  groups: " + String.join("; ", route.groups()));
                }
            }
            return 0;
        }
    }
}
