package io.postern.policies.mime;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The header block of one part (RFC 5322 2.2): fields in order, folded lines joined. Values are
 * kept as written (encoded words not decoded: use {@link HeaderValues}); a field's bytes are read
 * as UTF-8 (RFC 6532) when they are valid UTF-8, else as ISO-8859-1.
 */
public final class MimeHeaders {

    /** One header field; {@code value} unfolded, leading and trailing white space removed. */
    public record Field(String name, String value) {}

    private final List<Field> fields;

    private MimeHeaders(List<Field> fields) {
        this.fields = Collections.unmodifiableList(fields);
    }

    public List<Field> fields() {
        return fields;
    }

    /** The value of the first field with this name (case-insensitive). */
    public Optional<String> first(String name) {
        for (Field f : fields) {
            if (f.name.equalsIgnoreCase(name)) {
                return Optional.of(f.value);
            }
        }
        return Optional.empty();
    }

    /**
     * Parses a header block: {@code len} bytes of {@code buf}, with or without the blank line that
     * ends it. A line that is neither a field nor a continuation is reported to {@code malformed}
     * (with its offset in the block) and skipped.
     */
    static MimeHeaders parse(byte[] buf, int len, Consumer<Integer> malformed) {
        List<Field> fields = new ArrayList<>();
        int fieldStart = -1;
        int i = 0;
        while (i < len) {
            int lineEnd = i;
            while (lineEnd < len && buf[lineEnd] != '\n') {
                lineEnd++;
            }
            int next = lineEnd < len ? lineEnd + 1 : len;
            boolean blank = lineEnd == i || (lineEnd == i + 1 && buf[i] == '\r');
            if (blank) {
                break;
            }
            boolean continuation = buf[i] == ' ' || buf[i] == '\t';
            if (!continuation) {
                if (fieldStart >= 0) {
                    add(fields, buf, fieldStart, i);
                    fieldStart = -1;
                }
                if (colon(buf, i, lineEnd) > i) {
                    fieldStart = i;
                } else {
                    malformed.accept(i);
                }
            }
            i = next;
        }
        if (fieldStart >= 0) {
            add(fields, buf, fieldStart, i);
        }
        return new MimeHeaders(fields);
    }

    /** Index of the colon ending a field name on this line, or -1 (names are printable ASCII, RFC 5322 3.6.8). */
    private static int colon(byte[] buf, int from, int to) {
        for (int i = from; i < to; i++) {
            byte b = buf[i];
            if (b == ':') {
                return i;
            }
            if (b <= ' ' || b >= 127) {
                // white space before the colon is obsolete syntax (RFC 5322 4.5.8) still met in the wild
                if (b == ' ' || b == '\t') {
                    int j = i;
                    while (j < to && (buf[j] == ' ' || buf[j] == '\t')) {
                        j++;
                    }
                    return j < to && buf[j] == ':' ? j : -1;
                }
                return -1;
            }
        }
        return -1;
    }

    private static void add(List<Field> fields, byte[] buf, int from, int to) {
        int c = colon(buf, from, to);
        String name = new String(buf, from, c - from, StandardCharsets.US_ASCII).strip();
        StringBuilder value = new StringBuilder(to - c);
        String text = text(buf, c + 1, to - c - 1);
        // unfold: drop each line end (RFC 5322 2.2.3)
        for (int i = 0; i < text.length(); i++) {
            char ch = text.charAt(i);
            if (ch != '\r' && ch != '\n') {
                value.append(ch);
            }
        }
        fields.add(new Field(name, value.toString().strip()));
    }

    private static String text(byte[] buf, int from, int len) {
        boolean ascii = true;
        for (int i = from; i < from + len; i++) {
            if (buf[i] < 0) {
                ascii = false;
                break;
            }
        }
        if (ascii) {
            return new String(buf, from, len, StandardCharsets.US_ASCII);
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(buf, from, len))
                    .toString();
        } catch (CharacterCodingException notUtf8) {
            return new String(buf, from, len, StandardCharsets.ISO_8859_1);
        }
    }
}
