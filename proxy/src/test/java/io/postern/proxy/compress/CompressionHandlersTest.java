package io.postern.proxy.compress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.zip.Deflater;
import java.util.zip.Inflater;
import org.junit.jupiter.api.Test;

class CompressionHandlersTest {

    private static byte[] deflate(byte[] plain, boolean finish) {
        Deflater d = new Deflater(9, true);
        d.setInput(plain);
        if (finish) {
            d.finish();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[64 * 1024];
        int n;
        while ((n = d.deflate(buf, 0, buf.length, finish ? Deflater.NO_FLUSH : Deflater.SYNC_FLUSH)) > 0) {
            out.write(buf, 0, n);
        }
        d.end();
        return out.toByteArray();
    }

    private static byte[] drainInbound(EmbeddedChannel ch) {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        ByteBuf b;
        while ((b = ch.readInbound()) != null) {
            byte[] bytes = new byte[b.readableBytes()];
            b.readBytes(bytes);
            b.release();
            got.writeBytes(bytes);
        }
        return got.toByteArray();
    }

    /** Counts reads that reach the socket end of the pipeline. */
    private static final class ReadCounter extends ChannelOutboundHandlerAdapter {
        int reads;

        @Override
        public void read(ChannelHandlerContext ctx) {
            reads++;
            ctx.read();
        }
    }

    @Test
    void aDeflateBombIsPassedOnABudgetPerReadAndTheSocketIsNotReadUntilItIsUsedUp() {
        byte[] plain = new byte[20 * 1024 * 1024]; // zeros: about a thousandfold
        byte[] bomb = deflate(plain, false);
        assertThat(bomb.length).isLessThan(64 * 1024);
        ReadCounter socketReads = new ReadCounter();
        EmbeddedChannel ch = new EmbeddedChannel(socketReads, new InflateHandler(null));
        ch.config().setAutoRead(false);
        int before = socketReads.reads;
        ch.writeInbound(Unpooled.wrappedBuffer(bomb));
        byte[] first = drainInbound(ch);
        assertThat(first.length).isEqualTo(InflateHandler.BUDGET);
        long total = first.length;
        for (int i = 0; i < 1000 && total < plain.length; i++) {
            ch.read();
            ch.runPendingTasks();
            byte[] more = drainInbound(ch);
            assertThat(more.length).isBetween(1, InflateHandler.BUDGET);
            total += more.length;
        }
        assertThat(total).isEqualTo(plain.length);
        assertThat(socketReads.reads).isEqualTo(before); // every read so far was served from the input
        ch.read();
        ch.runPendingTasks();
        assertThat(socketReads.reads).isEqualTo(before + 1);
        assertThat(ch.finish()).isFalse();
    }

    @Test
    void inputSplitAtEveryByteInflatesToTheSameBytes() {
        byte[] plain = "a1 FETCH 1:* (FLAGS BODY.PEEK[HEADER])\r\na2 NOOP\r\n".repeat(20).getBytes(StandardCharsets.US_ASCII);
        byte[] wire = deflate(plain, false);
        for (int split = 1; split < wire.length; split += 3) {
            EmbeddedChannel ch = new EmbeddedChannel(new InflateHandler(Unpooled.wrappedBuffer(wire, 0, split)));
            if (split % 2 == 0) {
                ch.read(); // the buffered part first; otherwise it is joined with what comes next
                ch.runPendingTasks();
            }
            ch.writeInbound(Unpooled.wrappedBuffer(Arrays.copyOfRange(wire, split, wire.length)));
            assertThat(drainInbound(ch)).isEqualTo(plain);
            assertThat(ch.finish()).isFalse();
        }
    }

    @Test
    void garbageIsADecoderExceptionAndBytesAfterAFinalBlockAreDropped() {
        EmbeddedChannel bad = new EmbeddedChannel(new InflateHandler(null));
        assertThatThrownBy(() -> bad.writeInbound(Unpooled.wrappedBuffer(new byte[] {(byte) 0xff, (byte) 0xff, 1, 2})))
                .isInstanceOf(DecoderException.class);
        assertThat(bad.finish()).isFalse();

        byte[] bye = "* BYE Logging out\r\nz OK done\r\n".getBytes(StandardCharsets.US_ASCII);
        byte[] ended = deflate(bye, true);
        byte[] withTrailer = Arrays.copyOf(ended, ended.length + 3);
        EmbeddedChannel ch = new EmbeddedChannel(new InflateHandler(null));
        ch.writeInbound(Unpooled.wrappedBuffer(withTrailer));
        ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {1, 2, 3}));
        assertThat(drainInbound(ch)).isEqualTo(bye);
        assertThat(ch.finish()).isFalse();
    }

    @Test
    void writesAreDecodableAtEachFlushAndTheirPromisesCompleteThen() throws Exception {
        EmbeddedChannel ch = new EmbeddedChannel(new DeflateHandler(6));
        Inflater peer = new Inflater(true);
        ByteArrayOutputStream seen = new ByteArrayOutputStream();
        for (int round = 0; round < 3; round++) {
            String text = "* " + round + " EXISTS\r\n* OK [UIDNEXT " + (100 + round) + "] next\r\n";
            ChannelFuture written = ch.write(Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII));
            assertThat(written.isDone()).isFalse(); // not before the flush that carries it
            ch.flush();
            assertThat(written.isSuccess()).isTrue();
            ByteBuf out;
            while ((out = ch.readOutbound()) != null) {
                byte[] bytes = new byte[out.readableBytes()];
                out.readBytes(bytes);
                out.release();
                peer.setInput(bytes);
                byte[] buf = new byte[4096];
                int n;
                while ((n = peer.inflate(buf)) > 0) {
                    seen.write(buf, 0, n);
                }
            }
            // a sync flush: the peer has every byte of this round without waiting for more
            assertThat(seen.toString(StandardCharsets.US_ASCII)).endsWith(text);
        }
        peer.end();
        assertThat(ch.finish()).isFalse();
    }
}
