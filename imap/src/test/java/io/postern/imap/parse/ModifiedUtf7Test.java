package io.postern.imap.parse;

import static java.nio.charset.StandardCharsets.UTF_16BE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Base64;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ModifiedUtf7Test {

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        // RFC 3501 / RFC 9051 section 5.1.3: English, Chinese and Japanese
        "~peter/mail/&U,BTFw-/&ZeVnLIqe-|~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e",
        "R&AOk-pertoire|R\u00e9pertoire",
        "INBOX|INBOX",
        "&-|&",
        "&-&-|&&",
        "Tom &- Jerry|Tom & Jerry",
        "-|-",
        "&--|&-",
        "&AOk-&-|\u00e9&",
        "&AOkA6Q-|\u00e9\u00e9",
        "&AOk--|\u00e9-",
        // a character outside the BMP is a surrogate pair in one run
        "&2D3eAA-|\ud83d\ude00",
        "x&2D3eANg93gE-y|x\ud83d\ude00\ud83d\ude01y",
    })
    void decodesAndEncodesTheSameSpelling(String mutf7, String unicode) throws ImapParseException {
        assertThat(ModifiedUtf7.decode(mutf7)).isEqualTo(unicode);
        assertThat(ModifiedUtf7.encode(unicode)).isEqualTo(mutf7);
    }

    @Test
    void controlCharactersAreEncoded() throws ImapParseException {
        String[][] pairs = {{"&AAA-", "\u0000"}, {"a&AAkACg-b", "a\t\nb"}, {"&AH8-", "\u007f"}, {"&AA0ACg-", "\r\n"}};
        for (String[] pair : pairs) {
            assertThat(ModifiedUtf7.decode(pair[0])).isEqualTo(pair[1]);
            assertThat(ModifiedUtf7.encode(pair[1])).isEqualTo(pair[0]);
        }
    }

    @Test
    void theEmptyNameIsEmptyBothWays() throws ImapParseException {
        assertThat(ModifiedUtf7.decode("")).isEmpty();
        assertThat(ModifiedUtf7.encode("")).isEmpty();
    }

    @Test
    void printableAsciiOtherThanAmpersandStandsForItself() throws ImapParseException {
        StringBuilder all = new StringBuilder();
        for (char c = 0x20; c <= 0x7e; c++) {
            if (c != '&') {
                all.append(c);
            }
        }
        assertThat(ModifiedUtf7.encode(all)).isEqualTo(all.toString());
        assertThat(ModifiedUtf7.decode(all)).isEqualTo(all.toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {"&U/BTFw-", "&AOk=-", "&AO k-", "&AO\u00e9k-", "&AO.k-", "&AO&k-"})
    void refusesCharactersThatAreNotModifiedBase64Digits(String mutf7) {
        assertRefused(mutf7, "not a modified base64 digit");
    }

    @ParameterizedTest
    @ValueSource(strings = {"&AOl-", "&AOn-", "&2D3eAB-", "&AOkA6R-"})
    void refusesNonZeroBitsLeftOver(String mutf7) {
        assertRefused(mutf7, "non-zero bits left over");
    }

    @ParameterizedTest
    // &A- and &AO- encode nothing (6 and 12 bits); &AOkA- has a whole digit more than it needs
    @ValueSource(strings = {"&A-", "&AO-", "&AOkA-", "&AOkA6QA-", "x&AA-y"})
    void refusesRunsWithDigitsLeftOver(String mutf7) {
        assertRefused(mutf7, "digits left over");
    }

    @ParameterizedTest
    @ValueSource(strings = {"&", "&AOk", "abc&", "abc&U,BTFw", "&2D3eAA"})
    void refusesAnAmpersandNeverClosed(String mutf7) {
        assertRefused(mutf7, "not closed by -");
    }

    @ParameterizedTest
    // 'a', '&', ' ', '~', and "&AOkAYQ-" (é then 'a' in one run)
    @ValueSource(strings = {"&AGE-", "&ACY-", "&ACA-", "&AH4-", "&AOkAYQ-", "INBOX/&AEkATgBCAE8AWA-"})
    void refusesPrintableAsciiInsideAnEncodedRun(String mutf7) {
        assertRefused(mutf7, "printable US-ASCII encoded");
    }

    @ParameterizedTest
    // a lone high, a lone low, the pair reversed, the pair split over two runs, high then é
    @ValueSource(strings = {"&2D0-", "&3gA-", "&3gDYPQ-", "&2D0-x&3gA-", "&2D0A6Q-"})
    void refusesUnpairedSurrogates(String mutf7) {
        assertRefused(mutf7, "unpaired surrogate");
    }

    @ParameterizedTest
    @ValueSource(strings = {"&AOk-&AOk-", "&AOk-&2D3eAA-", "a&AOk-&AOk-b"})
    void refusesAnEncodedRunRightAfterAnother(String mutf7) {
        assertRefused(mutf7, "right after another");
    }

    @ParameterizedTest
    @ValueSource(strings = {"R\u00e9pertoire", "a\tb", "\u0000", "\u007f", "a\r\nb", "\u65e5", "\ud83d\ude00"})
    void refusesCharactersThatMustBeEncodedWrittenAsThemselves(String mutf7) {
        assertRefused(mutf7, "must be encoded appears as itself");
    }

    @Test
    void messagesGivePositionsAndNeverEchoTheInput() {
        assertThatThrownBy(() -> ModifiedUtf7.decode("abc&AOl-"))
                .isInstanceOf(ImapParseException.class)
                .hasMessage("Modified UTF-7: the encoded run ending at index 7 has non-zero bits left over");
        assertThatThrownBy(() -> ModifiedUtf7.decode("ab\r\n* OK"))
                .hasMessage("Modified UTF-7: a character that must be encoded appears as itself at index 2");
    }

    @ParameterizedTest
    @ValueSource(strings = {"\ud83d", "a\ud83d", "\ude00", "x\ude00\ud83d", "\ud83d\ud83d\ude00", "\ud83d&\ude00", "\ud83da"})
    void encodeRefusesUnpairedSurrogates(String unicode) {
        assertThatThrownBy(() -> ModifiedUtf7.encode(unicode))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unpaired surrogate");
    }

    /**
     * Random names from a mix of ASCII, controls, Latin-1, CJK and pairs: the encoding agrees with
     * UTF-7 built from the JDK's base64 of UTF-16BE (with {@code ,} for {@code /}), and decodes back.
     */
    @Test
    void randomNamesEncodeLikeBase64OfUtf16AndDecodeBack() throws ImapParseException {
        Random random = new Random(20261122);
        String[] pieces = {"a", "&", "-", "/", " ", "~", "\u0000", "\t", "\u007f", "\u00e9", "\u00ff",
                "\u0100", "\u53f0", "\uffff", "\ud83d\ude00", "\udbff\udfff", "\ufeff"};
        for (int round = 0; round < 5_000; round++) {
            StringBuilder name = new StringBuilder();
            int length = random.nextInt(12);
            for (int j = 0; j < length; j++) {
                name.append(pieces[random.nextInt(pieces.length)]);
            }
            String unicode = name.toString();
            String mutf7 = ModifiedUtf7.encode(unicode);

            assertThat(mutf7).as("encoding of %s", unicode).isEqualTo(reference(unicode));
            assertThat(ModifiedUtf7.decode(mutf7)).isEqualTo(unicode);
        }
    }

    /** Modified UTF-7 from its definition, with the JDK's base64: an independent spelling to compare with. */
    private static String reference(String unicode) {
        StringBuilder out = new StringBuilder();
        int i = 0;
        while (i < unicode.length()) {
            char c = unicode.charAt(i);
            if (c >= 0x20 && c <= 0x7e) {
                out.append(c == '&' ? "&-" : String.valueOf(c));
                i++;
                continue;
            }
            int end = i;
            while (end < unicode.length() && (unicode.charAt(end) < 0x20 || unicode.charAt(end) > 0x7e)) {
                end++;
            }
            byte[] utf16 = unicode.substring(i, end).getBytes(UTF_16BE);
            out.append('&')
                    .append(Base64.getEncoder().withoutPadding().encodeToString(utf16).replace('/', ','))
                    .append('-');
            i = end;
        }
        return out.toString();
    }

    private static void assertRefused(String mutf7, String why) {
        assertThatThrownBy(() -> ModifiedUtf7.decode(mutf7))
                .isInstanceOf(ImapParseException.class)
                .hasMessageStartingWith("Modified UTF-7: ")
                .hasMessageContaining(why);
    }
}
