package io.postern.imap.parse;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.Unpooled;
import java.util.Arrays;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

class ArgumentReaderTest {

    @Test
    void readsTheArgumentsOfACommandFromItsHead() throws ImapParseException {
        byte[] wire = bytes("a1 LOGIN alice \"p w\"\r\n");
        CommandHead head = CommandHead.parse(Unpooled.wrappedBuffer(wire));
        ArgumentReader args = new ArgumentReader(wire, head.argumentsIndex());

        assertThat(args.astring()).isEqualTo("alice");
        args.sp();
        assertThat(args.astring()).isEqualTo("p w");
        assertThat(args.atEnd()).isTrue();
        args.end();
    }

    @Test
    void readsLiteralsAcrossTheLinesOfOneCommand() throws ImapParseException {
        // What the decoder passes on as line, chunk, line, chunk, line, joined.
        byte[] wire = bytes("a1 LOGIN {5}\r\nalice {7+}\r\n\"p\r\nw\\\"\r\n");
        ArgumentReader args = new ArgumentReader(wire, CommandHead.parse(Unpooled.wrappedBuffer(wire)).argumentsIndex());

        assertThat(args.astring()).isEqualTo("alice");
        args.sp();
        assertThat(args.astring()).isEqualTo("\"p\r\nw\\\"");
        args.end();
    }

    @Test
    void readsAtoms() throws ImapParseException {
        ArgumentReader args = reader("PLAIN X-GM-EXT-1 [bracket\r\n");

        assertThat(args.atom()).isEqualTo("PLAIN");
        args.sp();
        assertThat(args.atom()).isEqualTo("X-GM-EXT-1");
        args.sp();
        assertThat(args.atom()).isEqualTo("[bracket");
        args.end();
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {"(", "\"quoted\"", "{5}", "]", "%", "*", "\\"})
    void anAtomStopsAtAtomSpecials(String input) {
        assertThatThrownBy(() -> reader(input + "\r\n").atom())
                .isInstanceOf(ImapParseException.class)
                .hasMessage("Expected an atom");
    }

    @Test
    void anAstringMayHoldARightBracketButNotOtherSpecials() throws ImapParseException {
        ArgumentReader args = reader("INBOX]x (rest\r\n");

        assertThat(args.astring()).isEqualTo("INBOX]x");
        args.sp();
        assertThatThrownBy(args::astring).hasMessage("Expected an astring");
    }

    static Stream<Arguments> quotedStrings() {
        return pairs(
                "\"\"", "",
                "\"a b\"", "a b",
                "\"say \\\"hi\\\" \\\\ back\"", "say \"hi\" \\ back",
                "\"brace{3}\"", "brace{3}",
                "\"(NIL)\"", "(NIL)");
    }

    @ParameterizedTest
    @MethodSource("quotedStrings")
    void readsQuotedStringsWithEscapes(String input, String expected) throws ImapParseException {
        ArgumentReader args = reader(input + "\r\n");

        assertThat(args.string()).isEqualTo(expected);
        args.end();
    }

    @Test
    void aQuotedStringIsUtf8() throws ImapParseException {
        byte[] wire = "\"Entwürfe\"\r\n".getBytes(UTF_8);

        assertThat(new ArgumentReader(wire, 0).string()).isEqualTo("Entwürfe");
    }

    static Stream<Arguments> literals() {
        return pairs(
                "{5}\r\nalice", "alice",
                "{5+}\r\nalice", "alice",
                "{5}\nalice", "alice",
                "{0}\r\n", "",
                "{00003}\r\n\"\r\n", "\"\r\n");
    }

    @ParameterizedTest
    @MethodSource("literals")
    void readsLiterals(String input, String expected) throws ImapParseException {
        ArgumentReader args = reader(input);

        assertThat(args.string()).isEqualTo(expected);
        assertThat(args.atEnd()).isTrue();
    }

    @Test
    void nstringReadsNilAsNull() throws ImapParseException {
        ArgumentReader args = reader("NIL nil \"NIL\" {3}\r\nNIL\r\n");

        assertThat(args.nstring()).isNull();
        args.sp();
        assertThat(args.nstring()).isNull();
        args.sp();
        assertThat(args.nstring()).isEqualTo("NIL");
        args.sp();
        assertThat(args.nstring()).isEqualTo("NIL");
        args.end();
    }

    @Test
    void aWordThatStartsWithNilIsNotNil() {
        assertThatThrownBy(() -> reader("NILS\r\n").nstring()).hasMessage("Expected a string");
    }

    @Test
    void readsIdParameters() throws ImapParseException {
        ArgumentReader args = reader("(\"name\" \"Postern\" \"version\" NIL \"os\" {5}\r\nLinux)\r\n");

        assertThat(args.idParams()).containsExactly("name", "Postern", "version", null, "os", "Linux");
        args.end();
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {"NIL", "nil", "()"})
    void emptyIdParameters(String input) throws ImapParseException {
        ArgumentReader args = reader(input + "\r\n");

        assertThat(args.idParams()).isEmpty();
        args.end();
    }

    /** What a test reads: one ABNF production. */
    @FunctionalInterface
    interface Production {
        Object read(ArgumentReader args) throws ImapParseException;
    }

    static Stream<Arguments> malformedInput() {
        Named<Production> string = Named.of("string", ArgumentReader::string);
        Named<Production> idParams = Named.of("idParams", ArgumentReader::idParams);
        return Stream.of(
                Arguments.of(string, "\"a\\b\"", "Invalid escape in quoted string"),
                Arguments.of(string, "\"a\\", "Invalid escape in quoted string"),
                Arguments.of(string, "\"a\rb\"", "Invalid character in quoted string"),
                Arguments.of(string, "\"a\nb\"", "Invalid character in quoted string"),
                Arguments.of(string, "\"a\0b\"", "Invalid character in quoted string"),
                Arguments.of(string, "\"abc", "Unterminated quoted string"),
                Arguments.of(string, "", "Expected a string"),
                Arguments.of(string, "abc", "Expected a string"),
                Arguments.of(string, "{}\r\n", "Invalid literal size"),
                Arguments.of(string, "{+}\r\n", "Invalid literal size"),
                Arguments.of(string, "{5x}\r\nalice", "Invalid literal marker"),
                Arguments.of(string, "{5", "Invalid literal marker"),
                Arguments.of(string, "{5} \r\nalice", "Literal marker not at end of line"),
                Arguments.of(string, "{5}\ralice", "Literal marker not at end of line"),
                Arguments.of(string, "{5}", "Literal marker not at end of line"),
                Arguments.of(string, "{10}\r\nshort", "Literal data missing"),
                Arguments.of(string, "{4294967296}\r\nx", "Literal data missing"),
                Arguments.of(string, "{12345678901}\r\n", "Literal too large"),
                Arguments.of(idParams, "x", "Expected NIL or a parameter list"),
                Arguments.of(idParams, "\"name\"", "Expected NIL or a parameter list"),
                Arguments.of(idParams, "(\"name\")", "Expected a space"),
                Arguments.of(idParams, "(\"name\" \"x\"\r\n", "Expected a space"),
                Arguments.of(idParams, "(\"name\" \"x\"", "Unterminated parameter list"),
                Arguments.of(idParams, "(\"name\" \"x\"\"a\" \"b\")", "Expected a space"),
                Arguments.of(idParams, "(name \"x\")", "Expected a string"),
                Arguments.of(idParams, "(", "Unterminated parameter list"));
    }

    @ParameterizedTest
    @MethodSource("malformedInput")
    void refusesMalformedInput(Production production, String input, String message) {
        assertThatThrownBy(() -> production.read(reader(input)))
                .isInstanceOf(ImapParseException.class)
                .hasMessage(message);
    }

    @Test
    void restIsTheSaslInitialResponse() throws ImapParseException {
        ArgumentReader args = reader("PLAIN AHVzZXIwMTAxAHB3\r\n");

        assertThat(args.atom()).isEqualTo("PLAIN");
        assertThat(args.optionalSp()).isTrue();
        assertThat(args.rest()).isEqualTo("AHVzZXIwMTAxAHB3");
        assertThat(args.optionalSp()).isFalse();
        assertThat(args.atEnd()).isTrue();
    }

    @Test
    void spAndEndCheckWhatFollows() throws ImapParseException {
        ArgumentReader args = reader("a  b\r\n");

        assertThat(args.atom()).isEqualTo("a");
        args.sp();
        assertThatThrownBy(args::atom).hasMessage("Expected an atom");
        assertThatThrownBy(args::end).hasMessage("Unexpected characters at end of command");
        args.sp();
        assertThatThrownBy(args::sp).hasMessage("Expected a space");
        assertThat(args.atom()).isEqualTo("b");
        args.end();
        assertThatThrownBy(args::sp).hasMessage("Expected a space");
    }

    @Test
    void startsWhereItIsTold() throws ImapParseException {
        byte[] wire = bytes("skipped INBOX");

        assertThat(new ArgumentReader(wire, 8).astring()).isEqualTo("INBOX");
        assertThat(new ArgumentReader(wire, wire.length).atEnd()).isTrue();
        assertThat(new ArgumentReader(Arrays.copyOf(wire, 0), 0).atEnd()).isTrue();
    }

    /** Consecutive values two by two: input, then what to expect. */
    private static Stream<Arguments> pairs(String... values) {
        return IntStream.range(0, values.length / 2).mapToObj(i -> Arguments.of(values[2 * i], values[2 * i + 1]));
    }

    private static ArgumentReader reader(String input) {
        return new ArgumentReader(bytes(input), 0);
    }

    private static byte[] bytes(String text) {
        return text.getBytes(ISO_8859_1);
    }
}
