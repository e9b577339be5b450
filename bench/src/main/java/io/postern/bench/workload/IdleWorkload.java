package io.postern.bench.workload;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.postern.bench.client.ImapConnection;
import io.postern.bench.client.Response;
import io.postern.bench.report.Latencies;
import io.postern.bench.report.RunResult;
import io.postern.bench.seed.MessageGenerator;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code --sessions} sessions log in, SELECT one mailbox and IDLE. With {@code --pid}, the
 * resident memory of that process (the proxy) is read before and while they idle, and for a JVM
 * its heap after a full GC ({@code jcmd}); warm-up rounds first, because a fresh JVM grows once
 * under its first load. Then another session APPENDs {@code --appends} times and the time until
 * each idler sees the {@code * n EXISTS} is recorded.
 */
@Command(name = "idle", description = "N sessions in IDLE: memory per session of a given PID, time for EXISTS to reach the idlers.")
public final class IdleWorkload extends WorkloadCommand {

    @Option(names = "--sessions", description = "Idling sessions (default ${DEFAULT-VALUE}).")
    int sessions = 1000;

    @Option(names = "--connect-concurrency", description = "Sessions being set up at once (default ${DEFAULT-VALUE}).")
    int connectConcurrency = 64;

    @Option(names = "--mailbox", description = "Mailbox the idlers SELECT, created if missing (default ${DEFAULT-VALUE}).")
    String mailbox = "bench-idle";

    @Option(names = "--pid", description = "Process whose memory is measured (e.g. Postern's); 0: none (default ${DEFAULT-VALUE}).")
    long pid;

    @Option(names = "--jcmd", description = "jcmd for a JVM's GC and heap figures; empty: do not use it (default ${DEFAULT-VALUE}).")
    String jcmd = "jcmd";

    @Option(names = "--warmup-rounds", description = "Whole rounds (all sessions up, then down) before the measured one (default ${DEFAULT-VALUE}).")
    int warmupRounds = 1;

    @Option(names = "--appends", description = "APPENDs whose EXISTS is timed (default ${DEFAULT-VALUE}).")
    int appends = 3;

    @Option(names = "--exists-timeout", description = "Longest wait for every idler to see an EXISTS (default ${DEFAULT-VALUE}).",
            converter = DurationConverter.class)
    Duration existsTimeout = Duration.ofSeconds(15);

    @Option(names = "--settle", description = "Wait after all sessions idle, before reading memory (default ${DEFAULT-VALUE}).",
            converter = DurationConverter.class)
    Duration settle = Duration.ofSeconds(3);

    @Option(names = "--hold", description = "Extra time to stay idling, e.g. to look at the proxy by hand (default ${DEFAULT-VALUE}).",
            converter = DurationConverter.class)
    Duration hold = Duration.ZERO;


    /** One idling session and what it has seen. */
    private static final class Idler {
        final ImapConnection connection;
        final CompletableFuture<Response> end;
        /** Logged in as the appender's user: sees its APPENDs. */
        boolean sameUser;
        volatile long exists;
        volatile long baseline = -1;
        /** When the EXISTS for the baseline + k-th message arrived ({@link System#nanoTime()}), 0 until then. */
        final long[] arrivals;

        /** On the event loop: an {@code * n EXISTS}. */
        void exists(long n) {
            long now = System.nanoTime();
            for (long k = Math.max(1, exists - baseline + 1); k <= n - baseline && k < arrivals.length; k++) {
                arrivals[(int) k] = now;
            }
            exists = n;
        }

        synchronized long arrival(int k) {
            return arrivals[k];
        }

        Idler(ImapConnection connection, CompletableFuture<Response> end, int appends) {
            this.connection = connection;
            this.end = end;
            this.arrivals = new long[appends + 1];
        }
    }

    @Override
    public RunResult run(Context ctx) throws Exception {
        RunResult result = ctx.result(name()).parameter("sessions", sessions).parameter("mailbox", mailbox)
                .parameter("pid", pid).parameter("warmup_rounds", warmupRounds).parameter("appends", appends);
        long start = System.nanoTime();
        long deadline = ctx.deadline(start);
        ProcessMemory memory = pid > 0 ? new ProcessMemory(pid, jcmd) : null;
        boolean useJcmd = memory != null && !jcmd.isEmpty();
        Duration step = ctx.time().plus(Duration.ofSeconds(10));
        createMailboxes(ctx, step);
        ImapConnection appender = Context.await(ctx.login(0), step);
        try {
            for (int round = 0; round <= warmupRounds; round++) {
                boolean measured = round == warmupRounds;
                long rssBefore = 0;
                if (measured && memory != null) {
                    if (useJcmd) {
                        memory.gc();
                        result.metric("heap_before_mib", memory.heapUsedKib() / 1024.0);
                    }
                    Thread.sleep(settle.toMillis());
                    rssBefore = memory.rssKib();
                    result.metric("rss_before_kib", rssBefore);
                }
                long firstRoundRss = round == 0 && !measured && memory != null ? memory.rssKib() : 0;
                Latencies setup = new Latencies();
                List<Idler> idlers = openIdlers(ctx, deadline, step, setup, measured ? result : null);
                try {
                    if (!measured) {
                        if (firstRoundRss > 0) {
                            // what a fresh process grows by under its first load: not the steady state
                            Thread.sleep(settle.toMillis());
                            result.metric("first_round_rss_per_session_kib",
                                    (memory.rssKib() - firstRoundRss) / (double) Math.max(1, idlers.size()));
                        }
                        continue;
                    }
                    result.metric("idling", idlers.size()).metric("failures", sessions - idlers.size());
                    setup.report(result, "setup", false);
                    Thread.sleep(settle.toMillis());
                    if (memory != null) {
                        long rssIdle = memory.rssKib();
                        result.metric("rss_idle_kib", rssIdle)
                                .metric("rss_per_session_kib", (rssIdle - rssBefore) / (double) Math.max(1, idlers.size()));
                        if (useJcmd) {
                            memory.gc();
                            result.metric("heap_idle_after_gc_mib", memory.heapUsedKib() / 1024.0);
                            result.metric("rss_idle_after_gc_kib", memory.rssKib());
                        }
                    }
                    if (!hold.isZero()) {
                        System.err.printf("idle: %d sessions idling; holding for %s%n", idlers.size(), hold);
                        Thread.sleep(hold.toMillis());
                    }
                    timeExists(appender, idlers, step, result);
                } finally {
                    closeIdlers(idlers, result);
                }
            }
        } finally {
            Context.await(appender.logout(), Duration.ofSeconds(10));
        }
        result.seconds(Context.seconds(start, System.nanoTime()));
        return result;
    }

    private List<Idler> openIdlers(Context ctx, long deadline, Duration step, Latencies setup, RunResult result)
            throws IOException {
        ConcurrentLinkedQueue<Idler> idlers = new ConcurrentLinkedQueue<>();
        AtomicInteger next = new AtomicInteger();
        AtomicInteger running = new AtomicInteger(connectConcurrency);
        CompletableFuture<Void> finished = new CompletableFuture<>();
        Runnable[] worker = new Runnable[1];
        worker[0] = () -> {
            int index = next.getAndIncrement();
            if (index >= sessions || System.nanoTime() >= deadline) {
                if (running.decrementAndGet() == 0) {
                    finished.complete(null);
                }
                return;
            }
            long t0 = System.nanoTime();
            ctx.login(index).thenCompose(c -> {
                Idler[] holder = new Idler[1];
                long[] selected = {-1};
                c.onUntagged(r -> {
                    long n = r.exists();
                    if (n >= 0) {
                        if (holder[0] == null) {
                            selected[0] = n;
                        } else {
                            synchronized (holder[0]) {
                                holder[0].exists(n);
                            }
                        }
                    }
                });
                return Context.ok(c, "SELECT " + Context.quoted(mailbox)).thenCompose(r -> {
                    CompletableFuture<Response> idling = new CompletableFuture<>();
                    Idler idler = new Idler(c, c.idle(idling), appends);
                    idler.baseline = selected[0];
                    idler.sameUser = ctx.credentials().user(index).equals(ctx.credentials().user(0));
                    idler.exists = selected[0];
                    holder[0] = idler;
                    return idling.thenApply(plus -> idler);
                }).whenComplete((idler, e) -> {
                    if (e != null) {
                        c.close();
                    }
                });
            }).whenComplete((idler, e) -> {
                if (e != null) {
                    if (result != null) {
                        result.error(Context.describe(e));
                    }
                } else {
                    idlers.add(idler);
                    synchronized (setup) {
                        setup.add(System.nanoTime() - t0);
                    }
                }
                ctx.runtime().execute(worker[0]);
            });
        };
        for (int i = 0; i < connectConcurrency; i++) {
            ctx.runtime().execute(worker[0]);
        }
        Context.await(finished, step);
        return new ArrayList<>(idlers);
    }

    /** The idle mailbox of every user the sessions log in as. */
    private void createMailboxes(Context ctx, Duration step) throws IOException {
        int users = Math.min(ctx.credentials().count(), Math.max(1, sessions));
        for (int u = 0; u < users; u++) {
            ImapConnection c = Context.await(ctx.login(u), step);
            try {
                Context.await(Context.create(c, mailbox), step);
            } finally {
                Context.await(c.logout(), step);
            }
        }
    }

    /** Times the EXISTS of each APPEND at the idlers that share the appender's user (and so its mailbox). */
    private void timeExists(ImapConnection appender, List<Idler> allIdlers, Duration step, RunResult result)
            throws IOException, InterruptedException {
        List<Idler> idlers = allIdlers.stream().filter(i -> i.sameUser).toList();
        result.metric("exists_idlers", idlers.size());
        if (idlers.isEmpty() || appends <= 0) {
            return;
        }
        byte[] bytes = new MessageGenerator(11).message(0, 4096);
        ByteBuf message = Unpooled.wrappedBuffer(bytes);
        Latencies first = new Latencies();
        Latencies median = new Latencies();
        Latencies last = new Latencies();
        long missing = 0;
        try {
            for (int k = 1; k <= appends; k++) {
                long t0 = System.nanoTime();
                Response r = Context.await(appender.append(mailbox, message, false), step);
                if (!r.ok()) {
                    throw new IOException("APPEND to " + mailbox + ": " + r.text());
                }
                long waitEnd = t0 + existsTimeout.toNanos();
                Latencies arrivals = new Latencies();
                while (System.nanoTime() < waitEnd) {
                    arrivals = new Latencies();
                    for (Idler idler : idlers) {
                        long at = idler.arrival(k);
                        if (at != 0) {
                            arrivals.add(at - t0);
                        }
                    }
                    if (arrivals.count() == idlers.size()) {
                        break;
                    }
                    Thread.sleep(5);
                }
                missing += idlers.size() - arrivals.count();
                if (arrivals.count() > 0) {
                    first.add((long) arrivals.percentileNanos(0));
                    median.add((long) arrivals.percentileNanos(50));
                    last.add((long) arrivals.percentileNanos(100));
                }
            }
        } finally {
            message.release();
        }
        // times from sending the APPEND to each idler's reading of the EXISTS, medians over the APPENDs
        result.metric("exists_first_ms", first.percentileMillis(50))
                .metric("exists_median_ms", median.percentileMillis(50))
                .metric("exists_last_ms", last.percentileMillis(50))
                .metric("exists_missed", missing);
    }

    private static void closeIdlers(List<Idler> idlers, RunResult result) throws IOException {
        List<CompletableFuture<Void>> closed = new ArrayList<>(idlers.size());
        for (Idler idler : idlers) {
            idler.connection.done();
            closed.add(idler.end.handle((r, e) -> null).thenCompose(v -> idler.connection.logout()));
        }
        try {
            Context.await(CompletableFuture.allOf(closed.toArray(CompletableFuture[]::new)), Duration.ofSeconds(60));
        } catch (IOException e) {
            if (result != null) {
                result.error("ending IDLE: " + e.getMessage());
            }
            idlers.forEach(i -> i.connection.close());
        }
    }
}
