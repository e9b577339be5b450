package io.postern.bench.workload;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.postern.bench.client.ImapConnection;
import io.postern.bench.client.Response;
import io.postern.bench.report.Latencies;
import io.postern.bench.report.RunResult;
import io.postern.bench.seed.MessageGenerator;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A mix of what mail clients do, from {@code --clients} sessions at once: each opens the mailbox
 * and then picks, with a seeded random generator, among checking for news (NOOP, STATUS), listing
 * (a window of headers, flags and sizes), reading a whole message, searching, flagging, and
 * filing a small message by APPEND (into a scratch mailbox, deleted at the end), with
 * {@code --think} between operations. Counts operations per second and latency per kind.
 */
@Command(name = "mixed", description = "A realistic client mix: operations/s and latency per kind of operation.")
public final class MixedWorkload extends WorkloadCommand {

    @Option(names = "--clients", description = "Sessions at once (default ${DEFAULT-VALUE}).")
    int clients = 16;

    @Option(names = "--operations", description = "Operations in all (default ${DEFAULT-VALUE}).")
    int operations = 5000;

    @Option(names = "--mailbox", description = "Mailbox the clients read (default ${DEFAULT-VALUE}).")
    String mailbox = "INBOX";

    @Option(names = "--scratch", description = "Mailbox the APPENDs go to, deleted at the end (default ${DEFAULT-VALUE}).")
    String scratch = "bench-mixed";

    @Option(names = "--think", description = "Pause between a client's operations (default ${DEFAULT-VALUE}).", converter = DurationConverter.class)
    Duration think = Duration.ZERO;

    @Option(names = "--seed", description = "Seed of the operation choice (default ${DEFAULT-VALUE}).")
    long seed = 1;

    /** Operation kinds and their weights (percent). */
    private static final String[] KINDS = {"noop", "status", "list_window", "read_message", "search", "flag", "append"};
    private static final int[] WEIGHTS = {25, 10, 25, 25, 5, 5, 5};


    @Override
    public RunResult run(Context ctx) throws Exception {
        RunResult result = ctx.result(name()).parameter("clients", clients).parameter("operations", operations)
                .parameter("mailbox", mailbox).parameter("think_ms", think.toMillis()).parameter("seed", seed);
        long start = System.nanoTime();
        long deadline = ctx.deadline(start);
        Duration step = ctx.time().plus(Duration.ofSeconds(30));
        ImapConnection admin = Context.await(ctx.login(clients), step);
        Context.await(Context.create(admin, scratch), step);
        ByteBuf message = Unpooled.wrappedBuffer(new MessageGenerator(5).message(0, 8 * 1024));
        Map<String, Latencies> latencies = new LinkedHashMap<>();
        for (String kind : KINDS) {
            latencies.put(kind, new Latencies());
        }
        Latencies all = new Latencies();
        int[] remaining = {operations};
        long[] bytes = new long[1];
        List<CompletableFuture<Integer>> sessions = new ArrayList<>();
        long began = System.nanoTime();
        for (int s = 0; s < clients; s++) {
            Random random = new Random(seed * 1_000_003 + s);
            sessions.add(ctx.login(s).thenCompose(c -> {
                long[] exists = {0};
                c.onUntagged(r -> {
                    long n = r.exists();
                    if (n >= 0) {
                        exists[0] = n;
                    }
                });
                return Context.ok(c, "SELECT " + Context.quoted(mailbox)).thenCompose(selected ->
                        Steps.repeat(c.channel().eventLoop(), Integer.MAX_VALUE, deadline, i -> {
                            synchronized (remaining) {
                                if (remaining[0] <= 0) {
                                    return CompletableFuture.failedFuture(new Finished());
                                }
                                remaining[0]--;
                            }
                            String kind = pick(random);
                            long t0 = System.nanoTime();
                            c.resetCounters();
                            return operation(c, kind, random, Math.max(1, exists[0]), message).thenCompose(r -> {
                                long took = System.nanoTime() - t0;
                                long literal = c.parser().literalBytes();
                                synchronized (latencies) {
                                    latencies.get(kind).add(took);
                                    all.add(took);
                                    bytes[0] += literal;
                                }
                                if (!r.ok()) {
                                    result.error(kind + ": " + r.text());
                                }
                                return think.isZero() ? CompletableFuture.completedFuture(null)
                                        : CompletableFuture.runAsync(() -> { },
                                                CompletableFuture.delayedExecutor(think.toMillis(), TimeUnit.MILLISECONDS,
                                                        c.channel().eventLoop()));
                            });
                        }).handle((n, e) -> {
                            if (e != null && !(e.getCause() instanceof Finished) && !(e instanceof Finished)) {
                                result.error(Context.describe(e));
                            }
                            return n;
                        }).thenCompose(n -> c.logout().thenApply(v -> n)));
            }));
        }
        try {
            Context.await(CompletableFuture.allOf(sessions.toArray(CompletableFuture[]::new)), step);
        } finally {
            message.release();
        }
        double seconds = Context.seconds(began, System.nanoTime());
        Context.await(Context.ok(admin, "DELETE " + Context.quoted(scratch)), step);
        Context.await(admin.logout(), Duration.ofSeconds(10));
        synchronized (latencies) {
            result.metric("operations", all.count()).metric("operations_per_s", all.count() / seconds)
                    .metric("mb_per_s", bytes[0] / 1e6 / seconds);
            all.report(result, "latency", false);
            for (Map.Entry<String, Latencies> kind : latencies.entrySet()) {
                result.metric(kind.getKey() + "_p50_ms", kind.getValue().percentileMillis(50));
            }
        }
        result.seconds(Context.seconds(start, System.nanoTime()));
        return result;
    }

    /** Ends a client's loop once the operation budget is spent. */
    private static final class Finished extends RuntimeException {
        Finished() {
            super("operation budget spent", null, false, false);
        }
    }

    private static String pick(Random random) {
        int r = random.nextInt(100);
        for (int i = 0; i < KINDS.length; i++) {
            r -= WEIGHTS[i];
            if (r < 0) {
                return KINDS[i];
            }
        }
        return KINDS[0];
    }

    private CompletableFuture<Response> operation(ImapConnection c, String kind, Random random, long exists, ByteBuf message) {
        long n = 1 + (long) (random.nextDouble() * exists);
        switch (kind) {
            case "noop":
                return c.command("NOOP");
            case "status":
                return c.command("STATUS " + Context.quoted(mailbox) + " (MESSAGES UNSEEN UIDNEXT)");
            case "list_window": {
                long from = Math.max(1, n - 24);
                return c.command("FETCH " + from + ":" + n
                        + " (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID)])");
            }
            case "read_message":
                return c.command("FETCH " + n + " (FLAGS BODY.PEEK[])");
            case "search":
                return c.command("SEARCH UNSEEN SINCE 1-Jan-2020");
            case "flag":
                return c.command("STORE " + n + (random.nextBoolean() ? " +FLAGS" : " -FLAGS") + " (\\Flagged)");
            case "append":
                return c.append(scratch, message, false);
            default:
                throw new IllegalArgumentException(kind);
        }
    }
}
