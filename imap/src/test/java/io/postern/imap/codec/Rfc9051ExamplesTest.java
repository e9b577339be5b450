package io.postern.imap.codec;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.netty.buffer.Unpooled;
import io.postern.imap.codec.DecoderHarness.Feed;
import io.postern.imap.codec.DecoderHarness.Line;
import io.postern.imap.codec.DecoderHarness.Literal;
import io.postern.imap.parse.ArgumentReader;
import io.postern.imap.parse.CommandHead;
import io.postern.imap.parse.ImapParseException;
import io.postern.imap.parse.ResponseHead;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Example exchanges of RFC 9051 as golden {@code C:}/{@code S:} transcripts
 * ({@code src/test/resources/rfc9051}, see its README), replayed line by line through a command
 * and a response decoder: the frames must give back the bytes, with the lines, literals and
 * tags each example has.
 */
class Rfc9051ExamplesTest {

    /** What one example must frame to. */
    record Example(String file, int commandLines, int commandLiterals, int commands, int continuationData,
            int responseLines, int responseLiterals, int taggedReplies) {

        @Override
        public String toString() {
            return file;
        }
    }

    private static final List<Example> EXAMPLES = List.of(
            new Example("7.5-command-continuation.txt", 4, 2, 2, 0, 4, 0, 2),
            new Example("6.3.12-append.txt", 2, 1, 1, 0, 2, 0, 1),
            new Example("6.2.2-authenticate.txt", 6, 0, 2, 4, 7, 0, 2),
            new Example("6.3.13-idle.txt", 6, 0, 4, 2, 18, 0, 4),
            new Example("6.4.5-fetch.txt", 1, 0, 1, 0, 10, 6, 1),
            new Example("8-sample-connection.txt", 10, 0, 8, 2, 22, 1, 8));

    /** LOGIN's literal of 7.5 is larger than the default limit before authentication. */
    private static final ImapDecoderConfig COMMANDS = ImapDecoderConfig.commands().toBuilder()
            .maxLiteralSizeBeforeAuth(ImapDecoderConfig.DEFAULT_MAX_LITERAL_SIZE_AFTER_AUTH)
            .build();

    static Stream<Arguments> examples() {
        return EXAMPLES.stream().flatMap(example -> Arrays.stream(Feed.values()).map(feed -> Arguments.of(example, feed)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("examples")
    void framesTheExampleAndGivesBackItsBytes(Example example, Feed feed) {
        Replay replay = replay(example.file(), feed);

        assertThat(replay.commands.output()).isEqualTo(replay.sent(true));
        assertThat(replay.responses.output()).isEqualTo(replay.sent(false));
        assertThat(count(replay.commandFrames, Line.class)).isEqualTo(example.commandLines());
        assertThat(count(replay.commandFrames, Literal.class)).isEqualTo(example.commandLiterals());
        assertThat(count(replay.responseFrames, Line.class)).isEqualTo(example.responseLines());
        assertThat(count(replay.responseFrames, Literal.class)).isEqualTo(example.responseLiterals());
        assertThat(replay.commandFrames).noneMatch(ImapDecoderError.class::isInstance);
        assertThat(replay.responseFrames).noneMatch(ImapDecoderError.class::isInstance);

        List<String> commandTags = new ArrayList<>();
        int continuationData = 0;
        for (Line line : firstLines(replay.commandFrames)) {
            String tag = commandTag(line);
            if (tag != null) {
                commandTags.add(tag);
            } else {
                assertThat(line.text().trim()).as("continuation data has no space").doesNotContain(" ");
                continuationData++;
            }
        }
        List<String> replyTags = new ArrayList<>();
        for (Line line : firstLines(replay.responseFrames)) {
            ResponseHead head = responseHead(line);
            if (head.isTagged()) {
                replyTags.add(head.tag());
            }
        }
        assertThat(commandTags).hasSize(example.commands()).doesNotHaveDuplicates();
        assertThat(continuationData).isEqualTo(example.continuationData());
        assertThat(replyTags).hasSize(example.taggedReplies()).containsExactlyInAnyOrderElementsOf(commandTags);
    }

    @Test
    void everyTranscriptInTheFolderIsInTheTable() throws IOException, URISyntaxException {
        Path folder = Path.of(Rfc9051ExamplesTest.class.getResource("/rfc9051/README.md").toURI()).getParent();
        try (Stream<Path> files = Files.list(folder)) {
            assertThat(files.map(path -> path.getFileName().toString()).filter(name -> name.endsWith(".txt")))
                    .containsExactlyInAnyOrderElementsOf(EXAMPLES.stream().map(Example::file).toList());
        }
        assertThat(EXAMPLES).allSatisfy(example -> assertThat(resourceText(example.file())).startsWith("# RFC 9051, "));
    }

    @Test
    void loginWithLiteralsReadsBackAsItsArguments() throws ImapParseException {
        Replay replay = replay("7.5-command-continuation.txt", Feed.WHOLE);
        List<byte[]> commands = logicalUnits(replay.commandFrames);

        assertThat(commands).hasSize(2);
        byte[] login = commands.get(0);
        ArgumentReader args = new ArgumentReader(login, CommandHead.parse(Unpooled.wrappedBuffer(login)).argumentsIndex());
        assertThat(args.astring()).isEqualTo("FRED FOOBAR");
        args.sp();
        assertThat(args.astring()).isEqualTo("fat man");
        args.end();
        assertThat(new String(commands.get(1), ISO_8859_1)).isEqualTo("A044 BLURDYBLOOP {102856}\r\n");
        assertThat(replay.refusedLiterals).isEqualTo(1);
    }

    @Test
    void theAppendedMessageIsTheLiteral() {
        Replay replay = replay("6.3.12-append.txt", Feed.WHOLE);

        assertThat(replay.commandFrames).containsExactly(
                new Line("A003 APPEND saved-messages (\\Seen) {326}\r\n", true, new LiteralAnnouncement(326, false, false)),
                new Literal(String.join("\r\n",
                        "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)",
                        "From: Fred Foobar <foobar@Blurdybloop.example>",
                        "Subject: afternoon meeting",
                        "To: mooch@owatagu.siam.edu.example",
                        "Message-Id: <B27397-0100000@Blurdybloop.example>",
                        "MIME-Version: 1.0",
                        "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII",
                        "",
                        "Hello Joe, do you think we can meet at 3:30 tomorrow?",
                        ""), true),
                new Line("\r\n", false, null));
    }

    @Test
    void theFetchedHeaderIsTheLiteralAndTheResponseGoesOnAfterIt() {
        Replay replay = replay("8-sample-connection.txt", Feed.WHOLE);
        int at = replay.responseFrames.indexOf(
                new Line("* 12 FETCH (BODY[HEADER] {342}\r\n", true, new LiteralAnnouncement(342, false, false)));

        assertThat(at).isNotNegative();
        Literal header = (Literal) replay.responseFrames.get(at + 1);
        assertThat(header.data()).hasSize(342).startsWith("Date: Wed, 17 Jul 1996").endsWith("US-ASCII\r\n\r\n");
        assertThat(replay.responseFrames.get(at + 2)).isEqualTo(new Line(")\r\n", false, null));
    }

    // ---------------------------------------------------------------- replaying a transcript

    /** Both decoders after a replay, and every frame they gave, in order. */
    private static final class Replay {
        final DecoderHarness commands = new DecoderHarness(new ImapFrameDecoder(Direction.COMMAND, COMMANDS));
        final DecoderHarness responses = DecoderHarness.responses();
        final List<Object> commandFrames = new ArrayList<>();
        final List<Object> responseFrames = new ArrayList<>();
        final ByteArrayOutputStream clientBytes = new ByteArrayOutputStream();
        final ByteArrayOutputStream serverBytes = new ByteArrayOutputStream();
        int refusedLiterals;

        byte[] sent(boolean byClient) {
            return (byClient ? clientBytes : serverBytes).toByteArray();
        }
    }

    /**
     * Feeds the transcript's lines in dialog order. A client line may only come when the command
     * decoder is not waiting; a server line decides a waiting synchronizing literal: a {@code +}
     * accepts it, a tagged reply refuses it.
     */
    private static Replay replay(String file, Feed feed) {
        Replay replay = new Replay();
        int number = 0;
        for (String line : resourceText(file).split("\n", -1)) {
            number++;
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            boolean byClient = line.startsWith("C:");
            assertThat(byClient || line.startsWith("S:")).as("%s:%d starts with C:, S: or #", file, number).isTrue();
            byte[] bytes = (line.length() > 2 ? line.substring(3) + "\r\n" : "\r\n").getBytes(UTF_8);
            if (byClient) {
                assertThat(replay.commands.decoder.awaitingLiteralDecision())
                        .as("%s:%d: the client sends while its literal waits for the server", file, number)
                        .isFalse();
                replay.clientBytes.writeBytes(bytes);
                replay.commands.feed(bytes, feed);
                replay.commandFrames.addAll(replay.commands.take());
            } else {
                replay.serverBytes.writeBytes(bytes);
                replay.responses.feed(bytes, feed);
                List<Object> frames = replay.responses.take();
                replay.responseFrames.addAll(frames);
                decideWaitingLiteral(replay, frames);
            }
        }
        assertThat(replay.commands.finish()).isEmpty();
        assertThat(replay.responses.finish()).isEmpty();
        assertFalse(replay.commands.channel.finish());
        assertFalse(replay.responses.channel.finish());
        return replay;
    }

    private static void decideWaitingLiteral(Replay replay, List<Object> responseFrames) {
        ImapFrameDecoder decoder = replay.commands.decoder;
        for (Line line : firstLines(responseFrames)) {
            if (!decoder.awaitingLiteralDecision()) {
                return;
            }
            ResponseHead head = responseHead(line);
            if (head.isContinuation()) {
                decoder.literalAccepted();
            } else if (head.isTagged()) {
                replay.refusedLiterals++;
                decoder.literalRefused();
            }
            replay.commandFrames.addAll(replay.commands.runPendingTasks().take());
        }
    }

    // ---------------------------------------------------------------- reading frames

    private static long count(List<Object> frames, Class<?> type) {
        return frames.stream().filter(frame -> type.isInstance(frame)
                && (!(frame instanceof Literal literal) || literal.complete())).count();
    }

    private static List<Line> firstLines(List<Object> frames) {
        return frames.stream().filter(Line.class::isInstance).map(Line.class::cast).filter(Line::first).toList();
    }

    /** The bytes of each command (or continuation data): a first line and all that follows it. */
    private static List<byte[]> logicalUnits(List<Object> frames) {
        List<byte[]> units = new ArrayList<>();
        ByteArrayOutputStream unit = null;
        for (Object frame : frames) {
            if (frame instanceof Line line && line.first()) {
                if (unit != null) {
                    units.add(unit.toByteArray());
                }
                unit = new ByteArrayOutputStream();
            }
            String text = frame instanceof Line line ? line.text() : ((Literal) frame).data();
            unit.writeBytes(text.getBytes(ISO_8859_1));
        }
        if (unit != null) {
            units.add(unit.toByteArray());
        }
        return units;
    }

    private static String commandTag(Line line) {
        try {
            return CommandHead.parse(Unpooled.wrappedBuffer(line.text().getBytes(ISO_8859_1))).tag();
        } catch (ImapParseException e) {
            return null; // continuation data: DONE, a SASL response, '*'
        }
    }

    private static ResponseHead responseHead(Line line) {
        try {
            return ResponseHead.parse(Unpooled.wrappedBuffer(line.text().getBytes(ISO_8859_1)));
        } catch (ImapParseException e) {
            throw new AssertionError("not a response: " + line.text(), e);
        }
    }

    private static String resourceText(String file) {
        try (InputStream in = Rfc9051ExamplesTest.class.getResourceAsStream("/rfc9051/" + file)) {
            assertThat(in).as("rfc9051/%s on the test class path", file).isNotNull();
            return new String(in.readAllBytes(), UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
