package io.postern.bench.workload;

import io.postern.bench.client.ClientRuntime;
import io.postern.bench.client.Credentials;
import io.postern.bench.client.ImapConnection;
import io.postern.bench.client.Response;
import io.postern.bench.client.Target;
import io.postern.bench.report.RunResult;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * What a workload runs with: the driver's event loops, the target, the users, and the time it
 * may take at most (every workload is bounded in count and in time).
 */
public record Context(ClientRuntime runtime, Target target, Credentials credentials, Duration time, boolean compress) {

    public Context(ClientRuntime runtime, Target target, Credentials credentials, Duration time) {
        this(runtime, target, credentials, time, false);
    }

    /** Nanosecond deadline for the run's own loops. */
    public long deadline(long startNanos) {
        return startNanos + time.toNanos();
    }

    /**
     * Connects and logs in as session {@code index}'s user, then with {@code --compress} turns on
     * COMPRESS=DEFLATE; fails (and closes) on anything but OK.
     */
    public CompletableFuture<ImapConnection> login(long index) {
        String user = credentials.user(index);
        CompletableFuture<ImapConnection> in = runtime.open(target).thenCompose(c -> c.command(
                "LOGIN " + quoted(user) + " " + quoted(credentials.password()))
                .thenApply(r -> {
                    if (!r.ok()) {
                        c.close();
                        throw new CompletionException(new IOException("LOGIN " + user + ": " + r.text()));
                    }
                    return c;
                }));
        return compress ? in.thenCompose(ClientRuntime::compress) : in;
    }

    /** Sends a command and fails unless the answer is OK. */
    public static CompletableFuture<Response> ok(ImapConnection c, String command) {
        return c.command(command).thenApply(r -> {
            if (!r.ok()) {
                throw new CompletionException(new IOException(command.split(" ")[0] + ": " + r.text()));
            }
            return r;
        });
    }

    /** {@code CREATE mailbox}; one that exists already is fine. */
    public static CompletableFuture<Response> create(ImapConnection c, String mailbox) {
        return c.command("CREATE " + quoted(mailbox)).thenApply(r -> {
            if (!r.ok() && !r.text().toUpperCase(java.util.Locale.ROOT).contains("ALREADYEXISTS")) {
                throw new CompletionException(new IOException("CREATE " + mailbox + ": " + r.text()));
            }
            return r;
        });
    }

    public static String quoted(String text) {
        return '"' + text.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    /**
     * Waits for a future at most {@code timeout} (plus the grace the time bound allows).
     *
     * @throws IOException with the cause's message when it failed or timed out
     */
    public static <T> T await(CompletableFuture<T> future, Duration timeout) throws IOException {
        try {
            return future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof CompletionException && cause.getCause() != null) {
                cause = cause.getCause();
            }
            throw new IOException(cause.toString(), cause);
        } catch (TimeoutException e) {
            throw new IOException("no answer within " + timeout.toMillis() + " ms", e);
        }
    }

    /** Seconds between two {@link System#nanoTime()} readings. */
    public static double seconds(long fromNanos, long toNanos) {
        return (toNanos - fromNanos) / 1e9;
    }

    /** The failure and, when it wraps others, its root cause (a TLS handshake failure says why). */
    static String describe(Throwable e) {
        Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        Throwable root = cause;
        for (int depth = 0; root.getCause() != null && root.getCause() != root && depth < 10; depth++) {
            root = root.getCause();
        }
        return root == cause ? cause.toString() : cause + " (" + root + ")";
    }

    /** Convenience for workloads: an empty result for this target. */
    public RunResult result(String workload) {
        return new RunResult(workload, target.toString());
    }
}
