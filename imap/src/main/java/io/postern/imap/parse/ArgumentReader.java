package io.postern.imap.parse;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads the arguments of one whole command as it came on the wire: its lines and, after each
 * {@code {n}} marker and line ending, the n bytes of literal data. Methods are named after the
 * RFC 9051 ABNF terms they read. Meant for the short commands Postern answers itself (LOGIN,
 * AUTHENTICATE, ID) whose size the session has already bounded; message data never comes here.
 */
public final class ArgumentReader {

    private final byte[] wire;
    private final int end;
    private int pos;

    /** Reads {@code wire} from {@code from}: the first argument byte, as {@link CommandHead#argumentsIndex()} gives it. */
    public ArgumentReader(byte[] wire, int from) {
        this.wire = wire;
        this.end = wire.length;
        this.pos = from;
    }

    /** At the end of the command: the final line ending, or no bytes left. */
    public boolean atEnd() {
        return pos >= end || (wire[pos] == '\r' ? pos + 2 == end && wire[pos + 1] == '\n' : wire[pos] == '\n' && pos + 1 == end);
    }

    /** Checks that nothing but the line ending follows. */
    public void end() throws ImapParseException {
        if (!atEnd()) {
            throw new ImapParseException("Unexpected characters at end of command");
        }
    }

    public void sp() throws ImapParseException {
        if (pos >= end || wire[pos] != ' ') {
            throw new ImapParseException("Expected a space");
        }
        pos++;
    }

    /** {@code true} when a space follows, which it consumes. */
    public boolean optionalSp() {
        if (pos < end && wire[pos] == ' ') {
            pos++;
            return true;
        }
        return false;
    }

    public String atom() throws ImapParseException {
        int start = pos;
        while (pos < end && ImapChars.isAtomChar(wire[pos])) {
            pos++;
        }
        if (pos == start) {
            throw new ImapParseException("Expected an atom");
        }
        return new String(wire, start, pos - start, StandardCharsets.US_ASCII);
    }

    /** astring = 1*ASTRING-CHAR / string; decoded as UTF-8 (invalid sequences become U+FFFD). */
    public String astring() throws ImapParseException {
        return new String(astringBytes(), StandardCharsets.UTF_8);
    }

    /**
     * astring, as the bytes it stands for (quoting and literal framing removed, nothing decoded):
     * for a password, which the backend compares byte for byte in whatever charset the client
     * used.
     */
    public byte[] astringBytes() throws ImapParseException {
        if (pos < end && (wire[pos] == '"' || wire[pos] == '{')) {
            return stringBytes();
        }
        int start = pos;
        while (pos < end && ImapChars.isAstringChar(wire[pos])) {
            pos++;
        }
        if (pos == start) {
            throw new ImapParseException("Expected an astring");
        }
        return Arrays.copyOfRange(wire, start, pos);
    }

    /** string = quoted / literal */
    public String string() throws ImapParseException {
        return new String(stringBytes(), StandardCharsets.UTF_8);
    }

    private byte[] stringBytes() throws ImapParseException {
        if (pos >= end) {
            throw new ImapParseException("Expected a string");
        }
        if (wire[pos] == '"') {
            return quoted();
        }
        if (wire[pos] == '{') {
            return literal();
        }
        throw new ImapParseException("Expected a string");
    }

    /** nstring = string / NIL */
    public String nstring() throws ImapParseException {
        if (isNil()) {
            pos += 3;
            return null;
        }
        return string();
    }

    /**
     * The parameter list of ID: {@code NIL} (an empty list) or {@code (string SP nstring ...)}.
     * Values that are NIL come back as {@code null}.
     */
    public List<String> idParams() throws ImapParseException {
        List<String> params = new ArrayList<>();
        if (isNil()) {
            pos += 3;
            return params;
        }
        if (pos >= end || wire[pos] != '(') {
            throw new ImapParseException("Expected NIL or a parameter list");
        }
        pos++;
        while (pos < end && wire[pos] != ')') {
            if (!params.isEmpty()) {
                sp();
            }
            params.add(string());
            sp();
            params.add(nstring());
        }
        if (pos >= end) {
            throw new ImapParseException("Unterminated parameter list");
        }
        pos++;
        return params;
    }

    /** A {@code sequence-set} ({@code 1:3,7,9:*}) or {@code $} (a saved search result). */
    public String sequenceSet() throws ImapParseException {
        int start = pos;
        while (pos < end && (wire[pos] >= '0' && wire[pos] <= '9' || wire[pos] == ':' || wire[pos] == ','
                || wire[pos] == '*' || wire[pos] == '$')) {
            pos++;
        }
        if (pos == start) {
            throw new ImapParseException("Expected a sequence set");
        }
        return new String(wire, start, pos - start, StandardCharsets.US_ASCII);
    }

    /** The rest of the command up to the line ending, as text (for a SASL initial response). */
    public String rest() {
        int start = pos;
        while (pos < end && wire[pos] != '\r' && wire[pos] != '\n') {
            pos++;
        }
        return new String(wire, start, pos - start, StandardCharsets.US_ASCII);
    }

    private boolean isNil() {
        return pos + 3 <= end
                && ImapChars.upper(wire[pos]) == 'N'
                && ImapChars.upper(wire[pos + 1]) == 'I'
                && ImapChars.upper(wire[pos + 2]) == 'L'
                && (pos + 3 == end || !ImapChars.isAstringChar(wire[pos + 3]));
    }

    /** quoted = DQUOTE *QUOTED-CHAR DQUOTE, with {@code \"} and {@code \\} escapes. */
    private byte[] quoted() throws ImapParseException {
        pos++;
        byte[] out = new byte[Math.max(0, end - pos)];
        int n = 0;
        while (pos < end) {
            byte b = wire[pos++];
            if (b == '"') {
                byte[] value = Arrays.copyOf(out, n);
                Arrays.fill(out, (byte) 0); // it may be a password
                return value;
            }
            if (b == '\\') {
                if (pos >= end || (wire[pos] != '"' && wire[pos] != '\\')) {
                    throw new ImapParseException("Invalid escape in quoted string");
                }
                b = wire[pos++];
            } else if (b == '\r' || b == '\n' || b == 0) {
                throw new ImapParseException("Invalid character in quoted string");
            }
            out[n++] = b;
        }
        throw new ImapParseException("Unterminated quoted string");
    }

    /** literal = "{" number ["+"] "}" CRLF *CHAR8 */
    private byte[] literal() throws ImapParseException {
        pos++;
        long size = 0;
        int digits = 0;
        while (pos < end && ImapChars.isDigit(wire[pos])) {
            size = size * 10 + (wire[pos++] - '0');
            if (++digits > 10) {
                throw new ImapParseException("Literal too large");
            }
        }
        if (digits == 0) {
            throw new ImapParseException("Invalid literal size");
        }
        if (pos < end && wire[pos] == '+') {
            pos++;
        }
        if (pos >= end || wire[pos] != '}') {
            throw new ImapParseException("Invalid literal marker");
        }
        pos++;
        if (pos < end && wire[pos] == '\r') {
            pos++;
        }
        if (pos >= end || wire[pos] != '\n') {
            throw new ImapParseException("Literal marker not at end of line");
        }
        pos++;
        if (size > end - pos) {
            throw new ImapParseException("Literal data missing");
        }
        byte[] value = Arrays.copyOfRange(wire, pos, pos + (int) size);
        pos += (int) size;
        return value;
    }
}
