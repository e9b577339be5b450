package io.postern.imap.parse;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The shape of a response, read from its first line: continuation, untagged or tagged; the
 * status and response code of status responses; the keyword of data responses. Only the first
 * words are read, so a large FETCH or SEARCH line costs no more than a short one.
 *
 * @param kind continuation, untagged or tagged
 * @param tag the tag of a tagged reply, otherwise {@code null}
 * @param number the number before an untagged keyword ({@code * 23 EXISTS}), or -1
 * @param keyword upper case: the status (OK, NO, BAD, BYE, PREAUTH) or the data keyword
 *     (CAPABILITY, FETCH, LIST ...); {@code null} for a continuation
 * @param status {@code true} when {@code keyword} is a status word
 * @param code the response code name in upper case ({@code CAPABILITY}, {@code TRYCREATE}), or {@code null}
 * @param codeStart buffer index of the first byte inside the brackets, or -1
 * @param codeEnd buffer index of the closing bracket, or -1
 * @param dataIndex buffer index just after the keyword and its space (data or text), or after
 *     {@code "+ "} for a continuation
 */
public record ResponseHead(
        Kind kind,
        String tag,
        long number,
        String keyword,
        boolean status,
        String code,
        int codeStart,
        int codeEnd,
        int dataIndex) {

    public enum Kind {
        CONTINUATION,
        UNTAGGED,
        TAGGED
    }

    private static final List<String> STATUS = List.of("OK", "NO", "BAD", "BYE", "PREAUTH");

    public static ResponseHead parse(ByteBuf line) throws ImapParseException {
        int start = line.readerIndex();
        int end = CommandHead.textEnd(line);
        if (end == start) {
            throw new ImapParseException("Empty response line");
        }
        byte first = line.getByte(start);
        if (first == '+') {
            int data = start + 1 < end && line.getByte(start + 1) == ' ' ? start + 2 : start + 1;
            return new ResponseHead(Kind.CONTINUATION, null, -1, null, false, null, -1, -1, data);
        }
        Kind kind;
        String tag = null;
        int i;
        if (first == '*' && start + 1 < end && line.getByte(start + 1) == ' ') {
            kind = Kind.UNTAGGED;
            i = start + 2;
        } else {
            tag = ImapChars.tag(line, start, end);
            if (tag == null) {
                throw new ImapParseException("Response without a valid tag");
            }
            kind = Kind.TAGGED;
            i = start + tag.length() + 1;
        }
        long number = -1;
        if (kind == Kind.UNTAGGED && i < end && ImapChars.isDigit(line.getByte(i))) {
            int j = i;
            number = 0;
            while (j < end && ImapChars.isDigit(line.getByte(j)) && j - i < 18) {
                number = number * 10 + (line.getByte(j++) - '0');
            }
            if (j >= end || line.getByte(j) != ' ') {
                throw new ImapParseException("Invalid message number");
            }
            i = j + 1;
        }
        int wordEnd = i;
        while (wordEnd < end && ImapChars.isAtomChar(line.getByte(wordEnd))) {
            wordEnd++;
        }
        if (wordEnd == i) {
            throw new ImapParseException("Missing response keyword");
        }
        String keyword = line.toString(i, wordEnd - i, StandardCharsets.US_ASCII).toUpperCase(Locale.ROOT);
        boolean status = number < 0 && STATUS.contains(keyword);
        if (kind == Kind.TAGGED && !(status && !keyword.equals("PREAUTH") && !keyword.equals("BYE"))) {
            throw new ImapParseException("Tagged response is not OK, NO or BAD");
        }
        int data = wordEnd < end && line.getByte(wordEnd) == ' ' ? wordEnd + 1 : wordEnd;
        String code = null;
        int codeStart = -1;
        int codeEnd = -1;
        if (status && data < end && line.getByte(data) == '[') {
            codeStart = data + 1;
            codeEnd = line.forEachByte(codeStart, end - codeStart, b -> b != ']');
            if (codeEnd < 0) {
                throw new ImapParseException("Unterminated response code");
            }
            int nameEnd = codeStart;
            while (nameEnd < codeEnd && ImapChars.isAtomChar(line.getByte(nameEnd))) {
                nameEnd++;
            }
            code = line.toString(codeStart, nameEnd - codeStart, StandardCharsets.US_ASCII).toUpperCase(Locale.ROOT);
        }
        return new ResponseHead(kind, tag, number, keyword, status, code, codeStart, codeEnd, data);
    }

    public boolean isTagged() {
        return kind == Kind.TAGGED;
    }

    public boolean isUntagged() {
        return kind == Kind.UNTAGGED;
    }

    public boolean isContinuation() {
        return kind == Kind.CONTINUATION;
    }

    /**
     * The capability names of an untagged {@code CAPABILITY} response or a {@code [CAPABILITY ...]}
     * response code, in the order given; empty for any other response.
     */
    public List<String> capabilities(ByteBuf line) {
        String text;
        if ("CAPABILITY".equals(code)) {
            int from = codeStart + "CAPABILITY".length();
            text = line.toString(from, codeEnd - from, StandardCharsets.US_ASCII);
        } else if (kind == Kind.UNTAGGED && !status && "CAPABILITY".equals(keyword)) {
            int end = CommandHead.textEnd(line);
            text = dataIndex < end ? line.toString(dataIndex, end - dataIndex, StandardCharsets.US_ASCII) : "";
        } else {
            return List.of();
        }
        return Arrays.stream(text.trim().split(" +")).filter(s -> !s.isEmpty()).toList();
    }

    /** The human-readable text after the status and response code, for status responses. */
    public String text(ByteBuf line) {
        int end = CommandHead.textEnd(line);
        int from = codeEnd >= 0 ? codeEnd + 1 : dataIndex;
        if (from < end && line.getByte(from) == ' ') {
            from++;
        }
        return from < end ? line.toString(from, end - from, StandardCharsets.UTF_8) : "";
    }
}
