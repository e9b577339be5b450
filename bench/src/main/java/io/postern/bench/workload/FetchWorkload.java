package io.postern.bench.workload;

import io.postern.bench.client.ImapConnection;
import io.postern.bench.client.Response;
import io.postern.bench.report.RunResult;
import java.io.IOException;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * One session reads whole mailboxes with {@code FETCH 1:* BODY.PEEK[]}: the seeded mailbox
 * ({@code --mailbox}) and the one holding the 25 MB message ({@code --big-mailbox}). MB/s counts
 * literal bytes (the message data) over the time from the command to its tagged OK; a CRC-32C of
 * every literal byte, in order, proves the same content arrived whichever way it came.
 */
@Command(name = "fetch", description = "FETCH BODY.PEEK[] of a whole mailbox and of one big message: MB/s and a checksum.")
public final class FetchWorkload extends WorkloadCommand {

    @Option(names = "--mailbox", description = "Mailbox read whole; empty: skip (default ${DEFAULT-VALUE}).")
    String mailbox = "INBOX";

    @Option(names = "--repeat", description = "Times the mailbox is read (default ${DEFAULT-VALUE}).")
    int repeat = 3;

    @Option(names = "--big-mailbox", description = "Mailbox with the big message(s); empty: skip (default ${DEFAULT-VALUE}).")
    String bigMailbox = "Big";

    @Option(names = "--big-repeat", description = "Times the big mailbox is read (default ${DEFAULT-VALUE}).")
    int bigRepeat = 5;


    @Override
    public RunResult run(Context ctx) throws Exception {
        RunResult result = ctx.result(name()).parameter("mailbox", mailbox).parameter("repeat", repeat)
                .parameter("big_mailbox", bigMailbox).parameter("big_repeat", bigRepeat);
        long start = System.nanoTime();
        long deadline = ctx.deadline(start);
        Duration step = ctx.time().plus(Duration.ofSeconds(10));
        ImapConnection c = Context.await(ctx.login(0), step);
        try {
            if (!mailbox.isEmpty()) {
                readWhole(ctx, c, mailbox, repeat, deadline, step, result, "mailbox");
            }
            if (!bigMailbox.isEmpty()) {
                readWhole(ctx, c, bigMailbox, bigRepeat, deadline, step, result, "big");
            }
        } finally {
            Context.await(c.logout(), Duration.ofSeconds(10));
        }
        result.seconds(Context.seconds(start, System.nanoTime()));
        return result;
    }

    private static void readWhole(Context ctx, ImapConnection c, String box, int times, long deadline, Duration step,
            RunResult result, String prefix) throws IOException {
        Context.await(Context.ok(c, "EXAMINE " + Context.quoted(box)), step);
        long bytes = 0;
        long nanos = 0;
        long messages = -1;
        Set<String> checksums = new LinkedHashSet<>();
        int passes = 0;
        for (int i = 0; i < times && (i == 0 || System.nanoTime() < deadline); i++) {
            c.resetCounters();
            long t0 = System.nanoTime();
            Response r = Context.await(c.command("FETCH 1:* BODY.PEEK[]"), step);
            long elapsed = System.nanoTime() - t0;
            if (!r.ok()) {
                throw new IOException("FETCH in " + box + ": " + r.text());
            }
            long[] pass = new long[3];
            String[] crc = new String[1];
            Context.await(java.util.concurrent.CompletableFuture.runAsync(() -> {
                pass[0] = c.parser().literalBytes();
                pass[1] = c.fetchCount();
                crc[0] = String.format("%08x", c.parser().literalChecksum());
            }, c.channel().eventLoop()), step);
            if (messages >= 0 && pass[1] != messages) {
                result.error(box + ": " + pass[1] + " FETCH responses, " + messages + " in the first pass");
            }
            messages = pass[1];
            checksums.add(crc[0] + "/" + pass[0]);
            bytes += pass[0];
            nanos += elapsed;
            passes++;
        }
        if (checksums.size() != 1) {
            result.error(box + ": the passes read different content: " + checksums);
        }
        result.metric(prefix + "_passes", passes)
                .metric(prefix + "_messages", messages)
                .metric(prefix + "_bytes", bytes / Math.max(1, passes))
                .metric(prefix + "_mb_per_s", bytes / 1e6 / (nanos / 1e9));
        result.fact(prefix + "_crc32c", checksums.iterator().next());
    }
}
