package io.postern.bench.jmh;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import io.postern.imap.codec.Direction;
import io.postern.imap.codec.ImapDecoderConfig;
import io.postern.imap.codec.ImapFrameDecoder;
import io.postern.imap.codec.ImapLine;
import io.postern.imap.codec.LiteralChunk;
import java.util.Random;
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
 * {@link ImapFrameDecoder} in the response direction, on a channel whose next handler releases each
 * frame at once (as a relay that has written it on would), fed in reads of {@code readSize}
 * bytes as a socket delivers them.
 *
 * <ul>
 *   <li>{@link #fetchResponses}: a backend's answer to {@code FETCH 1:* BODY.PEEK[]}, {@value #STREAM_MIB}
 *       MiB of message data in literals of {@code literalSize} bytes. One operation is one MiB of
 *       literal data: the score is MiB/s, and {@code -prof gc}'s {@code gc.alloc.rate.norm} is
 *       bytes allocated per MiB forwarded. Literal chunks are retained slices, so that figure must
 *       not grow with the literal size (it falls as the lines per MiB become fewer).</li>
 * </ul>
 *
 * <p>The command direction is {@link CommandDecoderBenchmark}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class FrameDecoderBenchmark {

    static final int STREAM_MIB = 16;

    @Param({"4096", "65536", "1048576"})
    int literalSize;

    @Param({"65536"})
    int readSize;

    private ByteBuf responses;
    private EmbeddedChannel responseChannel;
    private final Sink sink = new Sink();

    /** Releases each frame and counts what passed, as the relay's next step would. */
    static final class Sink extends ChannelInboundHandlerAdapter {
        long literalBytes;
        long lines;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof LiteralChunk chunk) {
                literalBytes += chunk.content().readableBytes();
            } else if (msg instanceof ImapLine) {
                lines++;
            }
            ReferenceCountUtil.release(msg);
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        responses = Unpooled.unreleasableBuffer(Unpooled.directBuffer().writeBytes(fetchStream(literalSize, STREAM_MIB)));
        ImapFrameDecoder responseDecoder = new ImapFrameDecoder(Direction.RESPONSE, ImapDecoderConfig.responses());
        responseChannel = new EmbeddedChannel(responseDecoder, sink);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        responseChannel.finishAndReleaseAll();
        long expected = (long) STREAM_MIB * 1024 * 1024;
        if (sink.literalBytes % expected != 0) {
            throw new IllegalStateException("the decoder passed on " + sink.literalBytes + " literal bytes, not a multiple of " + expected);
        }
    }

    @Benchmark
    @OperationsPerInvocation(STREAM_MIB)
    public void fetchResponses(Blackhole bh) {
        feed(responseChannel, responses, readSize);
        bh.consume(sink.lines);
    }

    /** Writes {@code stream} into the channel in reads of {@code readSize} bytes. */
    static void feed(EmbeddedChannel channel, ByteBuf stream, int readSize) {
        int end = stream.writerIndex();
        for (int at = 0; at < end; at += readSize) {
            channel.writeInbound(stream.retainedSlice(at, Math.min(readSize, end - at)));
        }
    }

    /** {@code * n FETCH (UID n BODY[] {size}\r\n<literal>)\r\n} until {@code mib} MiB of literal data, then a tagged OK. */
    static byte[] fetchStream(int literalSize, int mib) {
        long total = (long) mib * 1024 * 1024;
        if (total % literalSize != 0) {
            throw new IllegalArgumentException("literalSize must divide " + total);
        }
        byte[] body = new byte[literalSize];
        Random random = new Random(1);
        for (int i = 0; i < body.length; i++) {
            // text with line ends, as mail is: the decoder must not look at them
            body[i] = (i % 78 == 76) ? (byte) '\r' : (i % 78 == 77) ? (byte) '\n' : (byte) ('A' + random.nextInt(26));
        }
        ByteBuf out = Unpooled.buffer();
        for (int n = 1; n <= total / literalSize; n++) {
            ByteBufUtil.writeAscii(out, "* " + n + " FETCH (UID " + (1000 + n) + " BODY[] {" + literalSize + "}\r\n");
            out.writeBytes(body);
            ByteBufUtil.writeAscii(out, ")\r\n");
        }
        ByteBufUtil.writeAscii(out, "b1 OK Fetch completed (0.012 + 0.000 secs).\r\n");
        return ByteBufUtil.getBytes(out);
    }
}
