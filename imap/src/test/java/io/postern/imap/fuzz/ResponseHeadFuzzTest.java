package io.postern.imap.fuzz;

import static java.nio.charset.StandardCharsets.ISO_8859_1;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.postern.imap.parse.ImapChars;
import io.postern.imap.parse.ImapParseException;
import io.postern.imap.parse.ResponseHead;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Coverage-guided fuzzing of {@link ResponseHead#parse}, {@link ResponseHead#capabilities} and
 * {@link ResponseHead#text}. Input: byte 0 says how many other bytes (0 to 15) stand before the
 * line in its buffer; the rest is the line. Checks:
 * <ul>
 *   <li>only {@link ImapParseException} is thrown, and nothing at all by {@code capabilities} and
 *       {@code text} of a parsed head;
 *   <li>the head agrees with the line: {@code +} makes a continuation, {@code "* "} an untagged
 *       response, anything else a tagged one whose tag (1 to 64 tag characters and a space) starts
 *       the line and whose keyword is OK, NO or BAD; the keyword is an upper-case atom; status
 *       exactly for OK, NO, BAD, BYE and PREAUTH without a number; a response code sits between
 *       {@code [} and the first {@code ]}; every index lies within the line;
 *   <li>capabilities come only from a CAPABILITY response or response code, and none is empty or
 *       holds a space;
 *   <li>the line read from the middle of a larger buffer gives the same head, indexes shifted, the
 *       same capabilities and text, and neither buffer index moves.
 * </ul>
 * The committed inputs are response lines from {@code src/test/resources/transcripts}.
 */
class ResponseHeadFuzzTest {

    private static final Set<String> STATUS = Set.of("OK", "NO", "BAD", "BYE", "PREAUTH");

    @FuzzTest(maxDuration = "5m")
    void parse(byte[] input) {
        int pad = input.length == 0 ? 0 : input[0] & 15;
        byte[] line = input.length == 0 ? input : Arrays.copyOfRange(input, 1, input.length);

        ByteBuf exactBuf = Unpooled.wrappedBuffer(line);
        Object exact = parse(exactBuf);
        byte[] larger = new byte[pad + line.length + 16];
        Arrays.fill(larger, (byte) ']');
        System.arraycopy(line, 0, larger, pad, line.length);
        ByteBuf inside = Unpooled.wrappedBuffer(larger).setIndex(pad, pad + line.length);
        Object shifted = parse(inside);

        if (!(exact instanceof ResponseHead head)) {
            if (!Objects.equals(exact, shifted)) {
                throw new AssertionError("from index " + pad + " of a larger buffer: " + shifted + ", from 0: " + exact);
            }
            return;
        }
        check(line, head);
        List<String> capabilities = head.capabilities(exactBuf);
        String text = head.text(exactBuf);
        checkCapabilities(head, capabilities);

        ResponseHead expected = new ResponseHead(head.kind(), head.tag(), head.number(), head.keyword(), head.status(),
                head.code(), shift(head.codeStart(), pad), shift(head.codeEnd(), pad), head.dataIndex() + pad);
        if (!expected.equals(shifted)) {
            throw new AssertionError("from index " + pad + " of a larger buffer: " + shifted + ", from 0: " + head);
        }
        ResponseHead inLarger = (ResponseHead) shifted;
        if (!capabilities.equals(inLarger.capabilities(inside)) || !text.equals(inLarger.text(inside))) {
            throw new AssertionError("capabilities or text differ in a larger buffer: " + capabilities + " / "
                    + inLarger.capabilities(inside) + ", " + text + " / " + inLarger.text(inside));
        }
        if (inside.readerIndex() != pad || inside.writerIndex() != pad + line.length
                || exactBuf.readerIndex() != 0 || exactBuf.writerIndex() != line.length) {
            throw new AssertionError("the buffer's indexes moved: " + inside + ", " + exactBuf);
        }
    }

    private static Object parse(ByteBuf line) {
        try {
            return ResponseHead.parse(line);
        } catch (ImapParseException e) {
            return e.getMessage();
        }
    }

    private static int shift(int index, int pad) {
        return index < 0 ? index : index + pad;
    }

    private static void check(byte[] s, ResponseHead head) {
        int end = CommandHeadFuzzTest.textEnd(s);
        expect(end > 0, head, "an empty line parsed");
        expect(head.dataIndex() >= 0 && head.dataIndex() <= end, head, "dataIndex outside the line");
        switch (head.kind()) {
            case CONTINUATION -> {
                expect(s[0] == '+', head, "a continuation that does not start with +");
                expect(head.tag() == null && head.keyword() == null && head.number() == -1 && !head.status()
                        && head.code() == null && head.codeStart() == -1, head, "a continuation with more than data");
                expect(head.dataIndex() == (end > 1 && s[1] == ' ' ? 2 : 1), head, "dataIndex of a continuation");
                return;
            }
            case UNTAGGED -> {
                expect(end >= 2 && s[0] == '*' && s[1] == ' ', head, "untagged without \"* \"");
                expect(head.tag() == null, head, "untagged with a tag");
            }
            case TAGGED -> {
                String tag = head.tag();
                expect(s[0] != '+' && !(end >= 2 && s[0] == '*' && s[1] == ' '), head, "tagged, but a + or * line");
                expect(tag != null && !tag.isEmpty() && tag.length() <= ImapChars.MAX_TAG_LENGTH
                        && tag.length() < end && s[tag.length()] == ' '
                        && tag.equals(new String(s, 0, tag.length(), ISO_8859_1)), head, "tag");
                for (int i = 0; i < tag.length(); i++) {
                    expect(ImapChars.isTagChar(s[i]), head, "a tag with a character that is not a tag character");
                }
                expect(head.number() == -1, head, "a tagged response with a number");
                expect(Set.of("OK", "NO", "BAD").contains(head.keyword()), head, "tagged, but not OK, NO or BAD");
            }
            default -> throw new AssertionError(head);
        }
        String keyword = head.keyword();
        expect(keyword != null && !keyword.isEmpty(), head, "no keyword");
        for (int i = 0; i < keyword.length(); i++) {
            char c = keyword.charAt(i);
            expect(ImapChars.isAtomChar(c) && !(c >= 'a' && c <= 'z'), head, "the keyword is not an upper-case atom");
        }
        expect(head.number() >= -1, head, "a negative message number");
        expect(head.status() == (head.number() < 0 && STATUS.contains(keyword)), head, "status flag");
        if (head.codeStart() < 0) {
            expect(head.code() == null && head.codeEnd() == -1, head, "a code without its position");
            return;
        }
        expect(head.status(), head, "a response code in a response that is not a status");
        expect(head.codeStart() >= 1 && s[head.codeStart() - 1] == '[', head, "a code that does not start after [");
        expect(head.codeEnd() >= head.codeStart() && head.codeEnd() < end && s[head.codeEnd()] == ']', head,
                "a code that does not end at ]");
        for (int i = head.codeStart(); i < head.codeEnd(); i++) {
            expect(s[i] != ']', head, "a code that does not end at the first ]");
        }
        expect(head.code() != null, head, "a code position without a code");
        for (int i = 0; i < head.code().length(); i++) {
            char c = head.code().charAt(i);
            expect(ImapChars.isAtomChar(c) && !(c >= 'a' && c <= 'z'), head, "the code is not an upper-case atom");
        }
    }

    private static void checkCapabilities(ResponseHead head, List<String> capabilities) {
        boolean capabilityResponse = "CAPABILITY".equals(head.code())
                || (head.isUntagged() && !head.status() && "CAPABILITY".equals(head.keyword()));
        expect(capabilityResponse || capabilities.isEmpty(), head, "capabilities from a response that has none");
        for (String c : capabilities) {
            if (c.isEmpty() || c.indexOf(' ') >= 0) {
                throw new AssertionError("an empty capability or one with a space: " + capabilities + ", " + head);
            }
        }
    }

    private static void expect(boolean ok, ResponseHead head, String what) {
        if (!ok) {
            throw new AssertionError(what + ": " + head);
        }
    }
}
