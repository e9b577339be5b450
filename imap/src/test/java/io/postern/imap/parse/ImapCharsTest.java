package io.postern.imap.parse;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ImapCharsTest {

    @ParameterizedTest
    @ValueSource(strings = {"a1 NOOP\r\n", "a1 NOOP\n", "a1 NOOP", "a1 SELECT \"\u00e9t\u00e9\"\r\n", "\r\n", ""})
    void aLineWithoutNulOrInnerCrPasses(String line) {
        assertThatCode(() -> check(line)).doesNotThrowAnyException();
    }

    @ParameterizedTest
    @ValueSource(strings = {"a1 SELECT IN\0BOX\r\n", "\0\r\n", "a1 NOOP\0", "a1 NOOP\0\n"})
    void aNulIsRefused(String line) {
        assertThatThrownBy(() -> check(line)).isInstanceOf(ImapParseException.class)
                .hasMessage("Invalid character in command (NUL)");
    }

    @ParameterizedTest
    @ValueSource(strings = {"a1 CREATE x\ra2 DELETE y\r\n", "a1 NOOP\r\r\n", "a1 NOOP\r", "\r"})
    void aCrThatDoesNotEndTheLineIsRefused(String line) {
        assertThatThrownBy(() -> check(line)).isInstanceOf(ImapParseException.class)
                .hasMessage("Invalid character in command (CR without LF)");
    }

    @ParameterizedTest
    @ValueSource(strings = {"a1 NOOP\r\n", "a1 SELECT IN\0BOX\r\n"})
    void onlyTheBytesFromTheReaderIndexCount(String line) throws ImapParseException {
        ByteBuf buf = Unpooled.copiedBuffer("\0\r" + line, ISO_8859_1).skipBytes(2);
        ByteBuf same = Unpooled.copiedBuffer(line, ISO_8859_1);
        int text = textLength(same);
        if (line.contains("\0")) {
            assertThatThrownBy(() -> ImapChars.checkLineText(buf, text)).isInstanceOf(ImapParseException.class);
        } else {
            ImapChars.checkLineText(buf, text);
        }
    }

    private static void check(String line) throws ImapParseException {
        ByteBuf buf = Unpooled.copiedBuffer(line, ISO_8859_1);
        ImapChars.checkLineText(buf, textLength(buf));
    }

    /** As {@code ImapLine.textLength()}: without a final LF and a CR before it. */
    private static int textLength(ByteBuf buf) {
        int n = buf.readableBytes();
        if (n > 0 && buf.getByte(n - 1) == '\n') {
            n--;
            if (n > 0 && buf.getByte(n - 1) == '\r') {
                n--;
            }
        }
        return n;
    }
}
