package io.postern.imap.codec;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.postern.imap.codec.Transcript.Read;
import io.postern.imap.codec.Transcript.ResponseLine;
import io.postern.imap.parse.CommandHead;
import io.postern.imap.parse.ImapParseException;
import io.postern.imap.parse.ResponseHead;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Frames every recorded connection of {@code src/test/resources/transcripts}: each {@code .c2s}
 * with the command decoder, each {@code .s2c} with the response decoder, fed whole, one byte at a
 * time, and in the relay's reads. The frames must give back the bytes, and the counts of the
 * corpus README.
 */
class TranscriptFramingTest {

    /** How the bytes reach the decoder. */
    enum Feed {
        WHOLE,
        BYTE_BY_BYTE,
        /** In the reads of the recording relay, from the {@code .interleave} headers. */
        RELAY_READS
    }

    /** The test does not follow logins: the literal limit after login applies from the start. */
    private static final ImapDecoderConfig COMMANDS = ImapDecoderConfig.commands().toBuilder()
            .maxLiteralSizeBeforeAuth(ImapDecoderConfig.DEFAULT_MAX_LITERAL_SIZE_AFTER_AUTH)
            .build();

    /** Byte-at-a-time feeds make millions of buffers: leave those out of leak tracking (the other feeds cover it). */
    private static final UnpooledByteBufAllocator UNTRACKED = new UnpooledByteBufAllocator(false, true);

    /**
     * The README's "Sizes and expected counts", with two differences: compress-mbsync-001 counts
     * the part before COMPRESS and the inflated part together, and raw-refused-001 has the counts
     * of the dialog-aware split (the README's c2s-only numbers are checked on their own below).
     */
    private static final String README_TABLE = """
            # capture            c2s bytes  s2c bytes  c2s lines/literals           s2c lines/literals  commands/tagged
            compress-mbsync-001        196       1613  9/0                          30/2 {n}x2          9/9
            curl-001                    88        974  4/0                          10/0                4/4
            curl-002                    92       1160  4/0                          15/0                4/4
            curl-003                   116      30245  5/0                          18/1 {n}x1          5/5
            curl-004                   133       1327  5/0                          17/0                5/5
            curl-005                  3834        926  5/1 {n}x1                    9/0                 4/4
            curl-006                   129       1342  5/0                          17/0                5/5
            curl-007                   131       1358  6/0                          18/0                5/5
            curl-008                   145       1457  5/0                          18/1 {n}x1          5/5
            fetchmail-001             1928     855376  64/0                         172/40 {n}x40       64/64
            imaplib-001               1232       1540  13/3 {n}x3                   22/0                10/10
            imaplib-002                587       1538  10/1 {n}x1                   23/0                9/9
            imaplib2-001               159       1483  7/0                          22/1 {n}x1          6/6
            imaplib2-002               301        930  5/1 {n}x1                    9/0                 4/4
            mbsync-001                1378     724060  47/0                         190/35 {n}x35       47/47
            mbsync-002                 334       4437  13/0                         89/1 {n}x1          13/13
            neomutt-001                467      21097  9/0                          61/21 {n}x21        9/9
            offlineimap-001           1400     971253  44/0                         172/30 {n}x30       43/43
            raw-auth-001               162       1080  8/0                          14/0                6/6
            raw-auth-002                58        690  4/0                          6/0                 2/2
            raw-auth-003               101        713  3/0                          5/0                 3/3
            raw-bigfetch-001           376    1001215  10/0                         40/3 {n}x3          10/10
            raw-binary-001            3733       4458  15/3 {n+}x1,~{n+}x1,~{n}x1   42/8 {n}x2,~{n}x6   12/12
            raw-catenate-001           749       1498  10/3 {n+}x2,{n}x1            25/1 {n}x1          7/7
            raw-eof-001                451        591  2/0                          2/0                 2/1
            raw-idle-001               105       1197  6/0                          18/0                5/5
            raw-idle-002               379       1160  6/1 {n+}x1                   15/0                5/5
            raw-literalplus-001    3000230       1398  9/3 {n+}x3                   19/1 {n}x1          6/6
            raw-multiappend-001       1229        934  9/4 {n+}x2,{n}x2             10/0                5/5
            raw-names-001             1507       5291  38/3 {n+}x2,{n}x1            96/1 {n}x1          35/35
            raw-notify-001             241       1535  6/0                          27/3 {n}x3          6/6
            raw-notify-002             740       1062  10/2 {n+}x2                  10/0                8/8
            raw-pipeline-001          1632      62464  54/1 {n+}x1                  151/6 {n}x6         53/53
            raw-qresync-001            453       2669  14/0                         59/0                14/14
            raw-refused-001            355        874  6/1 {n}x1                    8/0                 5/5
            raw-search-001             594       4733  16/1 {n+}x1                  41/0                15/15
            raw-synclit-001            267       1434  15/8 {n}x8                   28/0                7/7
            raw-traps-001             1384       3253  14/3 {n+}x2,{n}x1            42/11 {n}x11        11/11
            """;

    /** A row of the table: name, bytes, bytes, lines/literals [kinds], lines/literals [kinds], commands/tagged. */
    private static final Pattern ROW = Pattern.compile(
            "(\\S+) +(\\d+) +(\\d+) +(\\d+)/(\\d+)( \\S*\\{\\S*)? +(\\d+)/(\\d+)( \\S*\\{\\S*)? +(\\d+)/(\\d+)");

    /** Tagged commands the README says get no completion. */
    private static final Map<String, Set<String>> UNANSWERED = Map.of("raw-eof-001", Set.of("a002"));

    private static final Map<String, Expected> EXPECTED = parseTable(README_TABLE);
    private static final Map<String, Transcript> TRANSCRIPTS = new ConcurrentHashMap<>();
    private static final Map<String, List<ResponseLine>> RESPONSE_LINES = new ConcurrentHashMap<>();

    // ---------------------------------------------------------------- the corpus

    @Test
    void theFolderHoldsTheCapturesOfTheReadme() {
        assertThat(Transcript.names()).containsExactlyInAnyOrderElementsOf(EXPECTED.keySet()).hasSize(38);
        for (Expected expected : EXPECTED.values()) {
            Transcript transcript = transcript(expected.name());
            assertThat(transcript.bytes(Direction.COMMAND)).as(expected.name()).hasSize(expected.commandBytes());
            assertThat(transcript.bytes(Direction.RESPONSE)).as(expected.name()).hasSize(expected.responseBytes());
        }
    }

    @ParameterizedTest
    @MethodSource("captures")
    void theRelayReadsCoverEachFileInOrder(String name) {
        Transcript transcript = transcript(name);
        for (Direction direction : Direction.values()) {
            int next = 0;
            for (Read read : transcript.reads(direction)) {
                assertThat(read.offset()).as("%s %s read at %d", name, direction, next).isEqualTo(next);
                assertThat(read.length()).isPositive();
                next += read.length();
            }
            assertThat(next).as("%s %s", name, direction).isEqualTo(transcript.bytes(direction).length);
        }
    }

    @Test
    void oneRelayReadEndsBetweenACrAndItsLf() {
        // raw-literalplus-001, as the README says: a line ending is split across two reads.
        Transcript transcript = transcript("raw-literalplus-001");
        byte[] bytes = transcript.bytes(Direction.COMMAND);

        assertThat(transcript.reads(Direction.COMMAND)).anySatisfy(read -> {
            int end = read.offset() + read.length();
            assertThat(end).isLessThan(bytes.length);
            assertThat(bytes[end - 1]).isEqualTo((byte) '\r');
            assertThat(bytes[end]).isEqualTo((byte) '\n');
        });
    }

    // ---------------------------------------------------------------- framing

    static Stream<Arguments> streams() {
        return captures().flatMap(name -> Stream.of(Direction.values()).flatMap(direction -> Stream.of(Feed.values())
                .map(feed -> Arguments.of(name, direction, feed))));
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("streams")
    void framesEachStreamByteForByteWithTheReadmeCounts(String name, Direction direction, Feed feed) {
        Expected expected = EXPECTED.get(name);
        Framing framing = frame(transcript(name), direction, feed);

        assertSameBytes(framing.output(), framing.input(), name + " " + direction);
        assertThat(framing.counts()).isEqualTo(direction == Direction.COMMAND ? expected.commands() : expected.responses());
        if (direction == Direction.COMMAND) {
            assertThat(framing.commandTags()).hasSize(expected.commandCount());
            assertThat(framing.continuationData()).isEqualTo(expected.commands().lines() - expected.commandCount()
                    - framing.counts().literals() /* the line after each literal */);
        } else {
            assertThat(framing.responseLines().stream().filter(line -> line.tag() != null)).hasSize(expected.taggedReplies());
        }
        if (name.equals("raw-eof-001") && direction == Direction.COMMAND) {
            // The client closed 400 bytes into a 1142-byte literal.
            assertThat(framing.errors()).containsExactly(
                    new ImapDecoderError(ImapDecoderError.Kind.TRUNCATED, null, false, null, false));
        } else {
            assertThat(framing.errors()).isEmpty();
        }
    }

    @ParameterizedTest
    @MethodSource("captures")
    void everyTaggedCommandHasExactlyOneTaggedCompletion(String name) {
        Transcript transcript = transcript(name);
        List<String> commands = frame(transcript, Direction.COMMAND, Feed.WHOLE).commandTags();
        Map<String, Long> completions = responseLines(transcript).stream()
                .filter(line -> line.tag() != null)
                .collect(Collectors.groupingBy(ResponseLine::tag, TreeMap::new, Collectors.counting()));
        Set<String> unanswered = UNANSWERED.getOrDefault(name, Set.of());

        assertThat(commands).doesNotHaveDuplicates();
        for (String tag : commands) {
            assertThat(completions.getOrDefault(tag, 0L)).as("completions of %s in %s", tag, name)
                    .isEqualTo(unanswered.contains(tag) ? 0L : 1L);
        }
        assertThat(commands).containsAll(completions.keySet());
    }

    @ParameterizedTest
    @ValueSource(strings = {"fetchmail-001", "mbsync-001", "offlineimap-001", "raw-bigfetch-001", "raw-pipeline-001",
        "raw-literalplus-001"})
    void literalsSpanTheRelaysReadsWhereTheReadmeSaysSo(String name) {
        Transcript transcript = transcript(name);
        int spanning = Stream.of(Direction.values())
                .mapToInt(direction -> frame(transcript, direction, Feed.RELAY_READS).writesEndingInsideALiteral())
                .sum();

        assertThat(spanning).isPositive();
    }

    @Test
    void rawRefusedNeedsTheBackendsAnswerToSplitCorrectly() {
        // Without the dialog, the 244 bytes after a002's {244} are taken as its literal: the
        // README's "wrong on purpose" counts. With it (the table), a003 and a004 are commands.
        Transcript transcript = transcript("raw-refused-001");
        Framing recorded = decode(Direction.COMMAND, Feed.WHOLE, false, null,
                sink -> sink.write(transcript.bytes(Direction.COMMAND), 0, transcript.bytes(Direction.COMMAND).length));
        Framing dialog = frame(transcript, Direction.COMMAND, Feed.WHOLE);

        assertThat(recorded.counts()).isEqualTo(new Counts(7, 1, Map.of("{n}", 1)));
        assertThat(recorded.commandTags()).containsExactly("a001", "a002", "a005");
        assertThat(dialog.commandTags()).containsExactly("a001", "a002", "a003", "a004", "a005");
        assertThat(dialog.refusedLiterals()).isEqualTo(1);
    }

    @Test
    void compressMbsyncInflatesToTheReadmeCounts() {
        Transcript transcript = transcript("compress-mbsync-001");
        for (Direction direction : Direction.values()) {
            byte[] bytes = transcript.bytes(direction);
            int start = compressionStart(transcript, direction);
            byte[] inflated = inflate(Arrays.copyOfRange(bytes, start, bytes.length));
            Framing before = decode(direction, Feed.WHOLE, true, null, sink -> sink.write(bytes, 0, start));
            Framing after = decode(direction, Feed.WHOLE, true, null, sink -> sink.write(inflated, 0, inflated.length));

            if (direction == Direction.COMMAND) {
                assertThat(inflated).hasSize(150);
                assertThat(before.counts()).isEqualTo(new Counts(2, 0, Map.of()));
                assertThat(after.counts()).isEqualTo(new Counts(7, 0, Map.of()));
            } else {
                assertThat(inflated).hasSize(1632);
                assertThat(before.counts()).isEqualTo(new Counts(3, 0, Map.of()));
                assertThat(after.counts()).isEqualTo(new Counts(27, 2, Map.of("{n}", 2)));
            }
        }
    }

    // ---------------------------------------------------------------- decoding a transcript

    /** Frames one direction of a capture; the command side asks the transcript about each synchronizing literal. */
    private static Framing frame(Transcript transcript, Direction direction, Feed feed) {
        byte[] bytes = transcript.bytes(direction);
        boolean compressed = transcript.name().startsWith("compress-");
        LiteralDecisions.Oracle oracle = (tag, lineEnd) -> {
            if (compressed) {
                throw new AssertionError("no synchronizing literal expected in " + transcript.name());
            }
            return transcript.literalRefused(tag, Math.toIntExact(lineEnd), responseLines(transcript));
        };
        return decode(direction, feed, true, oracle, sink -> {
            ByteSink to = compressed ? new InflatingSink(sink, compressionStart(transcript, direction)) : sink;
            if (feed == Feed.RELAY_READS) {
                for (Read read : transcript.reads(direction)) {
                    to.write(bytes, read.offset(), read.length());
                }
            } else {
                to.write(bytes, 0, bytes.length);
            }
            to.close();
        });
    }

    /**
     * Decodes what {@code source} writes: a command decoder that waits after each synchronizing
     * literal (with a handler that asks {@code oracle}), or one that frames a recorded stream.
     */
    private static Framing decode(Direction direction, Feed feed, boolean awaitLiterals, LiteralDecisions.Oracle oracle,
            Consumer<ByteSink> source) {
        ImapDecoderConfig config = direction == Direction.COMMAND ? COMMANDS : ImapDecoderConfig.responses();
        ImapFrameDecoder decoder = new ImapFrameDecoder(direction, config, awaitLiterals);
        EmbeddedChannel channel = new EmbeddedChannel();
        if (feed == Feed.BYTE_BY_BYTE) {
            channel.config().setAllocator(UNTRACKED);
        }
        channel.pipeline().addLast(decoder);
        LiteralDecisions decisions = null;
        if (direction == Direction.COMMAND && awaitLiterals) {
            decisions = new LiteralDecisions(decoder, oracle);
            channel.pipeline().addLast(decisions);
        }
        FrameReader reader = new FrameReader(direction);
        ByteArrayOutputStream input = new ByteArrayOutputStream();
        source.accept(new ByteSink() {
            @Override
            public void write(byte[] bytes, int offset, int length) {
                input.write(bytes, offset, length);
                if (feed == Feed.BYTE_BY_BYTE) {
                    for (int i = 0; i < length; i++) {
                        channel.writeInbound(Unpooled.wrappedBuffer(bytes, offset + i, 1));
                        reader.drain(channel);
                    }
                } else if (length > 0) {
                    channel.writeInbound(channel.alloc().buffer(length).writeBytes(bytes, offset, length));
                    reader.drain(channel);
                    reader.endOfWrite();
                }
            }
        });
        channel.finish();
        reader.drain(channel);
        assertFalse(channel.finish());
        return reader.result(input.toByteArray(), decisions == null ? 0 : decisions.refused);
    }

    /** The first lines of a capture's responses (framed once): what {@link Transcript#literalRefused} looks at. */
    private static List<ResponseLine> responseLines(Transcript transcript) {
        return RESPONSE_LINES.computeIfAbsent(transcript.name(),
                name -> frame(transcript, Direction.RESPONSE, Feed.WHOLE).responseLines());
    }

    /** Where the DEFLATE stream starts: after {@code 2 COMPRESS DEFLATE\r\n}, or after the OK that answers it. */
    private static int compressionStart(Transcript transcript, Direction direction) {
        String text = new String(transcript.bytes(direction), ISO_8859_1);
        String marker = direction == Direction.COMMAND ? "2 COMPRESS DEFLATE\r\n" : "2 OK Begin compression";
        int at = text.indexOf(marker);
        assertThat(at).as("%s in %s", marker, transcript.name()).isNotNegative();
        return text.indexOf('\n', at) + 1;
    }

    private static byte[] inflate(byte[] deflated) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        InflatingSink sink = new InflatingSink((bytes, offset, length) -> out.write(bytes, offset, length), 0);
        sink.write(deflated, 0, deflated.length);
        sink.close();
        return out.toByteArray();
    }

    private static void assertSameBytes(byte[] actual, byte[] expected, String what) {
        int mismatch = Arrays.mismatch(actual, expected);
        assertThat(mismatch).as("%s: first byte that differs (%d bytes out, %d in)", what, actual.length, expected.length)
                .isEqualTo(-1);
    }

    static Stream<String> captures() {
        return EXPECTED.keySet().stream().sorted();
    }

    private static Transcript transcript(String name) {
        return TRANSCRIPTS.computeIfAbsent(name, Transcript::load);
    }

    // ---------------------------------------------------------------- plumbing

    /** Where bytes go: the decoder's channel, or an inflater in front of it. */
    @FunctionalInterface
    interface ByteSink {
        void write(byte[] bytes, int offset, int length);

        default void close() {}
    }

    /**
     * Passes the first {@code start} bytes on as they are and inflates the rest (raw DEFLATE, RFC
     * 1951) with one inflater for the whole stream, as a COMPRESS=DEFLATE peer does.
     */
    private static final class InflatingSink implements ByteSink {

        private final ByteSink next;
        private final long start;
        private final Inflater inflater = new Inflater(true);
        private final byte[] buffer = new byte[8192];
        private long position;

        InflatingSink(ByteSink next, long start) {
            this.next = next;
            this.start = start;
        }

        @Override
        public void write(byte[] bytes, int offset, int length) {
            int plain = (int) Math.max(0, Math.min(length, start - position));
            if (plain > 0) {
                next.write(bytes, offset, plain);
            }
            position += length;
            if (plain == length) {
                return;
            }
            if (inflater.finished()) {
                throw new AssertionError("data after the end of the DEFLATE stream at byte " + position);
            }
            inflater.setInput(bytes, offset + plain, length - plain);
            try {
                for (;;) {
                    int n = inflater.inflate(buffer);
                    if (n > 0) {
                        // A copy: the decoder may keep a slice of what it is given.
                        next.write(Arrays.copyOf(buffer, n), 0, n);
                    } else if (inflater.needsInput() || inflater.finished()) {
                        return;
                    } else if (inflater.needsDictionary()) {
                        throw new AssertionError("a DEFLATE stream that needs a dictionary");
                    }
                }
            } catch (DataFormatException e) {
                throw new AssertionError("not raw DEFLATE at byte " + position, e);
            }
        }

        @Override
        public void close() {
            inflater.end();
        }
    }

    /**
     * After a line with a synchronizing literal, tells the decoder what the backend did: a
     * {@code +} ({@link ImapFrameDecoder#literalAccepted()}) or a tagged reply
     * ({@link ImapFrameDecoder#literalRefused()}), as the transcript shows.
     */
    private static final class LiteralDecisions extends ChannelInboundHandlerAdapter {

        @FunctionalInterface
        interface Oracle {
            /** Whether the literal announced by a line of command {@code tag} ending at {@code lineEnd} was refused. */
            boolean refused(String tag, long lineEnd);
        }

        private final ImapFrameDecoder decoder;
        private final Oracle oracle;
        private long offset;
        private String tag;
        int refused;

        LiteralDecisions(ImapFrameDecoder decoder, Oracle oracle) {
            this.decoder = decoder;
            this.oracle = oracle;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBufHolder holder) {
                offset += holder.content().readableBytes();
            }
            LiteralAnnouncement literal = null;
            if (msg instanceof ImapLine line) {
                if (line.first()) {
                    tag = FrameReader.commandTag(line.content());
                }
                literal = line.literal();
            }
            ctx.fireChannelRead(msg);
            if (literal != null && literal.synchronizing()) {
                assertThat(decoder.awaitingLiteralDecision()).isTrue();
                assertThat(decoder.pendingLiteral()).isEqualTo(literal);
                if (oracle.refused(tag, offset)) {
                    refused++;
                    decoder.literalRefused();
                } else {
                    decoder.literalAccepted();
                }
            }
        }
    }

    /** What came out of a decoder, counted. */
    private record Framing(
            byte[] input,
            byte[] output,
            Counts counts,
            List<String> commandTags,
            int continuationData,
            List<ResponseLine> responseLines,
            List<ImapDecoderError> errors,
            int refusedLiterals,
            int writesEndingInsideALiteral) {}

    /** Reads a decoder's frames off the channel, counts them, and releases them. */
    private static final class FrameReader {

        private final Direction direction;
        private final ByteArrayOutputStream output = new ByteArrayOutputStream();
        private final Map<String, Integer> kinds = new TreeMap<>();
        private final List<String> commandTags = new ArrayList<>();
        private final List<ResponseLine> responseLines = new ArrayList<>();
        private final List<ImapDecoderError> errors = new ArrayList<>();
        private int lines;
        private int literals;
        private int continuationData;
        private LiteralAnnouncement announced;
        private boolean insideLiteral;
        private int writesEndingInsideALiteral;

        FrameReader(Direction direction) {
            this.direction = direction;
        }

        void drain(EmbeddedChannel channel) {
            DecoderHarness.readAll(channel, this::read);
        }

        private void read(Object msg) {
            if (msg instanceof ImapLine line) {
                long offset = output.size();
                ByteBuf content = copy(line.content());
                lines++;
                announced = line.literal();
                if (line.first()) {
                    if (direction == Direction.COMMAND) {
                        command(content);
                    } else {
                        responseLines.add(response(content, offset));
                    }
                }
            } else if (msg instanceof LiteralChunk chunk) {
                copy(chunk.content());
                insideLiteral = !chunk.last();
                if (chunk.last()) {
                    literals++;
                    kinds.merge(kind(announced), 1, Integer::sum);
                }
            } else if (msg instanceof ImapDecoderError error) {
                errors.add(error);
            } else {
                fail("not an ImapFrame: " + msg);
            }
        }

        /** Counts a write of several bytes after which the decoder had passed on part of a literal. */
        void endOfWrite() {
            if (insideLiteral) {
                writesEndingInsideALiteral++;
            }
        }

        private void command(ByteBuf line) {
            String tag = commandTag(line);
            if (tag != null) {
                commandTags.add(tag);
            } else if (line.indexOf(line.readerIndex(), line.writerIndex(), (byte) ' ') < 0) {
                continuationData++; // DONE, a SASL response, the '*' that cancels AUTHENTICATE
            } else {
                fail("neither a command nor continuation data: " + line.toString(ISO_8859_1));
            }
        }

        /** The tag of a command line, or null for continuation data (which has no space). */
        static String commandTag(ByteBuf line) {
            try {
                return CommandHead.parse(line).tag();
            } catch (ImapParseException e) {
                return null;
            }
        }

        private static ResponseLine response(ByteBuf line, long offset) {
            try {
                ResponseHead head = ResponseHead.parse(line);
                return new ResponseLine(offset, head.isContinuation(), head.tag());
            } catch (ImapParseException e) {
                throw new AssertionError("not a response: " + line.toString(ISO_8859_1), e);
            }
        }

        private ByteBuf copy(ByteBuf content) {
            output.writeBytes(ByteBufUtil.getBytes(content));
            return content;
        }

        Framing result(byte[] input, int refusedLiterals) {
            return new Framing(input, output.toByteArray(), new Counts(lines, literals, Map.copyOf(kinds)),
                    List.copyOf(commandTags), continuationData, List.copyOf(responseLines), List.copyOf(errors),
                    refusedLiterals, writesEndingInsideALiteral);
        }
    }

    private static String kind(LiteralAnnouncement literal) {
        return (literal.binary() ? "~" : "") + (literal.nonSynchronizing() ? "{n+}" : "{n}");
    }

    // ---------------------------------------------------------------- the table

    /** Lines (ImapLine frames), completed literals, and completed literals by marker. */
    record Counts(int lines, int literals, Map<String, Integer> kinds) {}

    record Expected(String name, int commandBytes, int responseBytes, Counts commands, Counts responses,
            int commandCount, int taggedReplies) {}

    private static Map<String, Expected> parseTable(String table) {
        Map<String, Expected> rows = new TreeMap<>();
        for (String line : table.lines().map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList()) {
            Matcher m = ROW.matcher(line);
            if (!m.matches()) {
                throw new IllegalArgumentException("not a table row: " + line);
            }
            Function<Integer, Integer> number = group -> Integer.parseInt(m.group(group));
            rows.put(m.group(1), new Expected(m.group(1), number.apply(2), number.apply(3),
                    new Counts(number.apply(4), number.apply(5), kinds(m.group(6))),
                    new Counts(number.apply(7), number.apply(8), kinds(m.group(9))),
                    number.apply(10), number.apply(11)));
        }
        return rows;
    }

    /** {@code {n+}x2,~{n}x1} as a map; {@code null} (no literals) as an empty one. */
    private static Map<String, Integer> kinds(String column) {
        if (column == null) {
            return Map.of();
        }
        return Arrays.stream(column.strip().split(","))
                .map(kind -> kind.split("x"))
                .collect(Collectors.toUnmodifiableMap(kind -> kind[0], kind -> Integer.parseInt(kind[1])));
    }
}
