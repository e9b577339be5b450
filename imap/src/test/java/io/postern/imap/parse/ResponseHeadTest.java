package io.postern.imap.parse;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.postern.imap.parse.ResponseHead.Kind;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ResponseHeadTest {

    private static final String GREETING = "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+"
            + " STARTTLS AUTH=PLAIN AUTH=LOGIN] Dovecot backend A ready.\r\n";

    @Test
    void aContinuationRequest() throws ImapParseException {
        Parsed plus = parse("+ OK\r\n");

        assertThat(plus.head()).isEqualTo(new ResponseHead(Kind.CONTINUATION, null, -1, null, false, null, -1, -1, 2));
        assertThat(plus.head().isContinuation()).isTrue();
        assertThat(plus.head().isTagged()).isFalse();
        assertThat(plus.head().isUntagged()).isFalse();
        assertThat(plus.text()).isEqualTo("OK");
        assertThat(plus.capabilities()).isEmpty();
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        "+ idling|2|idling",
        "+ UGFzc3dvcmQ6|2|UGFzc3dvcmQ6",
        "`+ `|2|",
        "+|1|",
        "+Ready|1|Ready",
    })
    void continuationText(String line, int dataIndex, String text) throws ImapParseException {
        Parsed plus = parse(line + "\r\n");

        assertThat(plus.head().kind()).isEqualTo(Kind.CONTINUATION);
        assertThat(plus.head().dataIndex()).isEqualTo(dataIndex);
        assertThat(plus.text()).isEqualTo(text == null ? "" : text);
    }

    @Test
    void theGreetingCarriesCapabilitiesInItsResponseCode() throws ImapParseException {
        Parsed greeting = parse(GREETING);

        assertThat(greeting.head().kind()).isEqualTo(Kind.UNTAGGED);
        assertThat(greeting.head().tag()).isNull();
        assertThat(greeting.head().number()).isEqualTo(-1);
        assertThat(greeting.head().keyword()).isEqualTo("OK");
        assertThat(greeting.head().status()).isTrue();
        assertThat(greeting.head().code()).isEqualTo("CAPABILITY");
        assertThat(greeting.head().codeStart()).isEqualTo(6);
        assertThat(greeting.head().codeEnd()).isEqualTo(GREETING.indexOf(']'));
        assertThat(greeting.capabilities()).containsExactly("IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE",
                "IDLE", "LITERAL+", "STARTTLS", "AUTH=PLAIN", "AUTH=LOGIN");
        assertThat(greeting.text()).isEqualTo("Dovecot backend A ready.");
    }

    @Test
    void aTaggedOkMayCarryCapabilitiesToo() throws ImapParseException {
        Parsed ok = parse("a001 OK [CAPABILITY IMAP4rev1 SASL-IR  COMPRESS=DEFLATE] Logged in\r\n");

        assertThat(ok.head().kind()).isEqualTo(Kind.TAGGED);
        assertThat(ok.head().tag()).isEqualTo("a001");
        assertThat(ok.head().code()).isEqualTo("CAPABILITY");
        assertThat(ok.capabilities()).containsExactly("IMAP4rev1", "SASL-IR", "COMPRESS=DEFLATE");
        assertThat(ok.text()).isEqualTo("Logged in");
    }

    @Test
    void anUntaggedCapabilityResponse() throws ImapParseException {
        Parsed capability = parse("* CAPABILITY IMAP4rev1 IDLE LITERAL+ AUTH=PLAIN\r\n");

        assertThat(capability.head().keyword()).isEqualTo("CAPABILITY");
        assertThat(capability.head().status()).isFalse();
        assertThat(capability.head().code()).isNull();
        assertThat(capability.head().dataIndex()).isEqualTo(13);
        assertThat(capability.capabilities()).containsExactly("IMAP4rev1", "IDLE", "LITERAL+", "AUTH=PLAIN");
        assertThat(parse("* CAPABILITY\r\n").capabilities()).isEmpty();
        assertThat(parse("* capability imap4rev1\r\n").capabilities()).containsExactly("imap4rev1");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        "* OK [ALERT] System going down",
        "* ENABLED CAPABILITY",
        "a1 OK CAPABILITY completed",
        "* 1 FETCH (CAPABILITY)",
        "* OK [CAPABILITYX IMAP4rev1] hello",
    })
    void otherResponsesCarryNoCapabilities(String line) throws ImapParseException {
        assertThat(parse(line + "\r\n").capabilities()).isEmpty();
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        "a1 OK [READ-WRITE] SELECT completed|a1|OK|READ-WRITE|SELECT completed",
        "a002 NO [TRYCREATE] Mailbox doesn't exist: No such folder (0.001 + 0.000 secs).|a002|NO|TRYCREATE"
                + "|Mailbox doesn't exist: No such folder (0.001 + 0.000 secs).",
        "a003 BAD Authentication aborted by client.|a003|BAD||Authentication aborted by client.",
        "a1 ok done|a1|OK||done",
        "a1 BAD|a1|BAD||",
        "a1 NO [OVERQUOTA]|a1|NO|OVERQUOTA|",
        "a1 OK [COPYUID 38505 304,319:320 3956:3958] Done|a1|OK|COPYUID|Done",
        "A001 OK Pre-login capabilities listed, post-login capabilities have more.|A001|OK|"
                + "|Pre-login capabilities listed, post-login capabilities have more.",
    })
    void taggedCompletions(String line, String tag, String status, String code, String text)
            throws ImapParseException {
        Parsed reply = parse(line + "\r\n");

        assertThat(reply.head().kind()).isEqualTo(Kind.TAGGED);
        assertThat(reply.head().isTagged()).isTrue();
        assertThat(reply.head().tag()).isEqualTo(tag);
        assertThat(reply.head().keyword()).isEqualTo(status);
        assertThat(reply.head().status()).isTrue();
        assertThat(reply.head().code()).isEqualTo(code);
        assertThat(reply.text()).isEqualTo(text == null ? "" : text);
    }

    @Test
    void anEmptyResponseCodeHasAnEmptyName() throws ImapParseException {
        Parsed reply = parse("a]1 OK [] done\r\n");

        assertThat(reply.head().tag()).isEqualTo("a]1");
        assertThat(reply.head().code()).isEmpty();
        assertThat(reply.head().codeEnd()).isEqualTo(reply.head().codeStart());
        assertThat(reply.text()).isEqualTo("done");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        "* 23 EXISTS|23|EXISTS|false|11",
        "* 0 RECENT|0|RECENT|false|10",
        "* 1 FETCH (FLAGS (\\Seen))|1|FETCH|false|10",
        "* 999999999999999999 EXPUNGE|999999999999999999|EXPUNGE|false|28",
        "* LIST () \"/\" INBOX|-1|LIST|false|7",
        "* STATUS {8}|-1|STATUS|false|9",
        "* SEARCH|-1|SEARCH|false|8",
        "* BYE Logging out|-1|BYE|true|6",
        "* PREAUTH IMAP4rev2 server logged in as Smith|-1|PREAUTH|true|10",
        "* no [ALERT] lower case|-1|NO|true|5",
        "* 3 OK|3|OK|false|6",
        "* VANISHED 5|-1|VANISHED|false|11",
    })
    void untaggedResponses(String line, long number, String keyword, boolean status, int dataIndex)
            throws ImapParseException {
        ResponseHead head = parse(line + "\r\n").head();

        assertThat(head.kind()).isEqualTo(Kind.UNTAGGED);
        assertThat(head.isUntagged()).isTrue();
        assertThat(head.tag()).isNull();
        assertThat(head.number()).isEqualTo(number);
        assertThat(head.keyword()).isEqualTo(keyword);
        assertThat(head.status()).isEqualTo(status);
        assertThat(head.dataIndex()).isEqualTo(dataIndex);
    }

    @Test
    void textIsUtf8AndEndsBeforeTheLineEnding() throws ImapParseException {
        byte[] wire = "* OK [ALERT] Grüße\n".getBytes(UTF_8);
        ByteBuf buf = Unpooled.wrappedBuffer(wire);

        assertThat(ResponseHead.parse(buf).text(buf)).isEqualTo("Grüße");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        "|Empty response line",
        "*|Response without a valid tag",
        "`* `|Missing response keyword",
        "* (x)|Missing response keyword",
        "* 12x EXISTS|Invalid message number",
        "* 12|Invalid message number",
        "* 1234567890123456789 EXISTS|Invalid message number",
        "a1 FETCH (FLAGS ())|Tagged response is not OK, NO or BAD",
        "a1 BYE bye|Tagged response is not OK, NO or BAD",
        "a1 PREAUTH hello|Tagged response is not OK, NO or BAD",
        "a1 OKAY|Tagged response is not OK, NO or BAD",
        "a1|Response without a valid tag",
        "(a1) OK|Response without a valid tag",
        "* OK [ALERT System going down|Unterminated response code",
    })
    void refusesWhatIsNotAResponse(String line, String message) {
        assertThatThrownBy(() -> parse((line == null ? "" : line) + "\r\n"))
                .isInstanceOf(ImapParseException.class)
                .hasMessage(message);
    }

    @Test
    void indexesAreThoseOfTheBufferNotOfTheLine() throws ImapParseException {
        ByteBuf buf = Unpooled.copiedBuffer("* 1 EXISTS\r\na1 OK [UIDNEXT 5] done\r\n", ISO_8859_1);
        try {
            buf.readerIndex(12);
            ResponseHead head = ResponseHead.parse(buf);

            assertThat(head.tag()).isEqualTo("a1");
            assertThat(head.codeStart()).isEqualTo(19);
            assertThat(head.codeEnd()).isEqualTo(28);
            assertThat(head.code()).isEqualTo("UIDNEXT");
            assertThat(head.text(buf)).isEqualTo("done");
            assertThat(buf.readerIndex()).isEqualTo(12);
        } finally {
            buf.release();
        }
    }

    private record Parsed(ResponseHead head, List<String> capabilities, String text) {}

    private static Parsed parse(String line) throws ImapParseException {
        ByteBuf buf = Unpooled.copiedBuffer(line, ISO_8859_1);
        try {
            ResponseHead head = ResponseHead.parse(buf);
            return new Parsed(head, head.capabilities(buf), head.text(buf));
        } finally {
            buf.release();
        }
    }
}
