package io.postern.proxy.compress;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.util.ReferenceCountUtil;
import io.postern.imap.codec.Direction;
import io.postern.imap.codec.ImapDecoderConfig;
import io.postern.imap.codec.ImapFrame;
import io.postern.imap.codec.ImapFrameDecoder;
import io.postern.imap.fuzz.RecordingAllocator;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * Coverage-guided fuzzing of the client leg after COMPRESS: arbitrary bytes into
 * {@link InflateHandler} and the frame decoder behind it, as {@link Compression#install} puts
 * them (Jazzer; a plain {@code mvn verify} replays the committed inputs, {@code JAZZER_FUZZ=1}
 * fuzzes: see {@code .ci/fuzz.sh}).
 *
 * <p>Input: byte 0 chooses a split point, the rest is what the client sends after the OK. It is
 * fed in one read, in two reads split at that point, and in small reads (7 bytes, or a sixteenth
 * of the input when that is more; inputs stop at 2 KiB); after each read the
 * channel asks for more reads (as the session does) until nothing more comes out. And once in one
 * read after which the peer closes: what the handler still holds is passed on at the close, up
 * to {@link InflateHandler#MAX_AT_CLOSE}, and must be the start of what the others passed on.
 * Each time:
 * <ul>
 *   <li>nothing is thrown but the handler's own refusal, a {@link DecoderException} caused by a
 *       {@link DataFormatException} (the session answers it with {@code * BYE Malformed
 *       compressed data.}), and only frames come out of the decoder;
 *   <li>every buffer is released ({@link RecordingAllocator}, checked after each run);
 *   <li>one read or one {@code read()} passes on at most {@link InflateHandler#BUDGET} plus one
 *       16 KiB chunk of plain bytes, however far the input inflates;
 *   <li>the outcome (refused, or not) is the same for the three ways of feeding, and without a
 *       refusal the plain bytes passed on are the same in all three and exactly what
 *       {@link Inflater} makes of the input (up to the end of the stream, if it ends).
 * </ul>
 * The committed inputs are deflated commands (sync-flushed, several flushes, a final block and
 * bytes after it, a stored block, fixed Huffman codes), a stream that inflates a thousandfold,
 * cut-short streams and bytes that are not deflate.
 */
class InflateFuzzTest {

    /** Bounds the plain bytes looked at: 2 KiB of input inflate to some 2 MB at most. */
    private static final int MAX_PLAIN = 8 << 20;
    private static final int CHUNK = 16 * 1024;

    @FuzzTest(maxDuration = "5m")
    void inflate(byte[] input) {
        int h = input.length == 0 ? 0 : input[0] & 0xff;
        byte[] stream = input.length > 1 ? Arrays.copyOfRange(input, 1, input.length) : new byte[0];
        if (stream.length > 2048) {
            return; // some 2 MB of plain bytes at most, well under MAX_PLAIN, where the runs stop looking
        }
        int split = stream.length == 0 ? 0 : h % (stream.length + 1);
        Run whole = run(stream, new int[] {stream.length}, true);
        Run halves = run(stream, new int[] {split, stream.length - split}, true);
        int step = Math.max(7, stream.length / 16);
        int[] steps = new int[(stream.length + step - 1) / step];
        Arrays.fill(steps, step);
        if (steps.length > 0) {
            steps[steps.length - 1] = stream.length - step * (steps.length - 1);
        }
        Run small = run(stream, steps, true);
        // the peer closes right after its one read: what is passed on is bounded, and what the others saw
        Run closed = run(stream, new int[] {stream.length}, false);
        expect(closed.plain.length <= whole.plain.length
                        && Arrays.equals(closed.plain, Arrays.copyOf(whole.plain, closed.plain.length)),
                "closed at once, " + closed.plain.length + " plain bytes that are not the start of the others'");
        expect(whole.refused == halves.refused && whole.refused == small.refused,
                "refused in one read " + whole.refused + ", in two " + halves.refused + ", in small reads " + small.refused);
        if (!whole.refused) {
            byte[] reference = reference(stream);
            expect(Arrays.equals(whole.plain, reference), "one read passed on " + whole.plain.length
                    + " plain bytes, Inflater makes " + reference.length);
            expect(Arrays.equals(halves.plain, reference), "two reads passed on other plain bytes");
            expect(Arrays.equals(small.plain, reference), "small reads passed on other plain bytes");
        }
    }

    /** What came of one connection: refused (a DataFormatException), the plain bytes passed on. */
    private record Run(boolean refused, byte[] plain) {}

    /** @param drain ask for reads after each one, as the session does; or close after the last, as a peer that hangs up */
    private static Run run(byte[] stream, int[] reads, boolean drain) {
        RecordingAllocator alloc = new RecordingAllocator();
        ByteArrayOutputStream plain = new ByteArrayOutputStream();
        long[] sinceRead = new long[1];
        boolean[] refused = new boolean[1];
        EmbeddedChannel channel = new EmbeddedChannel();
        channel.config().setAllocator(alloc);
        channel.config().setAutoRead(false);
        channel.pipeline().addLast(new InflateHandler(null));
        channel.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ByteBuf b = (ByteBuf) msg;
                sinceRead[0] += b.readableBytes();
                expect(sinceRead[0] <= InflateHandler.BUDGET + CHUNK, "one read passed on " + sinceRead[0] + " bytes");
                int keep = Math.min(b.readableBytes(), MAX_PLAIN - plain.size());
                if (keep > 0) {
                    byte[] bytes = new byte[keep];
                    b.getBytes(b.readerIndex(), bytes);
                    plain.writeBytes(bytes);
                }
                ctx.fireChannelRead(msg);
            }

            @Override
            public void channelReadComplete(ChannelHandlerContext ctx) {
                sinceRead[0] = 0; // the end of one read, from the socket or from the handler's left-over input
                ctx.fireChannelReadComplete();
            }
        });
        channel.pipeline().addLast(new ImapFrameDecoder(Direction.COMMAND, ImapDecoderConfig.builder().maxLineLength(4096).build()));
        channel.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                try {
                    expect(msg instanceof ImapFrame, "the decoder passed on " + msg);
                } finally {
                    ReferenceCountUtil.release(msg);
                }
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                if (!(cause instanceof DecoderException && cause.getCause() instanceof DataFormatException)) {
                    throw new AssertionError("unexpected exception", cause);
                }
                refused[0] = true;
                ctx.close(); // as the session does, after its BYE
            }
        });
        int pos = 0;
        for (int n : reads) {
            if (!channel.isOpen()) {
                break;
            }
            sinceRead[0] = 0;
            channel.writeInbound(alloc.buffer(Math.max(n, 1)).writeBytes(stream, pos, n));
            pos += n;
            if (drain) {
                drain(channel, sinceRead, plain);
            }
        }
        sinceRead[0] = -InflateHandler.MAX_AT_CLOSE; // the close passes on what is left, up to this
        if (channel.finish()) {
            throw new AssertionError("a message went past the recorder");
        }
        alloc.assertAllReleased();
        return new Run(refused[0], plain.toByteArray());
    }

    /** Asks for reads, as the session does after each batch, until no more plain bytes come out. */
    private static void drain(EmbeddedChannel channel, long[] sinceRead, ByteArrayOutputStream plain) {
        for (int i = 0; channel.isOpen(); i++) {
            int before = plain.size();
            sinceRead[0] = 0;
            channel.read();
            channel.runPendingTasks();
            if (plain.size() == before || plain.size() >= MAX_PLAIN) {
                return;
            }
            expect(i < MAX_PLAIN / CHUNK + 16, "reads keep passing on bytes");
        }
    }

    /** What {@link Inflater} (raw deflate, as RFC 4978) makes of the stream, up to its end. */
    private static byte[] reference(byte[] stream) {
        Inflater inflater = new Inflater(true);
        try {
            inflater.setInput(stream);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[CHUNK];
            while (!inflater.finished() && out.size() < MAX_PLAIN) {
                int n = inflater.inflate(buf);
                if (n == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                    break;
                }
                out.write(buf, 0, Math.min(n, MAX_PLAIN - out.size()));
            }
            return out.toByteArray();
        } catch (DataFormatException e) {
            throw new AssertionError("Inflater refuses what the handler took", e);
        } finally {
            inflater.end();
        }
    }

    private static void expect(boolean condition, String what) {
        if (!condition) {
            throw new AssertionError(what);
        }
    }
}
