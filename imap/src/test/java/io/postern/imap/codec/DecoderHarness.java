package io.postern.imap.codec;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.junit.jupiter.api.Assertions.fail;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * An {@link ImapFrameDecoder} on an {@link EmbeddedChannel}, fed whole or one byte at a time, whose
 * frames are read back as plain values and released at once. Text is ISO-8859-1, so a string
 * stands for its bytes one to one.
 */
final class DecoderHarness {

    /** How the input reaches the decoder. */
    enum Feed {
        WHOLE,
        BYTE_BY_BYTE
    }

    /** An {@link ImapLine}: its bytes, line ending included. */
    record Line(String text, boolean first, LiteralAnnouncement literal) {}

    /** The {@link LiteralChunk}s of one literal, joined; {@code complete} when the last one came. */
    record Literal(String data, boolean complete) {}

    /** One {@link LiteralChunk} as it came out. */
    record Chunk(int size, boolean last) {}

    final EmbeddedChannel channel;
    final ImapFrameDecoder decoder;
    private final List<Chunk> chunks = new ArrayList<>();
    private final ByteArrayOutputStream output = new ByteArrayOutputStream();
    private final List<Object> pending = new ArrayList<>();
    private StringBuilder literal;

    DecoderHarness(ImapFrameDecoder decoder) {
        this.decoder = decoder;
        this.channel = new EmbeddedChannel(decoder);
    }

    /** A command decoder with the default limits that waits after each synchronizing literal. */
    static DecoderHarness commands() {
        return new DecoderHarness(new ImapFrameDecoder(Direction.COMMAND, ImapDecoderConfig.commands()));
    }

    /** A command decoder for recorded streams: every synchronizing literal counts as accepted. */
    static DecoderHarness recordedCommands() {
        return new DecoderHarness(new ImapFrameDecoder(Direction.COMMAND, ImapDecoderConfig.commands(), false));
    }

    static DecoderHarness responses() {
        return new DecoderHarness(new ImapFrameDecoder(Direction.RESPONSE, ImapDecoderConfig.responses()));
    }

    /** Writes {@code input} (ISO-8859-1) and reads what comes out. */
    DecoderHarness feed(String input, Feed feed) {
        return feed(input.getBytes(ISO_8859_1), feed);
    }

    DecoderHarness feed(byte[] input, Feed feed) {
        if (feed == Feed.WHOLE) {
            write(input, 0, input.length);
        } else {
            for (int i = 0; i < input.length; i++) {
                write(input, i, 1);
            }
        }
        return this;
    }

    private void write(byte[] input, int from, int length) {
        ByteBuf buf = channel.alloc().buffer(length).writeBytes(input, from, length);
        channel.writeInbound(buf);
        drain();
    }

    /** Runs what the decoder scheduled on the event loop (it resumes there after a literal decision). */
    DecoderHarness runPendingTasks() {
        channel.runPendingTasks();
        drain();
        return this;
    }

    /**
     * The frames read since the last call: {@link Line}s, {@link Literal}s (the chunks of one
     * literal joined) and {@link ImapDecoderError}s. A literal still arriving is not taken yet: it
     * comes whole, or incomplete before the error that ends the input.
     */
    List<Object> take() {
        drain();
        List<Object> taken = List.copyOf(pending);
        pending.clear();
        return taken;
    }

    /** Closes the input ({@link EmbeddedChannel#finish()}) and returns the frames that came out at the end. */
    List<Object> finish() {
        channel.finish();
        return take();
    }

    /** Every {@link LiteralChunk} so far, in order. */
    List<Chunk> chunks() {
        return List.copyOf(chunks);
    }

    /** The bytes of every line and chunk so far, in order: what a relay would write out. */
    byte[] output() {
        return output.toByteArray();
    }

    private void drain() {
        readAll(channel, this::read);
    }

    /** Hands each message waiting on {@code channel} to {@code reader}, and releases it. */
    static void readAll(EmbeddedChannel channel, Consumer<Object> reader) {
        for (Object msg; (msg = channel.readInbound()) != null; ) {
            try {
                reader.accept(msg);
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }
    }

    private void read(Object msg) {
        if (msg instanceof ImapLine line) {
            endLiteral();
            String text = append(line.content());
            pending.add(new Line(text, line.first(), line.literal()));
        } else if (msg instanceof LiteralChunk chunk) {
            chunks.add(new Chunk(chunk.content().readableBytes(), chunk.last()));
            if (literal == null) {
                literal = new StringBuilder();
            }
            literal.append(append(chunk.content()));
            if (chunk.last()) {
                pending.add(new Literal(literal.toString(), true));
                literal = null;
            }
        } else if (msg instanceof ImapDecoderError error) {
            if (literal != null) { // TRUNCATED inside a literal
                pending.add(new Literal(literal.toString(), false));
                literal = null;
            }
            pending.add(error);
        } else {
            fail("not an ImapFrame: " + msg);
        }
    }

    private void endLiteral() {
        if (literal != null) {
            fail("a frame came before the last chunk of a literal: " + literal.length() + " bytes so far");
        }
    }

    private String append(ByteBuf content) {
        byte[] bytes = new byte[content.readableBytes()];
        content.getBytes(content.readerIndex(), bytes);
        output.writeBytes(bytes);
        return new String(bytes, ISO_8859_1);
    }
}
