package io.postern.imap.parse;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class CommandHeadTest {

    @Test
    void readsTagAndNameAndWhereTheArgumentsStart() throws ImapParseException {
        CommandHead head = parse("A001 login alice pw\r\n");

        assertThat(head).isEqualTo(new CommandHead("A001", "LOGIN", 11));
    }

    @Test
    void aCommandWithoutArgumentsPointsAtTheLineEnding() throws ImapParseException {
        assertThat(parse("a1 NOOP\r\n")).isEqualTo(new CommandHead("a1", "NOOP", 7));
        assertThat(parse("a1 NOOP\n")).isEqualTo(new CommandHead("a1", "NOOP", 7));
        assertThat(parse("a1 NOOP")).isEqualTo(new CommandHead("a1", "NOOP", 7));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "a1 uid fetch 1:* (FLAGS)|UID FETCH|13",
        "7 UID STORE 4 +FLAGS (\\Seen)|UID STORE|12",
        "a1 UID EXPUNGE|UID EXPUNGE|14",
        "a1 UID|UID|6",
        "a1 UIDX 1|UIDX|8",
    })
    void uidCommandsAreNamedWithTheirSubcommand(String line, String name, int argumentsIndex)
            throws ImapParseException {
        CommandHead head = parse(line + "\r\n");

        assertThat(head.name()).isEqualTo(name);
        assertThat(head.argumentsIndex()).isEqualTo(argumentsIndex);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "1|1 NOOP",
        "A0001|A0001 NOOP",
        "a]b|a]b NOOP",
        "x.y-z_!#&~[<>|x.y-z_!#&~[<> NOOP",
        "TzVo|TzVo AUTHENTICATE PLAIN",
    })
    void acceptsEveryTagCharacter(String tag, String line) throws ImapParseException {
        assertThat(parse(line + "\r\n").tag()).isEqualTo(tag);
    }

    @Test
    void acceptsTagsUpToMaxTagLength() throws ImapParseException {
        String longest = "t".repeat(ImapChars.MAX_TAG_LENGTH);

        assertThat(parse(longest + " NOOP\r\n").tag()).isEqualTo(longest);
        assertThatThrownBy(() -> parse(longest + "t NOOP\r\n"))
                .isInstanceOf(ImapParseException.class)
                .hasMessage("Missing or invalid tag");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "DONE|Missing or invalid tag",
        "*|Missing or invalid tag",
        "AHVzZXIwMTAzAHB3|Missing or invalid tag",
        "+ NOOP|Missing or invalid tag",
        "a+1 NOOP|Missing or invalid tag",
        "a(1 NOOP|Missing or invalid tag",
        "a{1 NOOP|Missing or invalid tag",
        "a\"1 NOOP|Missing or invalid tag",
        "a%1 NOOP|Missing or invalid tag",
        "a*1 NOOP|Missing or invalid tag",
        "a\\1 NOOP|Missing or invalid tag",
        "' NOOP'|Missing or invalid tag",
        "'a1 '|Missing command name",
        "'a1  NOOP'|Missing command name",
        "a1 (NOOP)|Missing command name",
        "a1 NO(OP|Invalid character in command name",
        "a1 NOOP\"|Invalid character in command name",
        "'a1 UID '|Missing command name after UID",
        "a1 UID {5}|Missing command name after UID",
    })
    void refusesWhatIsNotTagSpaceName(String line, String message) {
        assertThatThrownBy(() -> parse(line + "\r\n"))
                .isInstanceOf(ImapParseException.class)
                .hasMessage(message);
    }

    @Test
    void refusesAnEmptyLineAndEightBitTags() {
        assertThatThrownBy(() -> parse("\r\n")).isInstanceOf(ImapParseException.class);
        assertThatThrownBy(() -> parse("t\u00e4g NOOP\r\n")).hasMessage("Missing or invalid tag");
        assertThatThrownBy(() -> parse("a\u00011 NOOP\r\n")).hasMessage("Missing or invalid tag");
    }

    @Test
    void aNameLongerThanAnyCommandIsRefused() throws ImapParseException {
        String name = "X".repeat(32);

        assertThat(parse("a1 " + name + "\r\n").name()).isEqualTo(name);
        assertThatThrownBy(() -> parse("a1 " + name + "X\r\n")).hasMessage("Invalid character in command name");
    }

    @Test
    void indexesAreThoseOfTheBufferNotOfTheLine() throws ImapParseException {
        ByteBuf buf = Unpooled.copiedBuffer("a0 NOOP\r\na1 SELECT INBOX\r\n", ISO_8859_1);
        try {
            buf.readerIndex(9);
            CommandHead head = CommandHead.parse(buf);

            assertThat(head).isEqualTo(new CommandHead("a1", "SELECT", 19));
            assertThat(buf.toString(head.argumentsIndex(), 5, ISO_8859_1)).isEqualTo("INBOX");
            assertThat(buf.readerIndex()).isEqualTo(9);
            assertThat(CommandHead.textEnd(buf)).isEqualTo(24);
        } finally {
            buf.release();
        }
    }

    @Test
    void textEndIsBeforeTheLineEnding() {
        assertThat(textEnd("a1 NOOP\r\n")).isEqualTo(7);
        assertThat(textEnd("a1 NOOP\n")).isEqualTo(7);
        assertThat(textEnd("a1 NOOP\r")).isEqualTo(8);
        assertThat(textEnd("a1 NOOP")).isEqualTo(7);
        assertThat(textEnd("\r\n")).isZero();
        assertThat(textEnd("")).isZero();
    }

    private static CommandHead parse(String line) throws ImapParseException {
        ByteBuf buf = Unpooled.copiedBuffer(line, ISO_8859_1);
        try {
            return CommandHead.parse(buf);
        } finally {
            buf.release();
        }
    }

    private static int textEnd(String line) {
        ByteBuf buf = Unpooled.copiedBuffer(line, ISO_8859_1);
        try {
            return CommandHead.textEnd(buf);
        } finally {
            buf.release();
        }
    }
}
