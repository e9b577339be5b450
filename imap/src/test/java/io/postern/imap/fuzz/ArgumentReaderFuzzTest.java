package io.postern.imap.fuzz;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.Unpooled;
import io.postern.imap.parse.ArgumentReader;
import io.postern.imap.parse.CommandHead;
import io.postern.imap.parse.ImapChars;
import io.postern.imap.parse.ImapParseException;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Coverage-guided fuzzing of {@link ArgumentReader}, two ways.
 *
 * <p>{@link #operations}: arbitrary bytes read with a fuzz-chosen sequence of reads. Input: byte 0
 * is where reading starts (modulo the wire's length + 1), bytes 1 to 8 the reads in turn (modulo
 * {@value #OPERATIONS}, in the order of {@link Op}), the rest the wire. Only
 * {@link ImapParseException} may be thrown (reading stops at the first, as a session does); an
 * atom is a non-empty run of atom characters; {@code rest} holds no CR or LF; after a passed
 * {@code end} the reader is at the end; an ID list has a name for every value; the input is never
 * written to.
 *
 * <p>{@link #roundTrip}: values written as the grammar allows (atom, quoted with escapes,
 * {@code {n}} and {@code {n+}} literals, NIL, ID lists) after a command head, then read back with
 * the matching method: the reader must give back exactly the values written, and end.
 */
class ArgumentReaderFuzzTest {

    enum Op {
        AT_END,
        END,
        SP,
        OPTIONAL_SP,
        ATOM,
        ASTRING,
        STRING,
        NSTRING,
        ID_PARAMS,
        REST
    }

    static final int OPERATIONS = 10;
    private static final Op[] OPS = Op.values();

    @FuzzTest(maxDuration = "5m")
    void operations(byte[] input) {
        byte[] h = Arrays.copyOf(input, 9);
        byte[] wire = input.length > h.length ? Arrays.copyOfRange(input, h.length, input.length) : new byte[0];
        byte[] original = wire.clone();
        ArgumentReader reader = new ArgumentReader(wire, (h[0] & 0xff) % (wire.length + 1));
        try {
            for (int i = 1; i < h.length; i++) {
                apply(reader, OPS[(h[i] & 0xff) % OPS.length]);
            }
        } catch (ImapParseException expected) {
            // the session answers BAD; nothing more is read
        }
        if (!Arrays.equals(wire, original)) {
            throw new AssertionError("the reader wrote to its input");
        }
    }

    private static void apply(ArgumentReader reader, Op op) throws ImapParseException {
        switch (op) {
            case AT_END -> expect(reader.atEnd() == reader.atEnd(), "atEnd() moved the reader");
            case END -> {
                reader.end();
                expect(reader.atEnd(), "end() passed, but the reader is not at the end");
            }
            case SP -> reader.sp();
            case OPTIONAL_SP -> reader.optionalSp();
            case ATOM -> {
                String atom = reader.atom();
                expect(!atom.isEmpty() && atom.chars().allMatch(ImapChars::isAtomChar), "atom: " + atom);
            }
            case ASTRING -> expect(reader.astring() != null, "astring() gave null");
            case STRING -> expect(reader.string() != null, "string() gave null");
            case NSTRING -> reader.nstring();
            case ID_PARAMS -> {
                List<String> params = reader.idParams();
                expect(params.size() % 2 == 0, "ID parameters with a name and no value: " + params.size());
                for (int i = 0; i < params.size(); i += 2) {
                    expect(params.get(i) != null, "an ID parameter whose name is NIL");
                }
            }
            case REST -> {
                String rest = reader.rest();
                expect(rest.indexOf('\r') < 0 && rest.indexOf('\n') < 0, "rest() with a CR or LF");
            }
            default -> throw new AssertionError(op);
        }
    }

    /** How a value is read back. */
    enum Kind {
        ASTRING,
        STRING,
        NSTRING,
        ID_PARAMS
    }

    /** How a value is written; a form the value cannot take falls back to the next. */
    enum Form {
        ATOM,
        QUOTED,
        LITERAL,
        NON_SYNC_LITERAL
    }

    record Written(Kind kind, Object value) {}

    @FuzzTest(maxDuration = "5m")
    void roundTrip(FuzzedDataProvider data) throws ImapParseException {
        ByteArrayOutputStream wire = new ByteArrayOutputStream();
        wire.writeBytes("a1 X".getBytes(US_ASCII));
        List<Written> written = new ArrayList<>();
        int n = data.consumeInt(1, 6);
        for (int i = 0; i < n; i++) {
            Kind kind = data.pickValue(Kind.values());
            wire.write(' ');
            Object value;
            if (kind == Kind.ID_PARAMS) {
                value = idParams(data, wire);
            } else {
                String s = kind == Kind.NSTRING && data.consumeBoolean() ? null : utf8(data.consumeString(40));
                write(kind, s, data.pickValue(Form.values()), data.consumeBoolean(), wire);
                value = s;
            }
            written.add(new Written(kind, value));
        }
        wire.writeBytes("\r\n".getBytes(US_ASCII));

        byte[] bytes = wire.toByteArray();
        ArgumentReader reader = new ArgumentReader(bytes, CommandHead.parse(Unpooled.wrappedBuffer(bytes)).argumentsIndex());
        for (int i = 0; i < written.size(); i++) {
            Written w = written.get(i);
            if (i > 0) {
                reader.sp();
            }
            Object read = switch (w.kind()) {
                case ASTRING -> reader.astring();
                case STRING -> reader.string();
                case NSTRING -> reader.nstring();
                case ID_PARAMS -> reader.idParams();
            };
            if (!Objects.equals(read, w.value())) {
                throw new AssertionError("argument " + (i + 1) + " as " + w.kind() + ": wrote " + w.value() + ", read "
                        + read + ", wire: " + ImapFrameDecoderFuzzTest.printable(new String(bytes, ISO_8859_1)));
            }
        }
        reader.end();
    }

    /** Writes an ID parameter list, or NIL for none; returns what idParams() should give. */
    private static List<String> idParams(FuzzedDataProvider data, ByteArrayOutputStream wire) {
        List<String> params = new ArrayList<>();
        int pairs = data.consumeInt(0, 3);
        if (pairs == 0 && data.consumeBoolean()) {
            wire.writeBytes("NIL".getBytes(US_ASCII));
            return params;
        }
        wire.write('(');
        for (int i = 0; i < pairs; i++) {
            if (i > 0) {
                wire.write(' ');
            }
            String name = utf8(data.consumeString(20));
            write(Kind.STRING, name, data.pickValue(Form.values()), false, wire);
            wire.write(' ');
            String value = data.consumeBoolean() ? null : utf8(data.consumeString(20));
            write(Kind.NSTRING, value, data.pickValue(Form.values()), data.consumeBoolean(), wire);
            params.add(name);
            params.add(value);
        }
        wire.write(')');
        return params;
    }

    private static void write(Kind kind, String value, Form form, boolean lowerNil, ByteArrayOutputStream wire) {
        if (value == null) {
            wire.writeBytes((lowerNil ? "nil" : "NIL").getBytes(US_ASCII));
            return;
        }
        byte[] bytes = value.getBytes(UTF_8);
        if (form == Form.ATOM && kind == Kind.ASTRING && !value.isEmpty()
                && value.chars().allMatch(ImapChars::isAstringChar)) {
            wire.writeBytes(bytes);
        } else if (form.compareTo(Form.QUOTED) <= 0 && value.chars().noneMatch(c -> c == '\r' || c == '\n' || c == 0)) {
            wire.write('"');
            for (byte b : bytes) {
                if (b == '"' || b == '\\') {
                    wire.write('\\');
                }
                wire.write(b);
            }
            wire.write('"');
        } else {
            String marker = "{" + bytes.length + (form == Form.NON_SYNC_LITERAL ? "+" : "") + "}\r\n";
            wire.writeBytes(marker.getBytes(US_ASCII));
            wire.writeBytes(bytes);
        }
    }

    /** The string as it comes back from UTF-8 (a lone surrogate becomes '?'). */
    private static String utf8(String s) {
        return new String(s.getBytes(UTF_8), UTF_8);
    }

    private static void expect(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }
}
