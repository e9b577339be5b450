package io.postern.bench.jmh;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.postern.imap.codec.Direction;
import io.postern.imap.codec.ImapDecoderConfig;
import io.postern.imap.codec.ImapFrameDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * {@link ImapFrameDecoder} in the command direction: {@value #COMMANDS} short client commands of
 * the kinds clients send most, in reads of {@code readSize} bytes; one operation is one command
 * framed (score: commands/s; {@code gc.alloc.rate.norm}: bytes per command).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class CommandDecoderBenchmark {

    static final int COMMANDS = 10_000;

    @Param({"65536"})
    int readSize;

    private ByteBuf commands;
    private EmbeddedChannel channel;
    private final FrameDecoderBenchmark.Sink sink = new FrameDecoderBenchmark.Sink();

    @Setup(Level.Trial)
    public void setUp() {
        commands = Unpooled.unreleasableBuffer(Unpooled.directBuffer().writeBytes(commandStream(COMMANDS)));
        ImapFrameDecoder decoder = new ImapFrameDecoder(Direction.COMMAND, ImapDecoderConfig.commands(), false);
        decoder.setAuthenticated(true);
        channel = new EmbeddedChannel(decoder, sink);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        channel.finishAndReleaseAll();
        if (sink.lines % (COMMANDS + COMMANDS / 8) != 0) {
            throw new IllegalStateException("the decoder passed on " + sink.lines + " lines");
        }
    }

    @Benchmark
    @OperationsPerInvocation(COMMANDS)
    public void smallCommands(Blackhole bh) {
        FrameDecoderBenchmark.feed(channel, commands, readSize);
        bh.consume(sink.lines);
    }

    /** Short commands of the kinds clients send most, tagged in sequence. */
    static byte[] commandStream(int count) {
        List<String> kinds = List.of(
                "NOOP",
                "UID FETCH 4:* (FLAGS)",
                "SELECT \"INBOX\"",
                "UID FETCH 1201 BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE)]",
                "IDLE",
                "STATUS \"Archive/2024\" (MESSAGES UNSEEN UIDNEXT)",
                "UID STORE 1201 +FLAGS.SILENT (\\Seen)",
                "UID SEARCH UNSEEN SINCE 1-Jan-2024");
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < count; i++) {
            String kind = kinds.get(i % kinds.size());
            out.append('a').append(i).append(' ').append(kind).append("\r\n");
            if (kind.equals("IDLE")) {
                out.append("DONE\r\n");
            }
        }
        return out.toString().getBytes(StandardCharsets.US_ASCII);
    }
}
