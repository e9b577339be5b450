package io.postern.imap.parse;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * The tag and the name of a command, read from its first line without copying the rest.
 *
 * @param tag the client's tag
 * @param name the command name in upper case; {@code UID FETCH}, {@code UID STORE} ... for UID commands
 * @param argumentsIndex the buffer index of the first argument byte (after the separating space),
 *     or of the line ending when there are none
 */
public record CommandHead(String tag, String name, int argumentsIndex) {

    /** The longest command name considered; longer words are not IMAP commands. */
    private static final int MAX_NAME_LENGTH = 32;

    /**
     * Reads the head of the line between the reader and writer index.
     *
     * @throws ImapParseException when the line does not start with a tag, a space and a command name
     */
    public static CommandHead parse(ByteBuf line) throws ImapParseException {
        int start = line.readerIndex();
        int end = textEnd(line);
        String tag = ImapChars.tag(line, start, end);
        if (tag == null) {
            throw new ImapParseException("Missing or invalid tag");
        }
        int nameStart = start + tag.length() + 1;
        int nameEnd = atomEnd(line, nameStart, end);
        if (nameEnd == nameStart) {
            throw new ImapParseException("Missing command name");
        }
        String name = upper(line, nameStart, nameEnd);
        int next = nameEnd;
        if (name.equals("UID") && next < end && line.getByte(next) == ' ') {
            int subEnd = atomEnd(line, next + 1, end);
            if (subEnd == next + 1) {
                throw new ImapParseException("Missing command name after UID");
            }
            name = "UID " + upper(line, next + 1, subEnd);
            next = subEnd;
        }
        if (next < end) {
            if (line.getByte(next) != ' ') {
                throw new ImapParseException("Invalid character in command name");
            }
            next++;
        }
        return new CommandHead(tag, name, next);
    }

    /** The index just before the line ending (CRLF or LF). */
    public static int textEnd(ByteBuf line) {
        int end = line.writerIndex();
        if (end > line.readerIndex() && line.getByte(end - 1) == '\n') {
            end--;
            if (end > line.readerIndex() && line.getByte(end - 1) == '\r') {
                end--;
            }
        }
        return end;
    }

    private static int atomEnd(ByteBuf line, int from, int end) {
        int i = from;
        while (i < end && i - from < MAX_NAME_LENGTH && ImapChars.isAtomChar(line.getByte(i))) {
            i++;
        }
        return i;
    }

    private static String upper(ByteBuf line, int from, int to) {
        return line.toString(from, to - from, StandardCharsets.US_ASCII).toUpperCase(Locale.ROOT);
    }
}
