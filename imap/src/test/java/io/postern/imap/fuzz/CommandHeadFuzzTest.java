package io.postern.imap.fuzz;

import static java.nio.charset.StandardCharsets.ISO_8859_1;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.postern.imap.parse.CommandHead;
import io.postern.imap.parse.ImapChars;
import io.postern.imap.parse.ImapParseException;
import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;

/**
 * Coverage-guided fuzzing of {@link CommandHead#parse}. Input: byte 0 says how many other bytes
 * (0 to 15) stand before the line in its buffer; the rest is the line. Checks:
 * <ul>
 *   <li>only {@link ImapParseException} is thrown;
 *   <li>what is parsed is there: the tag is 1 to 64 tag characters followed by a space, the name
 *       is the next atom (at most 32 characters) in upper case, or {@code UID} and the atom after
 *       it, and {@code argumentsIndex} is the line ending or the byte after a space;
 *   <li>the line read from the middle of a larger buffer, between reader and writer index with
 *       atom characters all around, gives the same head with indexes shifted, and neither index
 *       moves.
 * </ul>
 * The committed inputs are command lines from {@code src/test/resources/transcripts}.
 */
class CommandHeadFuzzTest {

    /** Fills the buffer around the line: atom characters, which would lengthen a tag or name read past an index. */
    private static final byte AROUND = 'A';

    @FuzzTest(maxDuration = "5m")
    void parse(byte[] input) {
        int pad = input.length == 0 ? 0 : input[0] & 15;
        byte[] line = input.length == 0 ? input : Arrays.copyOfRange(input, 1, input.length);

        Object exact = parse(Unpooled.wrappedBuffer(line));
        byte[] larger = new byte[pad + line.length + 16];
        Arrays.fill(larger, AROUND);
        System.arraycopy(line, 0, larger, pad, line.length);
        ByteBuf inside = Unpooled.wrappedBuffer(larger).setIndex(pad, pad + line.length);
        Object shifted = parse(inside);
        if (inside.readerIndex() != pad || inside.writerIndex() != pad + line.length) {
            throw new AssertionError("parse moved the buffer's indexes: " + inside);
        }

        if (exact instanceof CommandHead head) {
            check(line, head);
            CommandHead expected = new CommandHead(head.tag(), head.name(), head.argumentsIndex() + pad);
            if (!expected.equals(shifted)) {
                throw new AssertionError("from index " + pad + " of a larger buffer: " + shifted + ", from 0: " + head);
            }
        } else if (!Objects.equals(exact, shifted)) {
            throw new AssertionError("from index " + pad + " of a larger buffer: " + shifted + ", from 0: " + exact);
        }
    }

    /** The head, or the message of the {@link ImapParseException}. */
    private static Object parse(ByteBuf line) {
        try {
            return CommandHead.parse(line);
        } catch (ImapParseException e) {
            return e.getMessage();
        }
    }

    private static void check(byte[] s, CommandHead head) {
        int end = textEnd(s);
        String tag = head.tag();
        expect(tag != null && !tag.isEmpty() && tag.length() <= ImapChars.MAX_TAG_LENGTH, head, "tag length");
        expect(tag.equals(new String(s, 0, tag.length(), ISO_8859_1)), head, "the tag is not the start of the line");
        for (int i = 0; i < tag.length(); i++) {
            expect(ImapChars.isTagChar(s[i]), head, "a tag with a character that is not a tag character");
        }
        expect(tag.length() < end && s[tag.length()] == ' ', head, "the tag is not followed by a space");

        int nameStart = tag.length() + 1;
        int nameEnd = atomEnd(s, nameStart, end);
        String name = upper(s, nameStart, nameEnd);
        if (name.equals("UID") && nameEnd < end && s[nameEnd] == ' ') {
            int subEnd = atomEnd(s, nameEnd + 1, end);
            name = "UID " + upper(s, nameEnd + 1, subEnd);
            nameEnd = subEnd;
        }
        expect(!head.name().isEmpty() && !head.name().equals("UID "), head, "an empty name");
        expect(head.name().equals(name), head, "name (expected: " + name + ")");

        int args = head.argumentsIndex();
        expect(args == end || (args == nameEnd + 1 && s[nameEnd] == ' '), head,
                "argumentsIndex is neither the line ending nor after the space that ends the name");
        expect(args <= end, head, "argumentsIndex beyond the line ending");
    }

    /** The end of the atom from {@code from}, at most 32 characters. */
    private static int atomEnd(byte[] s, int from, int end) {
        int i = from;
        while (i < end && i - from < 32 && ImapChars.isAtomChar(s[i])) {
            i++;
        }
        return i;
    }

    /** The index of the line ending: a final LF, and a CR before it. */
    static int textEnd(byte[] s) {
        int end = s.length;
        if (end > 0 && s[end - 1] == '\n') {
            end--;
            if (end > 0 && s[end - 1] == '\r') {
                end--;
            }
        }
        return end;
    }

    private static String upper(byte[] s, int from, int to) {
        return new String(s, from, to - from, ISO_8859_1).toUpperCase(Locale.ROOT);
    }

    private static void expect(boolean ok, CommandHead head, String what) {
        if (!ok) {
            throw new AssertionError(what + ": " + head);
        }
    }
}
