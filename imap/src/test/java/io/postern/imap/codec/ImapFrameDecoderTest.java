package io.postern.imap.codec;

import static io.postern.imap.codec.ImapDecoderError.Kind.LINE_TOO_LONG;
import static io.postern.imap.codec.ImapDecoderError.Kind.LITERAL_TOO_LARGE;
import static io.postern.imap.codec.ImapDecoderError.Kind.TOO_MANY_LITERALS;
import static io.postern.imap.codec.ImapDecoderError.Kind.TRUNCATED;
import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.postern.imap.codec.DecoderHarness.Chunk;
import io.postern.imap.codec.DecoderHarness.Feed;
import io.postern.imap.codec.DecoderHarness.Line;
import io.postern.imap.codec.DecoderHarness.Literal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link ImapFrameDecoder} on an {@link EmbeddedChannel}. Every framing case runs twice: the
 * input in one read, and one byte per read.
 */
class ImapFrameDecoderTest {

    // ---------------------------------------------------------------- lines

    @ParameterizedTest
    @EnumSource(Feed.class)
    void splitsCommandsAtCrlf(Feed feed) {
        DecoderHarness h = DecoderHarness.commands().feed("a1 NOOP\r\na2 CAPABILITY\r\nDONE\r\n", feed);

        assertThat(h.take()).containsExactly(
                first("a1 NOOP\r\n"), first("a2 CAPABILITY\r\n"), first("DONE\r\n"));
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void splitsResponsesAtCrlf(Feed feed) {
        String input = "* OK [CAPABILITY IMAP4rev1] ready\r\n+ idling\r\n* 3 EXISTS\r\na1 OK done\r\n";
        DecoderHarness h = DecoderHarness.responses().feed(input, feed);

        assertThat(h.take()).containsExactly(
                first("* OK [CAPABILITY IMAP4rev1] ready\r\n"), first("+ idling\r\n"),
                first("* 3 EXISTS\r\n"), first("a1 OK done\r\n"));
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void aLoneLfEndsALineToo(Feed feed) {
        DecoderHarness h = DecoderHarness.recordedCommands().feed("a1 NOOP\na2 LOGIN {5}\nalice\n", feed);

        assertThat(h.take()).containsExactly(
                first("a1 NOOP\n"), first("a2 LOGIN {5}\n", sync(5)), literal("alice"), next("\n"));
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void anEmptyLineIsALine(Feed feed) {
        DecoderHarness h = DecoderHarness.commands().feed("\r\n\na1 NOOP\r\n", feed);

        assertThat(h.take()).containsExactly(first("\r\n"), first("\n"), first("a1 NOOP\r\n"));
        assertFalse(h.channel.finish());
    }

    // ---------------------------------------------------------------- literal markers

    static Stream<Arguments> literalMarkers() {
        return withEachFeed(Stream.of(
                Arguments.of("{5}", sync(5)),
                Arguments.of("{5+}", nonSync(5)),
                Arguments.of("~{5}", binary(5)),
                Arguments.of("~{5+}", binaryNonSync(5)),
                Arguments.of("{0005}", sync(5))));
    }

    @ParameterizedTest
    @MethodSource("literalMarkers")
    void announcesEachKindOfLiteral(String marker, LiteralAnnouncement announced, Feed feed) {
        // The literal data is protocol-like on purpose: literal bytes are never scanned.
        String input = "a1 APPEND INBOX " + marker + "\r\n" + "{1}\r\n" + "\r\na2 NOOP\r\n";
        DecoderHarness h = DecoderHarness.recordedCommands().feed(input, feed);

        assertThat(h.take()).containsExactly(
                first("a1 APPEND INBOX " + marker + "\r\n", announced), literal("{1}\r\n"),
                next("\r\n"), first("a2 NOOP\r\n"));
        assertThat(h.output()).isEqualTo(bytes(input));
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @MethodSource("linesWithoutAMarker")
    void aLineWithoutAMarkerRightBeforeItsEndAnnouncesNothing(String line, Feed feed) {
        DecoderHarness h = DecoderHarness.recordedCommands().feed(line + "a2 NOOP\r\n", feed);

        assertThat(h.take()).containsExactly(first(line), first("a2 NOOP\r\n"));
        assertFalse(h.channel.finish());
    }

    static Stream<Arguments> linesWithoutAMarker() {
        return withEachFeed(
                        "a1 X {}\r\n", "a1 X {+}\r\n", "a1 X { 5}\r\n", "a1 X {5 }\r\n", "a1 X {5} \r\n",
                        "a1 X {-5}\r\n", "a1 X {5++}\r\n", "a1 X {5}x\r\n", "a1 X 5}\r\n", "a1 X {5\r\n",
                        "a1 X {5}\r\r\n", "a1 X ~{}\r\n", "a1 SELECT \"foo{3}\"\r\n", "}\r\n");
    }

    // ---------------------------------------------------------------- several literals

    @ParameterizedTest
    @EnumSource(Feed.class)
    void severalLiteralsInOneCommand(Feed feed) {
        String input = "a1 LOGIN {5}\r\nalice {2+}\r\npw\r\na2 APPEND INBOX ~{2+}\r\n\0\1 {1}\r\n)\r\n";
        DecoderHarness h = DecoderHarness.recordedCommands().feed(input, feed);

        assertThat(h.take()).containsExactly(
                first("a1 LOGIN {5}\r\n", sync(5)), literal("alice"),
                next(" {2+}\r\n", nonSync(2)), literal("pw"),
                next("\r\n"),
                first("a2 APPEND INBOX ~{2+}\r\n", binaryNonSync(2)), literal("\0\1"),
                next(" {1}\r\n", sync(1)), literal(")"),
                next("\r\n"));
        assertThat(h.output()).isEqualTo(bytes(input));
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void severalLiteralsInOneResponse(Feed feed) {
        String input = "* 1 FETCH (BODY[HEADER] {5}\r\na OK\n BODY[TEXT] {4}\r\n+ x\r BODY[]<0.3> ~{3}\r\n* 1)\r\n"
                + "a1 OK done\r\n";
        DecoderHarness h = DecoderHarness.responses().feed(input, feed);

        assertThat(h.take()).containsExactly(
                first("* 1 FETCH (BODY[HEADER] {5}\r\n", sync(5)), literal("a OK\n"),
                next(" BODY[TEXT] {4}\r\n", sync(4)), literal("+ x\r"),
                next(" BODY[]<0.3> ~{3}\r\n", binary(3)), literal("* 1"),
                next(")\r\n"),
                first("a1 OK done\r\n"));
        assertThat(h.output()).isEqualTo(bytes(input));
        assertFalse(h.channel.finish());
    }

    // ---------------------------------------------------------------- zero-length literals

    @ParameterizedTest
    @EnumSource(Feed.class)
    void aZeroLengthLiteralIsOneEmptyLastChunk(Feed feed) {
        DecoderHarness h = DecoderHarness.recordedCommands()
                .feed("a1 SEARCH SUBJECT {0}\r\n\r\na2 SEARCH SUBJECT {0+}\r\n {0}\r\n\r\n", feed);

        assertThat(h.take()).containsExactly(
                first("a1 SEARCH SUBJECT {0}\r\n", sync(0)), literal(""), next("\r\n"),
                first("a2 SEARCH SUBJECT {0+}\r\n", nonSync(0)), literal(""),
                next(" {0}\r\n", sync(0)), literal(""), next("\r\n"));
        assertThat(h.chunks()).containsExactly(new Chunk(0, true), new Chunk(0, true), new Chunk(0, true));
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void aZeroLengthLiteralInAResponse(Feed feed) {
        DecoderHarness h = DecoderHarness.responses()
                .feed("* 4 FETCH (BODY[]<100000> {0}\r\n UID 9)\r\na1 OK done\r\n", feed);

        assertThat(h.take()).containsExactly(
                first("* 4 FETCH (BODY[]<100000> {0}\r\n", sync(0)), literal(""),
                next(" UID 9)\r\n"), first("a1 OK done\r\n"));
        assertThat(h.chunks()).containsExactly(new Chunk(0, true));
        assertFalse(h.channel.finish());
    }

    // ---------------------------------------------------------------- literal chunks

    @ParameterizedTest
    @EnumSource(Feed.class)
    void passesLiteralsOnInChunksOfAtMostMaxChunkSize(Feed feed) {
        ImapDecoderConfig config = ImapDecoderConfig.commands().toBuilder().maxChunkSize(4).build();
        DecoderHarness h = new DecoderHarness(new ImapFrameDecoder(Direction.COMMAND, config))
                .feed("a1 APPEND INBOX {10+}\r\n0123456789\r\n", feed);

        assertThat(h.take()).containsExactly(
                first("a1 APPEND INBOX {10+}\r\n", nonSync(10)), literal("0123456789"), next("\r\n"));
        List<Chunk> chunks = h.chunks();
        assertThat(chunks).allSatisfy(chunk -> assertThat(chunk.size()).isBetween(1, 4));
        assertThat(chunks.subList(0, chunks.size() - 1)).noneMatch(Chunk::last);
        assertThat(chunks.get(chunks.size() - 1).last()).isTrue();
        if (feed == Feed.WHOLE) {
            assertThat(chunks).containsExactly(new Chunk(4, false), new Chunk(4, false), new Chunk(2, true));
        }
        assertFalse(h.channel.finish());
    }

    @Test
    void linesAndLiteralChunksAreSlicesOfTheInputNotCopies() {
        byte[] input = bytes("a1 APPEND INBOX {5+}\r\nhello\r\n");
        EmbeddedChannel channel = new EmbeddedChannel(
                new ImapFrameDecoder(Direction.COMMAND, ImapDecoderConfig.commands()));

        channel.writeInbound(Unpooled.wrappedBuffer(input));

        ImapLine line = channel.readInbound();
        LiteralChunk chunk = channel.readInbound();
        ImapLine end = channel.readInbound();
        try {
            assertSharesMemory(line.content(), input, 0);
            assertSharesMemory(chunk.content(), input, 22);
            assertSharesMemory(end.content(), input, 27);
        } finally {
            line.release();
            chunk.release();
            end.release();
        }
        assertFalse(channel.finish());
    }

    @Test
    void aLiteralInItsOwnReadIsPassedOnWithoutACopy() {
        byte[] data = bytes("hello");
        EmbeddedChannel channel = new EmbeddedChannel(
                new ImapFrameDecoder(Direction.COMMAND, ImapDecoderConfig.commands()));

        channel.writeInbound(Unpooled.wrappedBuffer(bytes("a1 APPEND INBOX {5+}\r\n")));
        channel.writeInbound(Unpooled.wrappedBuffer(data));
        channel.writeInbound(Unpooled.wrappedBuffer(bytes("\r\n")));

        ImapLine line = channel.readInbound();
        LiteralChunk chunk = channel.readInbound();
        ImapLine end = channel.readInbound();
        try {
            assertSharesMemory(chunk.content(), data, 0);
            assertThat(chunk.last()).isTrue();
        } finally {
            line.release();
            chunk.release();
            end.release();
        }
        assertFalse(channel.finish());
    }

    private static void assertSharesMemory(ByteBuf frame, byte[] input, int offset) {
        assertThat(frame.hasArray()).isTrue();
        assertThat(frame.array()).isSameAs(input);
        assertThat(frame.arrayOffset() + frame.readerIndex()).isEqualTo(offset);
    }

    // ---------------------------------------------------------------- where a response may carry a literal

    static Stream<Arguments> responseTextEndingInAMarker() {
        return withEachFeed(
                        "a1 NO foo{5}\r\n", "a1 OK [ALERT] {5}\r\n", "a1 BAD {5+}\r\n", "+ {5}\r\n",
                        "+ Ready for {5}\r\n", "+{5}\r\n", "* OK foo{5}\r\n", "* NO {5}\r\n", "* BAD {5}\r\n",
                        "* BYE {5}\r\n", "* PREAUTH {5}\r\n", "* ok lower case ~{5}\r\n",
                        "* OK [ALERT] {5}\r\n");
    }

    @ParameterizedTest
    @MethodSource("responseTextEndingInAMarker")
    void aResponseWhoseTextEndsInAMarkerAnnouncesNothing(String line, Feed feed) {
        DecoderHarness h = DecoderHarness.responses().feed(line + "hello\r\n", feed);

        assertThat(h.take()).containsExactly(first(line), first("hello\r\n"));
        assertFalse(h.channel.finish());
    }

    static Stream<Arguments> responsesWithALiteral() {
        return withEachFeed(Stream.of(
                        Arguments.of("* 1 FETCH (BODY[] {5}\r\n", sync(5), "hello", ")\r\n"),
                        Arguments.of("* LIST () \"/\" {8}\r\n", sync(8), utf8("Notifyé"), "\r\n"),
                        Arguments.of("* STATUS {8}\r\n", sync(8), utf8("Notifyé"), " (MESSAGES 1)\r\n"),
                        Arguments.of("* 12 FETCH (BINARY[2] ~{4}\r\n", binary(4), "\0\1\r\n", ")\r\n"),
                        Arguments.of("* OKAY {3}\r\n", sync(3), "a1 ", "\r\n"),
                        Arguments.of("* 3 NO {3}\r\n", sync(3), "+ x", "\r\n")));
    }

    @ParameterizedTest
    @MethodSource("responsesWithALiteral")
    void anUntaggedDataResponseMayCarryALiteral(
            String line, LiteralAnnouncement announced, String data, String rest, Feed feed) {
        DecoderHarness h = DecoderHarness.responses().feed(line + data + rest + "a1 OK done\r\n", feed);

        assertThat(h.take()).containsExactly(
                first(line, announced), literal(data), next(rest), first("a1 OK done\r\n"));
        assertFalse(h.channel.finish());
    }

    // ---------------------------------------------------------------- synchronizing literals wait

    @ParameterizedTest
    @EnumSource(Feed.class)
    void waitsForTheSessionAfterASynchronizingLiteral(Feed feed) {
        DecoderHarness h = DecoderHarness.commands().feed("a1 LOGIN {5}\r\nalice\r\na2 NOOP\r\n", feed);

        assertThat(h.take()).containsExactly(first("a1 LOGIN {5}\r\n", sync(5)));
        assertThat(h.decoder.awaitingLiteralDecision()).isTrue();
        assertThat(h.decoder.pendingLiteral()).isEqualTo(sync(5));
        assertThat(h.runPendingTasks().take()).isEmpty();

        h.decoder.literalAccepted();

        assertThat(h.decoder.awaitingLiteralDecision()).isFalse();
        assertThat(h.decoder.pendingLiteral()).isNull();
        assertThat(h.runPendingTasks().take()).containsExactly(
                literal("alice"), next("\r\n"), first("a2 NOOP\r\n"));
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void framesLiteralDataThatArrivesAfterTheDecision(Feed feed) {
        DecoderHarness h = DecoderHarness.commands().feed("a1 LOGIN {5}\r\n", feed);
        assertThat(h.take()).containsExactly(first("a1 LOGIN {5}\r\n", sync(5)));

        h.decoder.literalAccepted();
        h.runPendingTasks().feed("alice ~{2}\r\n", feed);

        assertThat(h.take()).containsExactly(literal("alice"), next(" ~{2}\r\n", binary(2)));
        assertThat(h.decoder.pendingLiteral()).isEqualTo(binary(2));

        h.decoder.literalAccepted();
        h.runPendingTasks().feed("pw\r\n", feed);

        assertThat(h.take()).containsExactly(literal("pw"), next("\r\n"));
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void aRefusedLiteralMakesTheNextBytesANewCommand(Feed feed) {
        // raw-refused-001: the server answers a002 with NO instead of '+'; the client never sends the 244 bytes.
        String input = "a002 APPEND \"No such folder\" {244}\r\na003 NOOP\r\na004 APPEND INBOX {5}\r\nhello\r\n"
                + "a005 LOGOUT\r\n";
        DecoderHarness h = DecoderHarness.commands().feed(input, feed);
        assertThat(h.take()).containsExactly(first("a002 APPEND \"No such folder\" {244}\r\n", sync(244)));

        h.decoder.literalRefused();

        assertThat(h.decoder.awaitingLiteralDecision()).isFalse();
        assertThat(h.runPendingTasks().take()).containsExactly(
                first("a003 NOOP\r\n"), first("a004 APPEND INBOX {5}\r\n", sync(5)));

        h.decoder.literalAccepted();

        assertThat(h.runPendingTasks().take()).containsExactly(
                literal("hello"), next("\r\n"), first("a005 LOGOUT\r\n"));
        assertThat(h.output()).isEqualTo(bytes(input));
        assertFalse(h.channel.finish());
    }

    @Test
    void aDecisionWithoutAWaitingLiteralIsAnError() {
        DecoderHarness h = DecoderHarness.commands().feed("a1 APPEND INBOX {2+}\r\nx", Feed.WHOLE);

        assertThatThrownBy(h.decoder::literalAccepted)
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("no synchronizing literal is waiting (state: LITERAL)");
        assertThatThrownBy(h.decoder::literalRefused)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("no synchronizing literal is waiting");
        h.feed("y\r\n", Feed.WHOLE);
        assertThat(h.take()).containsExactly(
                first("a1 APPEND INBOX {2+}\r\n", nonSync(2)), literal("xy"), next("\r\n"));
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void onlySynchronizingCommandLiteralsWait(Feed feed) {
        DecoderHarness commands = DecoderHarness.commands().feed("a1 APPEND INBOX ~{2+}\r\nhi {1+}\r\nx\r\n", feed);
        DecoderHarness responses = DecoderHarness.responses().feed("* 1 FETCH (BODY[] {2}\r\nhi)\r\n", feed);

        assertThat(commands.take()).containsExactly(
                first("a1 APPEND INBOX ~{2+}\r\n", binaryNonSync(2)), literal("hi"),
                next(" {1+}\r\n", nonSync(1)), literal("x"), next("\r\n"));
        assertThat(responses.take()).containsExactly(
                first("* 1 FETCH (BODY[] {2}\r\n", sync(2)), literal("hi"), next(")\r\n"));
        assertThat(commands.decoder.awaitingLiteralDecision()).isFalse();
        assertThat(responses.decoder.awaitingLiteralDecision()).isFalse();
        assertFalse(commands.channel.finish());
        assertFalse(responses.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void aHandlerMayDecideAsTheLineGoesBy(Feed feed) {
        // Whole: the decision comes while the decoder is still decoding the same read.
        // One byte at a time: it comes between reads and the decoder resumes on the event loop.
        ImapFrameDecoder decoder = new ImapFrameDecoder(Direction.COMMAND, ImapDecoderConfig.commands());
        DecoderHarness h = new DecoderHarness(decoder);
        h.channel.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ctx.fireChannelRead(msg);
                if (msg instanceof ImapLine line && line.literal() != null && line.literal().synchronizing()) {
                    if (line.content().toString(ISO_8859_1).startsWith("a2 ")) {
                        decoder.literalRefused();
                    } else {
                        decoder.literalAccepted();
                    }
                }
            }
        });

        h.feed("a1 LOGIN {5}\r\nalice {2}\r\npw\r\na2 APPEND x {3}\r\na3 NOOP\r\n", feed);

        assertThat(h.take()).containsExactly(
                first("a1 LOGIN {5}\r\n", sync(5)), literal("alice"), next(" {2}\r\n", sync(2)), literal("pw"),
                next("\r\n"), first("a2 APPEND x {3}\r\n", sync(3)), first("a3 NOOP\r\n"));
        assertFalse(h.channel.finish());
    }

    // ---------------------------------------------------------------- discarding buffered input

    @ParameterizedTest
    @EnumSource(Feed.class)
    void discardingDropsWhatWasReadButNotFramed(Feed feed) {
        // STARTTLS: what the client pipelined behind it must not become a command.
        DecoderHarness h = DecoderHarness.commands().feed("a1 STARTTLS\r\na2 LOGIN alice secr", feed);
        assertThat(h.take()).containsExactly(first("a1 STARTTLS\r\n"));
        assertThat(h.decoder.midFrame()).isTrue();

        h.decoder.discardBufferedInput();

        assertThat(h.decoder.midFrame()).isFalse();
        h.feed("et\r\na3 CAPABILITY\r\n", feed);
        assertThat(h.take()).containsExactly(first("et\r\n"), first("a3 CAPABILITY\r\n"));
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void discardingForgetsAWaitingLiteral(Feed feed) {
        DecoderHarness h = DecoderHarness.commands().feed("a1 LOGIN {5}\r\nali", feed);
        assertThat(h.take()).containsExactly(first("a1 LOGIN {5}\r\n", sync(5)));

        h.decoder.discardBufferedInput();

        assertThat(h.decoder.awaitingLiteralDecision()).isFalse();
        assertThat(h.decoder.pendingLiteral()).isNull();
        h.feed("a2 NOOP\r\n", feed);
        assertThat(h.take()).containsExactly(first("a2 NOOP\r\n"));
        assertFalse(h.channel.finish());
    }

    // ---------------------------------------------------------------- line length

    @ParameterizedTest
    @EnumSource(Feed.class)
    void aLineTooLongIsRefusedAndTheRestDiscarded(Feed feed) {
        DecoderHarness h = smallLines(Direction.COMMAND)
                .feed("a1 LOGIN " + "x".repeat(100) + "\r\na2 NOOP\r\n", feed);

        assertThat(h.take()).containsExactly(new ImapDecoderError(LINE_TOO_LONG, "a1", true, null, false));
        assertThat(h.output()).isEmpty();
        h.feed("a3 NOOP\r\n", feed);
        assertThat(h.take()).isEmpty();
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void aLineOfExactlyMaxLineLengthPasses(Feed feed) {
        String longest = "a1 " + "x".repeat(59) + "\r\n"; // 64 bytes, CRLF included
        DecoderHarness h = smallLines(Direction.COMMAND).feed(longest + "a2" + "y".repeat(62) + "\r\n", feed);

        assertThat(h.take()).containsExactly(first(longest), new ImapDecoderError(LINE_TOO_LONG, null, true, null, false));
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void theTagOfALineTooLongIsReportedOnlyWhenItFitsTheLimit(Feed feed) {
        // A 64-character tag and its space are 65 bytes, one more than this limit: one byte per
        // read, the decoder refuses the line at byte 64 and never sees the space.
        String tag = "t".repeat(64);
        DecoderHarness h = smallLines(Direction.COMMAND).feed(tag + " NOOP\r\n", feed);

        assertThat(h.take()).containsExactly(new ImapDecoderError(LINE_TOO_LONG, null, true, null, false));
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void aContinuationLineTooLongIsRefused(Feed feed) {
        DecoderHarness h = smallLines(Direction.RESPONSE)
                .feed("* 1 FETCH (BODY[] {1}\r\nx" + " UID 1".repeat(20) + ")\r\n", feed);

        assertThat(h.take()).containsExactly(
                first("* 1 FETCH (BODY[] {1}\r\n", sync(1)), literal("x"),
                new ImapDecoderError(LINE_TOO_LONG, null, false, null, false));
        assertFalse(h.channel.finish());
    }

    @Test
    void aLineTooLongIsNeverBuffered() {
        ImapDecoderConfig config = ImapDecoderConfig.commands();
        UnpooledByteBufAllocator alloc = new UnpooledByteBufAllocator(false);
        EmbeddedChannel channel = new EmbeddedChannel(new ImapFrameDecoder(Direction.COMMAND, config));
        channel.config().setAllocator(alloc);
        byte[] piece = bytes("x".repeat(4096));
        int limitReachedAt = config.maxLineLength() / piece.length;
        long mostHeld = 0;
        List<Object> frames = new ArrayList<>();

        for (int i = 1; i <= 256; i++) { // 1 MiB without a line ending
            channel.writeInbound(Unpooled.wrappedBuffer(piece));
            mostHeld = Math.max(mostHeld, alloc.metric().usedHeapMemory());
            for (Object frame; (frame = channel.readInbound()) != null; ) {
                frames.add(frame);
            }
            assertThat(frames).as("frames after %d pieces", i).hasSize(i < limitReachedAt ? 0 : 1);
        }

        assertThat(frames).containsExactly(new ImapDecoderError(LINE_TOO_LONG, null, true, null, false));
        assertThat(mostHeld).isLessThanOrEqualTo(2L * config.maxLineLength());
        assertThat(alloc.metric().usedHeapMemory()).isZero();
        assertFalse(channel.finish());
    }

    // ---------------------------------------------------------------- literal size

    @ParameterizedTest
    @EnumSource(Feed.class)
    void aSynchronizingLiteralTooLargeBeforeAuthenticationIsRefusedAndTheNextCommandDecodes(Feed feed) {
        long limit = ImapDecoderConfig.DEFAULT_MAX_LITERAL_SIZE_BEFORE_AUTH;
        DecoderHarness h = DecoderHarness.commands()
                .feed("a1 LOGIN {" + (limit + 1) + "}\r\na2 LOGIN {" + limit + "}\r\n", feed);

        assertThat(h.take()).containsExactly(
                new ImapDecoderError(LITERAL_TOO_LARGE, "a1", true, sync(limit + 1), true),
                first("a2 LOGIN {" + limit + "}\r\n", sync(limit)));
        assertThat(h.output()).isEqualTo(bytes("a2 LOGIN {" + limit + "}\r\n"));
        h.decoder.literalRefused();
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void authenticationRaisesTheLiteralLimit(Feed feed) {
        long before = ImapDecoderConfig.DEFAULT_MAX_LITERAL_SIZE_BEFORE_AUTH;
        long after = ImapDecoderConfig.DEFAULT_MAX_LITERAL_SIZE_AFTER_AUTH;
        DecoderHarness h = DecoderHarness.commands();
        h.decoder.setAuthenticated(true);

        h.feed("a1 APPEND INBOX {" + (before + 1) + "}\r\n", feed);
        assertThat(h.take()).containsExactly(first("a1 APPEND INBOX {" + (before + 1) + "}\r\n", sync(before + 1)));
        h.decoder.literalRefused();
        h.runPendingTasks().feed("a2 APPEND INBOX {" + (after + 1) + "}\r\na3 NOOP\r\n", feed);

        assertThat(h.take()).containsExactly(
                new ImapDecoderError(LITERAL_TOO_LARGE, "a2", true, sync(after + 1), true), first("a3 NOOP\r\n"));
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void aNonSynchronizingLiteralTooLargeIsUnrecoverable(Feed feed) {
        DecoderHarness h = DecoderHarness.commands()
                .feed("a1 APPEND INBOX {8193+}\r\n" + "a2 NOOP\r\n".repeat(10), feed);

        assertThat(h.take()).containsExactly(new ImapDecoderError(LITERAL_TOO_LARGE, "a1", true, nonSync(8193), false));
        assertThat(h.output()).isEmpty();
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void aSynchronizingLiteralTooLargeAfterTheFirstLineIsUnrecoverable(Feed feed) {
        DecoderHarness h = DecoderHarness.recordedCommands().feed("a1 LOGIN {5}\r\nalice {9000}\r\na2 NOOP\r\n", feed);

        assertThat(h.take()).containsExactly(
                first("a1 LOGIN {5}\r\n", sync(5)), literal("alice"),
                new ImapDecoderError(LITERAL_TOO_LARGE, null, false, sync(9000), false));
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void aLiteralTooLargeInAResponseIsUnrecoverable(Feed feed) {
        // The backend sends the data without waiting for anything: there is no line to go on with.
        ImapDecoderConfig config = ImapDecoderConfig.responses().toBuilder()
                .maxLiteralSizeBeforeAuth(4).maxLiteralSizeAfterAuth(4).build();
        DecoderHarness h = new DecoderHarness(new ImapFrameDecoder(Direction.RESPONSE, config))
                .feed("* 1 FETCH (BODY[] {5}\r\nhello)\r\na1 OK done\r\n", feed);

        assertThat(h.take()).containsExactly(new ImapDecoderError(LITERAL_TOO_LARGE, null, true, sync(5), false));
        assertFalse(h.channel.finish());
    }

    static Stream<Arguments> overflowingSizes() {
        return withEachFeed("9223372036854775808", "99999999999999999999999", "18446744073709551617");
    }

    @ParameterizedTest
    @MethodSource("overflowingSizes")
    void aSizeBeyondNumber64IsTooLargeWhateverTheLimit(String size, Feed feed) {
        DecoderHarness commands = DecoderHarness.commands();
        commands.decoder.setAuthenticated(true);
        commands.feed("a1 APPEND INBOX {" + size + "}\r\na2 APPEND INBOX {" + size + "+}\r\nx\r\n", feed);
        DecoderHarness responses = DecoderHarness.responses()
                .feed("* 1 FETCH (BODY[] {" + size + "}\r\nx)\r\na1 OK done\r\n", feed);

        assertThat(commands.take()).containsExactly(
                new ImapDecoderError(LITERAL_TOO_LARGE, "a1", true, sync(Long.MAX_VALUE), true),
                new ImapDecoderError(LITERAL_TOO_LARGE, "a2", true, nonSync(Long.MAX_VALUE), false));
        assertThat(responses.take()).containsExactly(
                new ImapDecoderError(LITERAL_TOO_LARGE, null, true, sync(Long.MAX_VALUE), false));
        assertFalse(commands.channel.finish());
        assertFalse(responses.channel.finish());
    }

    // ---------------------------------------------------------------- literals per command

    @ParameterizedTest
    @EnumSource(Feed.class)
    void tooManyLiteralsInOneCommandIsUnrecoverable(Feed feed) {
        ImapDecoderConfig config = ImapDecoderConfig.commands().toBuilder().maxLiteralsPerCommand(2).build();
        DecoderHarness h = new DecoderHarness(new ImapFrameDecoder(Direction.COMMAND, config, false))
                .feed("a1 X {1+}\r\na {1}\r\nb\r\na2 X {1}\r\na {1+}\r\nb {1+}\r\nc\r\na3 NOOP\r\n", feed);

        assertThat(h.take()).containsExactly(
                first("a1 X {1+}\r\n", nonSync(1)), literal("a"), next(" {1}\r\n", sync(1)), literal("b"),
                next("\r\n"),
                first("a2 X {1}\r\n", sync(1)), literal("a"), next(" {1+}\r\n", nonSync(1)), literal("b"),
                new ImapDecoderError(TOO_MANY_LITERALS, null, false, null, false));
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void aRefusedLiteralDoesNotCountForTheNextCommand(Feed feed) {
        ImapDecoderConfig config = ImapDecoderConfig.commands().toBuilder().maxLiteralsPerCommand(1).build();
        DecoderHarness h = new DecoderHarness(new ImapFrameDecoder(Direction.COMMAND, config))
                .feed("a1 LOGIN {1}\r\n", feed);
        h.decoder.literalRefused();
        h.runPendingTasks().feed("a2 LOGIN {1+}\r\nx\r\n", feed);

        assertThat(h.take()).containsExactly(
                first("a1 LOGIN {1}\r\n", sync(1)), first("a2 LOGIN {1+}\r\n", nonSync(1)), literal("x"),
                next("\r\n"));
        assertFalse(h.channel.finish());
    }

    // ---------------------------------------------------------------- end of input

    static Stream<Arguments> truncatedInputs() {
        ImapDecoderError firstLine = new ImapDecoderError(TRUNCATED, null, true, null, false);
        ImapDecoderError later = new ImapDecoderError(TRUNCATED, null, false, null, false);
        Line append = first("a1 APPEND INBOX {5+}\r\n", nonSync(5));
        return withEachFeed(Stream.of(
                Arguments.of("a1 NOOP", List.of(), List.of(firstLine)),
                Arguments.of("a1 NOOP\r", List.of(), List.of(firstLine)),
                Arguments.of("a1 LOGIN {5}\r\n", List.of(first("a1 LOGIN {5}\r\n", sync(5))), List.of(later)),
                Arguments.of("a1 APPEND INBOX {5+}\r\nhel", List.of(append), List.of(new Literal("hel", false), later)),
                Arguments.of("a1 APPEND INBOX {5+}\r\nhello", List.of(append, literal("hello")), List.of(later)),
                Arguments.of("a1 APPEND INBOX {5+}\r\nhello\r", List.of(append, literal("hello")), List.of(later))));
    }

    @ParameterizedTest
    @MethodSource("truncatedInputs")
    void inputThatEndsInsideACommandIsTruncated(String input, List<Object> before, List<Object> atEnd, Feed feed) {
        DecoderHarness h = DecoderHarness.commands().feed(input, feed);

        assertThat(h.take()).isEqualTo(before);
        assertThat(h.decoder.midFrame()).isTrue();
        assertThat(h.finish()).isEqualTo(atEnd);
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void aZeroLengthLiteralAtTheEndOfInputStillComesOut(Feed feed) {
        DecoderHarness h = DecoderHarness.recordedCommands().feed("a1 SEARCH SUBJECT {0}\r\n", feed);

        assertThat(h.take()).containsExactly(first("a1 SEARCH SUBJECT {0}\r\n", sync(0)));
        assertThat(h.finish()).containsExactly(literal(""), new ImapDecoderError(TRUNCATED, null, false, null, false));
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void anAcceptedZeroLengthLiteralAtTheEndOfInputStillComesOut(Feed feed) {
        DecoderHarness h = DecoderHarness.commands().feed("a1 SEARCH SUBJECT {0}\r\n", feed);
        assertThat(h.take()).containsExactly(first("a1 SEARCH SUBJECT {0}\r\n", sync(0)));
        h.decoder.literalAccepted();
        h.runPendingTasks();

        assertThat(h.finish()).containsExactly(literal(""), new ImapDecoderError(TRUNCATED, null, false, null, false));
        assertFalse(h.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void aZeroLengthLiteralEndsBeforeTheNextLineIsRefused(Feed feed) {
        DecoderHarness tooLong = smallLines(Direction.COMMAND)
                .feed("a1 SEARCH SUBJECT {0}\r\n BODY " + "x".repeat(60) + "\r\n", feed);
        ImapDecoderConfig small = ImapDecoderConfig.commands().toBuilder().maxLiteralSizeBeforeAuth(4).build();
        DecoderHarness tooLarge = new DecoderHarness(new ImapFrameDecoder(Direction.COMMAND, small, false))
                .feed("a1 SEARCH SUBJECT {0}\r\n BODY {5}\r\nhello\r\n", feed);

        assertThat(tooLong.take()).containsExactly(
                first("a1 SEARCH SUBJECT {0}\r\n", sync(0)), literal(""),
                new ImapDecoderError(LINE_TOO_LONG, null, false, null, false));
        assertThat(tooLarge.take()).containsExactly(
                first("a1 SEARCH SUBJECT {0}\r\n", sync(0)), literal(""),
                new ImapDecoderError(LITERAL_TOO_LARGE, null, false, sync(5), false));
        assertFalse(tooLong.channel.finish());
        assertFalse(tooLarge.channel.finish());
    }

    @ParameterizedTest
    @EnumSource(Feed.class)
    void inputThatEndsBetweenCommandsIsNotTruncated(Feed feed) {
        DecoderHarness h = DecoderHarness.recordedCommands().feed("a1 LOGIN {1}\r\nx\r\n", feed);

        assertThat(h.take()).hasSize(3);
        assertThat(h.decoder.midFrame()).isFalse();
        assertThat(h.finish()).isEmpty();
        assertFalse(h.channel.finish());
    }

    // ---------------------------------------------------------------- frames

    @Test
    void framesTellTheirShapeButNotTheirContent() {
        ImapLine line = new ImapLine(Unpooled.copiedBuffer("a1 LOGIN alice secret\r\n", ISO_8859_1), true, null);
        ImapLine lf = new ImapLine(Unpooled.copiedBuffer(" {7+}\n", ISO_8859_1), false, nonSync(7));
        LiteralChunk chunk = new LiteralChunk(Unpooled.copiedBuffer("secret!", ISO_8859_1), true);
        try {
            assertThat(line.textLength()).isEqualTo(21);
            assertThat(line.last()).isTrue();
            assertThat(line.toString()).isEqualTo("ImapLine(23 bytes, first=true)");
            assertThat(lf.textLength()).isEqualTo(5);
            assertThat(lf.last()).isFalse();
            assertThat(lf.toString()).isEqualTo("ImapLine(6 bytes, first=false, literal={7+})");
            assertThat(chunk.toString()).isEqualTo("LiteralChunk(7 bytes, last=true)");
            assertThat(binaryNonSync(3)).hasToString("~{3+}");
            assertThat(binary(3).synchronizing()).isTrue();
        } finally {
            line.release();
            lf.release();
            chunk.release();
        }
    }

    // ---------------------------------------------------------------- helpers

    /** Each case once per {@link Feed}, the feed as the last argument. */
    static Stream<Arguments> withEachFeed(Stream<Arguments> cases) {
        return cases.flatMap(args -> Arrays.stream(Feed.values()).map(feed -> {
            Object[] withFeed = Arrays.copyOf(args.get(), args.get().length + 1);
            withFeed[withFeed.length - 1] = feed;
            return Arguments.of(withFeed);
        }));
    }

    static Stream<Arguments> withEachFeed(String... cases) {
        return withEachFeed(Arrays.stream(cases).map(Arguments::of));
    }

    private static DecoderHarness smallLines(Direction direction) {
        ImapDecoderConfig base = direction == Direction.COMMAND ? ImapDecoderConfig.commands() : ImapDecoderConfig.responses();
        ImapDecoderConfig config = base.toBuilder().maxLineLength(ImapDecoderConfig.MIN_LINE_LENGTH).build();
        return new DecoderHarness(new ImapFrameDecoder(direction, config, false));
    }

    static Line first(String text) {
        return new Line(text, true, null);
    }

    static Line first(String text, LiteralAnnouncement literal) {
        return new Line(text, true, literal);
    }

    static Line next(String text) {
        return new Line(text, false, null);
    }

    static Line next(String text, LiteralAnnouncement literal) {
        return new Line(text, false, literal);
    }

    static Literal literal(String data) {
        return new Literal(data, true);
    }

    static LiteralAnnouncement sync(long size) {
        return new LiteralAnnouncement(size, false, false);
    }

    static LiteralAnnouncement nonSync(long size) {
        return new LiteralAnnouncement(size, true, false);
    }

    static LiteralAnnouncement binary(long size) {
        return new LiteralAnnouncement(size, false, true);
    }

    static LiteralAnnouncement binaryNonSync(long size) {
        return new LiteralAnnouncement(size, true, true);
    }

    /** The UTF-8 bytes of {@code text}, as the ISO-8859-1 string the harness compares. */
    static String utf8(String text) {
        return new String(text.getBytes(UTF_8), ISO_8859_1);
    }

    static byte[] bytes(String text) {
        return text.getBytes(ISO_8859_1);
    }
}
