package io.postern.bench.workload;

import io.postern.bench.report.Latencies;
import io.postern.bench.report.RunResult;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Login storms: {@code --concurrency} clients at once, each session connect (and TLS), greeting,
 * LOGIN, SELECT, LOGOUT, close, until {@code --sessions} sessions ran or the time is up.
 */
@Command(name = "login", description = "Concurrent connect-login-select-logout storms: sessions/s and latency percentiles.")
public final class LoginWorkload extends WorkloadCommand {

    @Option(names = "--sessions", description = "Sessions in all (default ${DEFAULT-VALUE}).")
    int sessions = 500;

    @Option(names = "--concurrency", description = "Sessions at once (default ${DEFAULT-VALUE}).")
    int concurrency = 16;

    @Option(names = "--mailbox", description = "Mailbox to SELECT (default ${DEFAULT-VALUE}).")
    String mailbox = "INBOX";


    @Override
    public RunResult run(Context ctx) throws Exception {
        RunResult result = ctx.result(name())
                .parameter("sessions", sessions).parameter("concurrency", concurrency).parameter("mailbox", mailbox);
        Latencies latencies = new Latencies();
        AtomicInteger started = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        AtomicInteger running = new AtomicInteger(concurrency);
        CompletableFuture<Void> finished = new CompletableFuture<>();
        long start = System.nanoTime();
        long deadline = ctx.deadline(start);
        Runnable[] worker = new Runnable[1];
        worker[0] = () -> {
            int index = started.getAndIncrement();
            if (index >= sessions || System.nanoTime() >= deadline) {
                if (running.decrementAndGet() == 0) {
                    finished.complete(null);
                }
                return;
            }
            long t0 = System.nanoTime();
            ctx.login(index)
                    .thenCompose(c -> Context.ok(c, "SELECT " + Context.quoted(mailbox)).thenCompose(r -> c.logout()))
                    .whenComplete((v, e) -> {
                        if (e != null) {
                            failed.incrementAndGet();
                            result.error(Context.describe(e));
                        } else {
                            synchronized (latencies) {
                                latencies.add(System.nanoTime() - t0);
                            }
                        }
                        // a new stack for the next session, whichever thread completed this one
                        ctx.runtime().execute(worker[0]);
                    });
        };
        for (int i = 0; i < concurrency; i++) {
            worker[0].run();
        }
        Context.await(finished, ctx.time().plus(Duration.ofSeconds(30)));
        long end = System.nanoTime();
        double seconds = Context.seconds(start, end);
        int done;
        synchronized (latencies) {
            done = latencies.count();
            result.metric("sessions", done).metric("failures", failed.get())
                    .metric("sessions_per_s", done / seconds);
            latencies.report(result, "latency", false);
        }
        result.seconds(seconds);
        return result;
    }
}
