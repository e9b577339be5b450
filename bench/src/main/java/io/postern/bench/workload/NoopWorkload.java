package io.postern.bench.workload;

import io.postern.bench.client.ImapConnection;
import io.postern.bench.client.Response;
import io.postern.bench.report.Latencies;
import io.postern.bench.report.RunResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * One session: sequential NOOP round trips (each sent once the previous answer arrived), then
 * bursts of {@code --depth} pipelined NOOPs written at once.
 */
@Command(name = "noop", description = "NOOP round-trip latency (sequential) and pipelined bursts (commands/s).")
public final class NoopWorkload extends WorkloadCommand {

    @Option(names = "--round-trips", description = "Sequential NOOPs measured (default ${DEFAULT-VALUE}).")
    int roundTrips = 5000;

    @Option(names = "--warmup", description = "Sequential NOOPs before those measured (default ${DEFAULT-VALUE}).")
    int warmup = 1000;

    @Option(names = "--bursts", description = "Pipelined bursts (default ${DEFAULT-VALUE}).")
    int bursts = 300;

    @Option(names = "--depth", description = "NOOPs per burst (default ${DEFAULT-VALUE}).")
    int depth = 100;

    @Option(names = "--mailbox", description = "Mailbox to SELECT first; empty: stay in the authenticated state (default ${DEFAULT-VALUE}).")
    String mailbox = "";


    @Override
    public RunResult run(Context ctx) throws Exception {
        RunResult result = ctx.result(name()).parameter("round_trips", roundTrips).parameter("warmup", warmup)
                .parameter("bursts", bursts).parameter("depth", depth).parameter("mailbox", mailbox);
        long start = System.nanoTime();
        long deadline = ctx.deadline(start);
        Duration step = ctx.time().plus(Duration.ofSeconds(10));
        ImapConnection c = Context.await(ctx.login(0), step);
        try {
            if (!mailbox.isEmpty()) {
                Context.await(Context.ok(c, "SELECT " + Context.quoted(mailbox)), step);
            }
            Latencies rtt = new Latencies();
            long[] t0 = new long[1];
            int sequential = Context.await(Steps.repeat(c.channel().eventLoop(), warmup + roundTrips, deadline, i -> {
                t0[0] = System.nanoTime();
                return c.command("NOOP").thenAccept(r -> {
                    if (i >= warmup) {
                        rtt.add(System.nanoTime() - t0[0]);
                    }
                });
            }), step);
            result.metric("round_trips", Math.max(0, sequential - warmup));
            rtt.report(result, "rtt", true);

            Latencies burstTimes = new Latencies();
            long[] counts = new long[2];
            long burstStart = System.nanoTime();
            Context.await(Steps.repeat(c.channel().eventLoop(), bursts, deadline, b -> {
                long began = System.nanoTime();
                List<CompletableFuture<Response>> answers = new ArrayList<>(depth);
                for (int i = 0; i < depth; i++) {
                    answers.add(c.command("NOOP", false));
                }
                c.flush();
                return CompletableFuture.allOf(answers.toArray(CompletableFuture[]::new)).thenRun(() -> {
                    burstTimes.add(System.nanoTime() - began);
                    for (CompletableFuture<Response> answer : answers) {
                        counts[answer.join().ok() ? 0 : 1]++;
                    }
                });
            }), step);
            double burstSeconds = Context.seconds(burstStart, System.nanoTime());
            result.metric("pipelined_commands", counts[0]).metric("pipelined_failures", counts[1])
                    .metric("pipelined_commands_per_s", counts[0] / burstSeconds);
            burstTimes.report(result, "burst", false);
        } finally {
            Context.await(c.logout(), Duration.ofSeconds(10));
        }
        result.seconds(Context.seconds(start, System.nanoTime()));
        return result;
    }
}
