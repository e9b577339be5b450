package io.postern.bench.workload;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.postern.bench.client.ImapConnection;
import io.postern.bench.report.Latencies;
import io.postern.bench.report.RunResult;
import io.postern.bench.seed.MessageGenerator;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.zip.CRC32C;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * One session APPENDs {@code --count} messages of {@code --size} bytes, first with synchronizing
 * literals ({@code {n}}, waiting for {@code +}), then with LITERAL+ ({@code {n+}}, when the server
 * offers it), into a scratch mailbox; then reads the mailbox back and checks a CRC-32C of what is
 * stored against what was sent, and deletes the mailbox unless {@code --keep}.
 */
@Command(name = "append", description = "APPEND throughput (MB/s), synchronizing literals and LITERAL+.")
public final class AppendWorkload extends WorkloadCommand {

    @Option(names = "--count", description = "Messages per mode (default ${DEFAULT-VALUE}).")
    int count = 40;

    @Option(names = "--size", description = "Bytes per message, e.g. 1MiB (default ${DEFAULT-VALUE}).", converter = SizeConverter.class)
    long size = 1024 * 1024;

    @Option(names = "--mailbox", description = "Scratch mailbox, created if missing (default ${DEFAULT-VALUE}).")
    String mailbox = "bench-append";

    @Option(names = "--keep", description = "Keep the scratch mailbox (default: delete it at the end).")
    boolean keep;

    @Option(names = "--no-verify", description = "Skip reading the messages back.")
    boolean noVerify;


    @Override
    public RunResult run(Context ctx) throws Exception {
        if (size < MessageGenerator.MIN_SIZE || size > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("--size: " + size + " (expected: " + MessageGenerator.MIN_SIZE + " bytes to 2 GiB)");
        }
        RunResult result = ctx.result(name()).parameter("count", count).parameter("size", size).parameter("mailbox", mailbox);
        long start = System.nanoTime();
        long deadline = ctx.deadline(start);
        Duration step = ctx.time().plus(Duration.ofSeconds(10));
        byte[] bytes = new MessageGenerator(7).message(1, (int) size);
        ByteBuf message = Unpooled.directBuffer(bytes.length).writeBytes(bytes);
        ImapConnection c = Context.await(ctx.login(0), step);
        try {
            Context.await(Context.create(c, mailbox), step);
            // a leftover of an earlier run would spoil the read-back check
            Context.await(Context.ok(c, "SELECT " + Context.quoted(mailbox)), step);
            Context.await(c.command("STORE 1:* +FLAGS.SILENT (\\Deleted)"), step);
            Context.await(Context.ok(c, "CLOSE"), step);
            boolean offered = capabilities(c, step).contains("LITERAL+");
            int appended = 0;
            for (boolean plus : offered ? List.of(false, true) : List.of(false)) {
                String prefix = plus ? "literal_plus" : "sync";
                Latencies latencies = new Latencies();
                long[] t0 = new long[1];
                long began = System.nanoTime();
                int done = Context.await(Steps.repeat(c.channel().eventLoop(), count, deadline, i -> {
                    t0[0] = System.nanoTime();
                    return c.append(mailbox, message, plus).thenAccept(r -> {
                        if (!r.ok()) {
                            throw new IllegalStateException("APPEND: " + r.text());
                        }
                        latencies.add(System.nanoTime() - t0[0]);
                    });
                }), step);
                double seconds = Context.seconds(began, System.nanoTime());
                appended += done;
                result.metric(prefix + "_messages", done).metric(prefix + "_mb_per_s", done * (double) size / 1e6 / seconds);
                latencies.report(result, prefix + "_append", false);
            }
            if (!offered) {
                result.error("the server does not offer LITERAL+: only synchronizing literals measured");
            }
            if (!noVerify) {
                verify(c, appended, bytes, step, result);
            }
            if (!keep) {
                Context.await(Context.ok(c, "DELETE " + Context.quoted(mailbox)), step);
            }
        } finally {
            message.release();
            Context.await(c.logout(), Duration.ofSeconds(10));
        }
        result.seconds(Context.seconds(start, System.nanoTime()));
        return result;
    }

    private static String capabilities(ImapConnection c, Duration step) throws IOException {
        StringBuilder seen = new StringBuilder();
        c.onUntagged(r -> seen.append(r.text()).append('\n'));
        Context.await(c.command("CAPABILITY"), step);
        c.onUntagged(null);
        return Context.await(CompletableFuture.supplyAsync(seen::toString, c.channel().eventLoop()), step).toUpperCase();
    }

    private void verify(ImapConnection c, int appended, byte[] bytes, Duration step, RunResult result) throws IOException {
        CRC32C expected = new CRC32C();
        for (int i = 0; i < appended; i++) {
            expected.update(bytes);
        }
        Context.await(Context.ok(c, "EXAMINE " + Context.quoted(mailbox)), step);
        c.resetCounters();
        Context.await(Context.ok(c, "FETCH 1:* BODY.PEEK[]"), step);
        long[] read = new long[3];
        Context.await(CompletableFuture.runAsync(() -> {
            read[0] = c.fetchCount();
            read[1] = c.parser().literalBytes();
            read[2] = c.parser().literalChecksum();
        }, c.channel().eventLoop()), step);
        Context.await(Context.ok(c, "CLOSE"), step);
        if (read[0] != appended || read[2] != expected.getValue() || read[1] != (long) appended * bytes.length) {
            result.error("read back " + read[0] + " messages, " + read[1] + " bytes, CRC-32C " + Long.toHexString(read[2])
                    + "; appended " + appended + " messages, " + (long) appended * bytes.length + " bytes, CRC-32C "
                    + Long.toHexString(expected.getValue()));
        }
        result.fact("read_back", read[0] == appended && read[2] == expected.getValue() ? "equal" : "DIFFERENT");
    }
}
