package io.postern.imap.fuzz;

import static java.nio.charset.StandardCharsets.ISO_8859_1;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import io.postern.imap.codec.Direction;
import io.postern.imap.codec.ImapDecoderConfig;
import io.postern.imap.codec.ImapDecoderError;
import io.postern.imap.codec.ImapFrameDecoder;
import io.postern.imap.codec.ImapLine;
import io.postern.imap.codec.LiteralAnnouncement;
import io.postern.imap.codec.LiteralChunk;
import io.postern.imap.parse.ImapChars;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Coverage-guided fuzzing of {@link ImapFrameDecoder} in both directions (Jazzer; a plain
 * {@code mvn verify} replays the committed inputs, {@code JAZZER_FUZZ=1} fuzzes: see
 * {@code .ci/fuzz.sh}).
 *
 * <p>An input is a {@value #HEADER}-byte header, then the stream. The stream is decoded twice, in
 * one read and in reads of the header's sizes, and each run is checked against the framing rule
 * written out independently in {@link StreamModel}:
 * <ul>
 *   <li>nothing is thrown: what the decoder refuses comes out as an {@link ImapDecoderError};
 *   <li>every buffer is released: checked after each input by {@link RecordingAllocator}, and
 *       in the replay by Netty's PARANOID leak detector too;
 *   <li>the lines and literal chunks, written out in order, are the input up to where decoding
 *       stopped, less the lines refused with a recoverable {@code LITERAL_TOO_LARGE};
 *   <li>each frame is what the rule makes of those bytes: the literal marker, the first flag,
 *       chunk sizes, the limits, the refusal's kind, tag and flags;
 *   <li>both runs give the same frames, literal chunks joined (read boundaries cut chunks).
 * </ul>
 *
 * <table>
 *   <caption>Header (missing bytes count as 0)</caption>
 *   <tr><th>byte</th><th>meaning</th></tr>
 *   <tr><td>0</td><td>{@code maxLineLength} = 64 + 4 &times; b (64 .. 1084)</td></tr>
 *   <tr><td>1</td><td>{@code maxLiteralSizeBeforeAuth} = 4 &times; b (0 .. 1020)</td></tr>
 *   <tr><td>2</td><td>{@code maxLiteralSizeAfterAuth} = 64 &times; b (0 .. 16320)</td></tr>
 *   <tr><td>3</td><td>{@code maxLiteralsPerCommand} = 1 + (b &amp; 15)</td></tr>
 *   <tr><td>4</td><td>{@code maxChunkSize} = 1 + (b &amp; 127)</td></tr>
 *   <tr><td>5</td><td>bit 0: authenticated; bit 1: a recorded stream (no literal decisions)</td></tr>
 *   <tr><td>6, 7</td><td>16 bits, one per synchronizing literal in turn: 1 refuses it, 0 accepts it</td></tr>
 *   <tr><td>8 .. 15</td><td>read sizes of the second run, in turn: 1 + b</td></tr>
 * </table>
 *
 * The committed inputs are slices of the transcripts in {@code src/test/resources/transcripts}
 * behind a header, and the inputs of past findings; their names say what each one exercises.
 * {@code maxDuration} bounds a manual {@code JAZZER_FUZZ=1} run; {@code .ci/fuzz.sh} sets its own.
 */
class ImapFrameDecoderFuzzTest {

    static final int HEADER = 16;

    @FuzzTest(maxDuration = "5m")
    void commands(byte[] input) {
        check(Params.of(Direction.COMMAND, input));
    }

    @FuzzTest(maxDuration = "5m")
    void responses(byte[] input) {
        check(Params.of(Direction.RESPONSE, input));
    }

    static void check(Params p) {
        List<Frame> whole = decode(p, new int[] {Integer.MAX_VALUE});
        new StreamModel(p, null).verify(whole);
        List<Frame> split = decode(p, p.readSizes());
        new StreamModel(p, p.readSizes()).verify(split);
        List<Frame> expected = joinLiterals(whole);
        List<Frame> actual = joinLiterals(split);
        if (!expected.equals(actual)) {
            int i = 0;
            while (i < Math.min(expected.size(), actual.size()) && expected.get(i).equals(actual.get(i))) {
                i++;
            }
            throw new AssertionError("split reads give other frames than one read, from frame " + i + ":\n  one read: "
                    + expected.subList(i, Math.min(expected.size(), i + 3)) + "\n  split:    "
                    + actual.subList(i, Math.min(actual.size(), i + 3)));
        }
    }

    /** Decodes the stream in reads of {@code readSizes} (in turn), and returns what came out. */
    static List<Frame> decode(Params p, int[] readSizes) {
        RecordingAllocator alloc = new RecordingAllocator();
        ImapFrameDecoder decoder = new ImapFrameDecoder(p.direction(), p.config(), p.awaitDecisions());
        decoder.setAuthenticated(p.authenticated());
        Recorder recorder = new Recorder(decoder, p);
        EmbeddedChannel channel = new EmbeddedChannel();
        channel.config().setAllocator(alloc);
        channel.pipeline().addLast(decoder, recorder);
        byte[] s = p.stream();
        for (int pos = 0, i = 0; pos < s.length; i++) {
            int n = Math.min(readSizes[i % readSizes.length], s.length - pos);
            channel.writeInbound(alloc.buffer(n).writeBytes(s, pos, n));
            channel.runPendingTasks();
            pos += n;
        }
        if (channel.finish()) {
            throw new AssertionError("a message went past the recorder");
        }
        alloc.assertAllReleased();
        return recorder.frames;
    }

    static List<Frame> joinLiterals(List<Frame> frames) {
        List<Frame> joined = new ArrayList<>();
        StringBuilder literal = null;
        for (Frame f : frames) {
            if (f instanceof Chunk c) {
                literal = literal == null ? new StringBuilder(c.bytes()) : literal.append(c.bytes());
                if (c.last()) {
                    joined.add(new Literal(literal.toString(), true));
                    literal = null;
                }
                continue;
            }
            if (literal != null) {
                joined.add(new Literal(literal.toString(), false));
                literal = null;
            }
            joined.add(f);
        }
        if (literal != null) {
            joined.add(new Literal(literal.toString(), false));
        }
        return joined;
    }

    /** The header, decoded. */
    record Params(
            Direction direction,
            ImapDecoderConfig config,
            boolean authenticated,
            boolean awaitDecisions,
            int decisionBits,
            int[] readSizes,
            byte[] stream) {

        static Params of(Direction direction, byte[] input) {
            byte[] h = Arrays.copyOf(input, HEADER);
            ImapDecoderConfig config = ImapDecoderConfig.builder()
                    .maxLineLength(ImapDecoderConfig.MIN_LINE_LENGTH + 4 * u(h[0]))
                    .maxLiteralSizeBeforeAuth(4L * u(h[1]))
                    .maxLiteralSizeAfterAuth(64L * u(h[2]))
                    .maxLiteralsPerCommand(1 + (u(h[3]) & 15))
                    .maxChunkSize(1 + (u(h[4]) & 127))
                    .build();
            int[] readSizes = new int[8];
            for (int i = 0; i < readSizes.length; i++) {
                readSizes[i] = 1 + u(h[8 + i]);
            }
            byte[] stream = input.length > HEADER ? Arrays.copyOfRange(input, HEADER, input.length) : new byte[0];
            return new Params(direction, config, (h[5] & 1) != 0, (h[5] & 2) == 0,
                    u(h[6]) | u(h[7]) << 8, readSizes, stream);
        }

        /** Whether synchronizing literals wait for the session here. */
        boolean decides() {
            return direction == Direction.COMMAND && awaitDecisions;
        }

        long literalLimit() {
            return config.maxLiteralSize(authenticated);
        }

        private static int u(byte b) {
            return b & 0xff;
        }
    }

    sealed interface Frame permits Line, Chunk, Literal, Refusal {}

    /** What the session decided on a line's synchronizing literal. */
    enum Decision {
        NONE,
        ACCEPTED,
        REFUSED,
        /** The line announced a synchronizing literal, but the decoder did not wait for a decision. */
        NOT_AWAITED
    }

    /** An {@link ImapLine}; bytes as ISO-8859-1, one char per byte. */
    record Line(String bytes, boolean first, LiteralAnnouncement literal, Decision decision) implements Frame {
        @Override
        public String toString() {
            return "Line(" + printable(bytes) + ", first=" + first + ", " + literal + ", " + decision + ")";
        }
    }

    record Chunk(String bytes, boolean last) implements Frame {
        @Override
        public String toString() {
            return "Chunk(" + printable(bytes) + ", last=" + last + ")";
        }
    }

    /** The chunks of one literal, joined; {@code complete} when its last chunk came. */
    record Literal(String bytes, boolean complete) implements Frame {
        @Override
        public String toString() {
            return "Literal(" + printable(bytes) + ", complete=" + complete + ")";
        }
    }

    record Refusal(ImapDecoderError error) implements Frame {}

    /** Records every frame (and releases it); decides each synchronizing literal from the header's bits. */
    static final class Recorder extends ChannelInboundHandlerAdapter {
        final List<Frame> frames = new ArrayList<>();
        private final ImapFrameDecoder decoder;
        private final Params p;
        private int decisions;

        Recorder(ImapFrameDecoder decoder, Params p) {
            this.decoder = decoder;
            this.p = p;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof ImapLine line) {
                    frames.add(new Line(latin1(line.content()), line.first(), line.literal(), decide(line.literal())));
                } else if (msg instanceof LiteralChunk chunk) {
                    frames.add(new Chunk(latin1(chunk.content()), chunk.last()));
                } else if (msg instanceof ImapDecoderError error) {
                    frames.add(new Refusal(error));
                } else {
                    throw new AssertionError("not an ImapFrame: " + msg);
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private Decision decide(LiteralAnnouncement literal) {
            if (!p.decides() || literal == null || !literal.synchronizing()) {
                return Decision.NONE;
            }
            if (!decoder.awaitingLiteralDecision() || !literal.equals(decoder.pendingLiteral())) {
                return Decision.NOT_AWAITED;
            }
            boolean refuse = (p.decisionBits() >>> (decisions++ % 16) & 1) != 0;
            if (refuse) {
                decoder.literalRefused();
                return Decision.REFUSED;
            }
            decoder.literalAccepted();
            return Decision.ACCEPTED;
        }

        private static String latin1(ByteBuf content) {
            return content.toString(ISO_8859_1);
        }
    }

    /**
     * The framing rule of RFC 9051 (and of the decoder's Javadoc), applied to the whole input with a
     * cursor: each frame must be the next thing the rule allows at that point.
     */
    static final class StreamModel {

        private static final Pattern LITERAL_MARKER = Pattern.compile("(~?)\\{([0-9]+)(\\+?)\\}\\r?\\n\\z");
        private static final Pattern STATUS = Pattern.compile("(?i)(OK|NO|BAD|BYE|PREAUTH)([ \\x0d\\x0a]|\\z)");

        private final Params p;
        /** The read sizes of the run, or null for one read. */
        private final int[] reads;
        private final byte[] s;
        private final int maxLine;
        private int cursor;
        /** The next line starts a command or response. */
        private boolean atStart = true;
        private int literalsInCommand;
        /** Bytes still to come of the current literal; -1 outside a literal. */
        private long literalLeft = -1;
        private boolean ended;

        StreamModel(Params p, int[] reads) {
            this.p = p;
            this.reads = reads;
            this.s = p.stream();
            this.maxLine = p.config().maxLineLength();
        }

        void verify(List<Frame> frames) {
            for (int i = 0; i < frames.size(); i++) {
                Frame f = frames.get(i);
                expect(!ended, f, "a frame after the error that ended the stream");
                expect(literalLeft != 0 || f instanceof Chunk, f, "a zero-length literal without its empty last chunk");
                if (f instanceof Line l) {
                    line(l);
                } else if (f instanceof Chunk c) {
                    chunk(c);
                } else if (f instanceof Refusal r) {
                    refusal(r.error());
                } else {
                    throw new AssertionError(f);
                }
            }
            if (!ended) {
                expect(cursor == s.length, null, "the input ended cleanly with bytes unframed", s.length - cursor);
                expect(literalLeft < 0, null, "the input ended inside a literal without TRUNCATED");
                expect(atStart, null, "the input ended inside a command without TRUNCATED");
            }
        }

        private void line(Line l) {
            expect(literalLeft < 0, l, "a line where literal data was due");
            int lf = indexOfLf(cursor, s.length);
            expect(lf >= 0 && lf - cursor + 1 == l.bytes().length(), l, "a line that does not run to the next LF");
            expect(l.bytes().equals(new String(s, cursor, l.bytes().length(), ISO_8859_1)), l, "a line that is not the input");
            expect(l.bytes().length() <= maxLine, l, "a line longer than maxLineLength");
            expect(l.first() == atStart, l, "first flag");
            LiteralAnnouncement literal = announced(lf);
            expect(Objects.equals(literal, l.literal()), l, "literal marker", literal);
            cursor = lf + 1;
            if (literal == null) {
                expect(l.decision() == Decision.NONE, l, "a decision without a synchronizing literal");
                endCommand();
                return;
            }
            expect(++literalsInCommand <= p.config().maxLiteralsPerCommand(), l, "more literals than the limit");
            expect(withinLimit(literal), l, "a literal over the size limit");
            atStart = false;
            if (p.decides() && literal.synchronizing()) {
                expect(l.decision() == Decision.ACCEPTED || l.decision() == Decision.REFUSED, l,
                        "a synchronizing literal for which the decoder did not wait");
                if (l.decision() == Decision.REFUSED) {
                    endCommand();
                    return;
                }
            } else {
                expect(l.decision() == Decision.NONE, l, "a decision where none is due");
            }
            literalLeft = literal.size();
        }

        private void chunk(Chunk c) {
            expect(literalLeft >= 0, c, "literal data outside a literal");
            int n = c.bytes().length();
            if (literalLeft == 0) {
                expect(n == 0 && c.last(), c, "a zero-length literal is one empty last chunk");
                literalLeft = -1;
                return;
            }
            expect(n >= 1 && n <= p.config().maxChunkSize() && n <= literalLeft, c, "chunk size");
            expect(c.bytes().equals(new String(s, cursor, n, ISO_8859_1)), c, "a chunk that is not the input");
            cursor += n;
            literalLeft -= n;
            expect(c.last() == (literalLeft == 0), c, "last flag");
            if (c.last()) {
                literalLeft = -1;
            }
        }

        private void refusal(ImapDecoderError e) {
            switch (e.kind()) {
                case TRUNCATED -> {
                    expectFinal(e, null, null);
                    if (literalLeft > 0) {
                        expect(cursor == s.length, e, "TRUNCATED inside a literal whose data is there");
                    } else {
                        expect(cursor < s.length || !atStart, e, "TRUNCATED at the end of a command");
                        expect(indexOfLf(cursor, s.length) < 0, e, "TRUNCATED with a whole line left");
                        expect(s.length - cursor < maxLine, e, "TRUNCATED where the line is too long");
                    }
                }
                case LINE_TOO_LONG -> {
                    expect(literalLeft < 0, e, "LINE_TOO_LONG inside a literal");
                    expect(s.length - cursor >= maxLine && indexOfLf(cursor, cursor + maxLine) < 0, e,
                            "LINE_TOO_LONG for a line within maxLineLength");
                    expectFinal(e, failTag(), null);
                }
                case TOO_MANY_LITERALS -> {
                    refusedLine(e);
                    expect(literalsInCommand + 1 > p.config().maxLiteralsPerCommand(), e,
                            "TOO_MANY_LITERALS within the limit");
                    expectFinal(e, failTag(), null);
                }
                case LITERAL_TOO_LARGE -> {
                    LiteralAnnouncement literal = refusedLine(e);
                    expect(literalsInCommand + 1 <= p.config().maxLiteralsPerCommand(), e,
                            "LITERAL_TOO_LARGE where TOO_MANY_LITERALS applies");
                    expect(!withinLimit(literal), e, "LITERAL_TOO_LARGE for a literal within the limit");
                    boolean recoverable = p.direction() == Direction.COMMAND && literal.synchronizing() && atStart;
                    if (!recoverable) {
                        expectFinal(e, failTag(), literal);
                        return;
                    }
                    int lf = indexOfLf(cursor, s.length);
                    expect(e.recoverable() && e.firstLine(), e, "recoverable and firstLine");
                    expect(Objects.equals(e.tag(), tag(cursor, lf)), e, "tag", tag(cursor, lf));
                    expect(literal.equals(e.literal()), e, "literal", literal);
                    cursor = lf + 1;
                    endCommand();
                }
                default -> throw new AssertionError(e);
            }
        }

        /** The literal of the whole line at the cursor, which a refusal names. */
        private LiteralAnnouncement refusedLine(ImapDecoderError e) {
            expect(literalLeft < 0, e, "refused a literal inside a literal");
            int lf = indexOfLf(cursor, s.length);
            expect(lf >= 0 && lf - cursor + 1 <= maxLine, e, "refused a literal of a line that is not there");
            LiteralAnnouncement literal = announced(lf);
            expect(literal != null, e, "refused a literal that the line does not announce");
            return literal;
        }

        private void expectFinal(ImapDecoderError e, String tag, LiteralAnnouncement literal) {
            expect(!e.recoverable(), e, "recoverable");
            expect(e.firstLine() == atStart, e, "firstLine");
            expect(Objects.equals(e.tag(), tag), e, "tag", tag);
            expect(Objects.equals(e.literal(), literal), e, "literal", literal);
            ended = true;
        }

        private boolean withinLimit(LiteralAnnouncement literal) {
            return literal.size() <= p.literalLimit() && literal.size() != Long.MAX_VALUE;
        }

        private void endCommand() {
            atStart = true;
            literalsInCommand = 0;
        }

        /** The literal that the line from the cursor to {@code lf} announces, where one may follow. */
        private LiteralAnnouncement announced(int lf) {
            String line = new String(s, cursor, lf - cursor + 1, ISO_8859_1);
            if (p.direction() == Direction.RESPONSE && atStart
                    && (!line.startsWith("* ") || STATUS.matcher(line).region(2, line.length()).lookingAt())) {
                return null; // tagged, continuation, or untagged status: text only
            }
            Matcher m = LITERAL_MARKER.matcher(line);
            if (!m.find()) {
                return null;
            }
            BigInteger size = new BigInteger(m.group(2)).min(BigInteger.valueOf(Long.MAX_VALUE));
            return new LiteralAnnouncement(size.longValueExact(), !m.group(3).isEmpty(), !m.group(1).isEmpty());
        }

        /** The tag a refusal that ends the stream reports: looked for within the line limit (and 65 bytes). */
        private String failTag() {
            int window = Math.min(maxLine, ImapChars.MAX_TAG_LENGTH + 1);
            return atStart ? tag(cursor, Math.min(s.length, cursor + window)) : null;
        }

        /** 1 to 64 tag characters from {@code from}, then a space before {@code end}; otherwise null. */
        private String tag(int from, int end) {
            for (int i = from; i < end; i++) {
                if (s[i] == ' ') {
                    return i > from && i - from <= ImapChars.MAX_TAG_LENGTH ? new String(s, from, i - from, ISO_8859_1) : null;
                }
                if (!ImapChars.isTagChar(s[i])) {
                    return null;
                }
            }
            return null;
        }

        private int indexOfLf(int from, int to) {
            for (int i = from; i < Math.min(to, s.length); i++) {
                if (s[i] == '\n') {
                    return i;
                }
            }
            return -1;
        }

        private void expect(boolean ok, Object frame, String what) {
            if (!ok) {
                String run = reads == null ? "one read" : "reads of " + Arrays.toString(reads);
                throw new AssertionError(what + " (" + p.direction() + ", " + run + ", input offset " + cursor + " of "
                        + s.length + ", " + p.config() + ", authenticated=" + p.authenticated() + "): " + frame);
            }
        }

        private void expect(boolean ok, Object frame, String what, Object expected) {
            if (!ok) {
                expect(false, frame, what + " (expected: " + expected + ")");
            }
        }
    }

    /** The bytes with CR, LF and other control or 8-bit bytes escaped; long strings shortened. */
    static String printable(String bytes) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < Math.min(bytes.length(), 200); i++) {
            char c = bytes.charAt(i);
            switch (c) {
                case '\r' -> b.append("\\r");
                case '\n' -> b.append("\\n");
                case '"', '\\' -> b.append('\\').append(c);
                default -> {
                    if (c < 0x20 || c >= 0x7f) {
                        b.append(String.format("\\x%02x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append(bytes.length() > 200 ? "\"... (" + bytes.length() + " bytes)" : "\"").toString();
    }
}
