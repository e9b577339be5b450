package io.postern.bench;

import io.postern.bench.seed.SeedCommand;
import io.postern.bench.workload.AppendWorkload;
import io.postern.bench.workload.CompareCommand;
import io.postern.bench.workload.FetchWorkload;
import io.postern.bench.workload.IdleWorkload;
import io.postern.bench.workload.LoginWorkload;
import io.postern.bench.workload.MixedWorkload;
import io.postern.bench.workload.NoopWorkload;
import java.util.Arrays;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code java -jar postern-bench.jar WORKLOAD --target URL ...}, {@code compare --a URL --b URL
 * WORKLOAD ...}, {@code seed ...}, or {@code jmh [JMH options]} for the micro-benchmarks.
 */
@Command(name = "postern-bench", mixinStandardHelpOptions = true,
        description = "Load driver for IMAP servers and proxies, and Postern's JMH benchmarks.",
        subcommands = {LoginWorkload.class, NoopWorkload.class, FetchWorkload.class, AppendWorkload.class,
            IdleWorkload.class, MixedWorkload.class, CompareCommand.class, SeedCommand.class})
public final class BenchMain {

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("jmh")) {
            org.openjdk.jmh.Main.main(Arrays.copyOfRange(args, 1, args.length));
            return;
        }
        System.exit(new CommandLine(new BenchMain()).execute(args));
    }
}
