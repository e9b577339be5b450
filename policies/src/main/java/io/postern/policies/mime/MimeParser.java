package io.postern.policies.mime;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * An incremental MIME parser (RFC 5322, RFC 2045-2047, RFC 2231): feed it a message's bytes in
 * order, in chunks split anywhere, then call {@link #finish()}. It observes and never changes the
 * bytes; it reports each part to a {@link MimeListener} (headers parsed, decoded body bytes, end)
 * and records where each part lies in the message ({@link MimePart#headerStart()},
 * {@link MimePart#bodyStart()}, {@link MimePart#end()}).
 *
 * <p>Memory does not grow with the message: the parser keeps one header block (at most
 * {@link MimeParserConfig#maxHeaderBytes()}), the start of the current line, an output buffer of
 * {@value #OUTPUT_CHUNK} bytes and one small object per part (at most
 * {@link MimeParserConfig#maxParts()}); see {@link #retainedBytes()}. Body content is never held.
 *
 * <p>Malformed input never throws: it is recorded as a {@link MimeDefect} and the parser goes on
 * as a lenient mail reader would. The only exceptions are {@link IllegalStateException} for a
 * {@code feed} after {@link #finish()}, {@link NullPointerException} for a null buffer,
 * {@link IndexOutOfBoundsException} for a bad range, and whatever the listener throws.
 *
 * <p>Boundaries (RFC 2046 5.1.1): a line {@code "--" boundary} followed by nothing but white space
 * is a delimiter, one followed by {@code "--"} (and anything) a close delimiter; an outer
 * boundary also ends unclosed inner multiparts. A delimiter line longer than {@value #LINE_PREFIX}
 * bytes (boundaries over {@value #MAX_BOUNDARY} bytes, padding beyond) is not recognised. The
 * preamble and epilogue of a multipart are not passed on as content.
 *
 * <p>Not thread-safe: one parser per message, fed from one thread at a time.
 */
public final class MimeParser {

    /** The longest boundary parameter used (RFC 2046 allows 70); a longer one is {@link MimeDefect.Kind#MISSING_BOUNDARY}. */
    public static final int MAX_BOUNDARY = 200;
    /** Bytes of a line looked at for a boundary. */
    static final int LINE_PREFIX = 2 + MAX_BOUNDARY + 2 + 60;
    /** The size of the body chunks passed to the listener (the last of a part may be shorter). */
    public static final int OUTPUT_CHUNK = 8192;
    /** Defects kept in {@link #defects()}; more are still passed to the listener and counted. */
    public static final int MAX_DEFECTS_KEPT = 256;

    private static final int INITIAL_HEADER_BUFFER = 1024;
    private static final byte[] CRLF = {'\r', '\n'};

    private enum Mode {
        /** Reading a header block. */
        HEADERS,
        /** At the start of a body line that may be a boundary: collecting it in {@code line}. */
        LINE,
        /** In the rest of a body line that cannot be a boundary. */
        REST,
        /** In a body where no boundary can occur: everything is content. */
        DIRECT,
        /** After {@link MimeDefect.Kind#TOO_MANY_PARTS}: bytes are only counted. */
        SKIP
    }

    /** A multipart whose boundary is being looked for. */
    private static final class Frame {
        final MimePart part;
        final byte[] boundary;

        Frame(MimePart part, byte[] boundary) {
            this.part = part;
            this.boundary = boundary;
        }
    }

    private final MimeParserConfig config;
    private final MimeListener listener;
    private final List<MimePart> parts = new ArrayList<>();
    /** Open parts from the root to the current one. */
    private final List<MimePart> open = new ArrayList<>();
    private final List<Frame> frames = new ArrayList<>();
    private final List<MimeDefect> defects = new ArrayList<>();
    private int defectCount;

    private Mode mode = Mode.HEADERS;
    private long consumed;
    /** Message offset of index 0 of the array being fed. */
    private long chunkBase;
    private boolean finished;

    private byte[] header = new byte[INITIAL_HEADER_BUFFER];
    private int headerLen;
    /** Where the current line starts in {@link #header}. */
    private int headerLineStart;

    private final byte[] line = new byte[LINE_PREFIX];
    private int lineLen;
    private long lineStartPos;

    /** A line end (1 or 2 bytes) seen but not yet passed on: it belongs to a boundary if one follows. */
    private int pendingEol;
    private long pendingEolPos;
    /** A CR at the end of a fed chunk in {@link Mode#REST}, not yet known to start a line end. */
    private boolean heldCr;
    private long heldCrPos;

    /** The decoder of the current leaf, or null where content is ignored (preamble, epilogue). */
    private BodyDecoder decoder;
    private MimePart decoding;
    private final byte[] output = new byte[OUTPUT_CHUNK];
    private int outputLen;
    private final BodyDecoder.Output sink = new BodyDecoder.Output() {
        @Override
        public void write(int b) {
            if (outputLen == OUTPUT_CHUNK) {
                flushOutput();
            }
            output[outputLen++] = (byte) b;
        }

        @Override
        public void write(byte[] b, int off, int len) {
            while (len > 0) {
                if (outputLen == OUTPUT_CHUNK) {
                    flushOutput();
                }
                int n = Math.min(len, OUTPUT_CHUNK - outputLen);
                System.arraycopy(b, off, output, outputLen, n);
                outputLen += n;
                off += n;
                len -= n;
            }
        }

        @Override
        public void defect(MimeDefect.Kind kind, long offset, String detail) {
            MimeParser.this.defect(kind, offset, decoding, detail);
        }
    };

    public MimeParser(MimeParserConfig config, MimeListener listener) {
        this.config = Objects.requireNonNull(config, "config");
        this.listener = Objects.requireNonNull(listener, "listener");
        MimePart root = new MimePart(0, null, "", 0);
        parts.add(root);
        open.add(root);
    }

    /** Feeds the next bytes of the message: the buffer's remaining bytes, position moved to its limit. */
    public void feed(ByteBuffer chunk) {
        if (chunk.hasArray()) {
            feed(chunk.array(), chunk.arrayOffset() + chunk.position(), chunk.remaining());
            chunk.position(chunk.limit());
            return;
        }
        byte[] copy = new byte[Math.min(chunk.remaining(), OUTPUT_CHUNK)];
        while (chunk.hasRemaining()) {
            int n = Math.min(copy.length, chunk.remaining());
            chunk.get(copy, 0, n);
            feed(copy, 0, n);
        }
    }

    /** Feeds the next bytes of the message. */
    public void feed(byte[] b) {
        feed(b, 0, b.length);
    }

    /** Feeds the next bytes of the message: {@code len} bytes of {@code b} from {@code off}. */
    public void feed(byte[] b, int off, int len) {
        Objects.checkFromIndexSize(off, len, b.length);
        if (finished) {
            throw new IllegalStateException("feed after finish");
        }
        chunkBase = consumed - off;
        int end = off + len;
        int i = off;
        while (i < end) {
            switch (mode) {
                case HEADERS:
                    i = headers(b, i, end);
                    break;
                case LINE:
                    i = lineStart(b, i, end);
                    break;
                case REST:
                    i = rest(b, i, end);
                    break;
                case DIRECT:
                    content(b, i, end - i, chunkBase + i);
                    i = end;
                    break;
                default: // SKIP
                    i = end;
                    break;
            }
        }
        consumed += len;
    }

    /**
     * Ends the message: a last line without a line end is taken as it is, unclosed parts end here
     * (with defects where that is malformed). Calling it again does nothing.
     */
    public void finish() {
        if (finished) {
            return;
        }
        finished = true;
        long end = consumed;
        if (mode == Mode.LINE && lineLen > 0) {
            Match m = match(line, stripEol(line, lineLen));
            if (m != null) {
                long partEnd = pendingEol > 0 ? pendingEolPos : lineStartPos;
                pendingEol = 0;
                lineLen = 0;
                delimiter(m, partEnd, end, 0);
            } else {
                flushLine();
            }
        } else if (mode == Mode.REST && heldCr) {
            heldCr = false;
            content(CRLF, 0, 1, heldCrPos);
        }
        emitPendingEol();
        for (int guard = 0; mode == Mode.HEADERS && guard <= config.maxDepth() + 1; guard++) {
            MimePart current = current();
            if (headerLen > 0 || current.index() != 0) {
                boolean endsWithLine = headerLen > 0 && header[headerLen - 1] == '\n';
                if (!(current.index() == 0 && endsWithLine)) {
                    defect(MimeDefect.Kind.MISSING_HEADER_END, end, current, "the message ends inside a header block");
                }
            }
            endHeaders(end, false);
        }
        while (!frames.isEmpty()) {
            Frame f = frames.remove(frames.size() - 1);
            if (mode != Mode.SKIP) { // after TOO_MANY_PARTS nothing more is looked at
                unclosed(f, end);
            }
        }
        while (!open.isEmpty()) {
            endPart(open.remove(open.size() - 1), end);
        }
        mode = Mode.SKIP;
    }

    /** Every part so far, in document order (the root first). */
    public List<MimePart> parts() {
        return Collections.unmodifiableList(parts);
    }

    /** The defects so far (the first {@value #MAX_DEFECTS_KEPT}). */
    public List<MimeDefect> defects() {
        return Collections.unmodifiableList(defects);
    }

    /** How many defects were found, including those not kept in {@link #defects()}. */
    public int defectCount() {
        return defectCount;
    }

    /** Bytes fed so far. */
    public long consumed() {
        return consumed;
    }

    public boolean finished() {
        return finished;
    }

    /**
     * An upper estimate of the bytes this parser keeps: its buffers plus the part and defect
     * records. Bounded by the configuration, whatever the size of the message.
     */
    public long retainedBytes() {
        long n = header.length + line.length + output.length + (decoder == null ? 0 : BodyDecoder.SCRATCH) + 256L;
        for (MimePart p : parts) {
            n += p.retainedBytes();
        }
        for (MimeDefect d : defects) {
            n += 64 + 2L * d.detail().length();
        }
        return n + 16L * (open.size() + frames.size());
    }

    /** The largest {@link #retainedBytes()} any message can reach under {@code config}. */
    public static long retainedBytesBound(MimeParserConfig config) {
        long perPart = 96 + 2L * (64 + 2 * MimePart.MAX_PARAMETER_CHARS
                + MimePart.MAX_PARAMETERS * (HeaderValues.MAX_PARAMETER_NAME + MimePart.MAX_PARAMETER_CHARS + 32L));
        return config.maxHeaderBytes() + (long) LINE_PREFIX + OUTPUT_CHUNK + BodyDecoder.SCRATCH + 256L
                + config.maxParts() * (perPart + 32L)
                + MAX_DEFECTS_KEPT * (64 + 2L * 128);
    }

    // ---------------------------------------------------------------- header blocks

    private int headers(byte[] b, int i, int end) {
        while (i < end) {
            byte c = b[i];
            long pos = chunkBase + i;
            if (headerLen == config.maxHeaderBytes()) {
                MimePart current = current();
                defect(MimeDefect.Kind.HEADER_TOO_LONG, pos, current,
                        "a header block longer than " + config.maxHeaderBytes() + " bytes");
                headerLen = headerLineStart; // the unfinished line is not a header
                boolean atLineStart = lineLen == 0;
                lineLen = 0;
                endHeaders(pos, atLineStart);
                return i;
            }
            if (headerLen == header.length) {
                header = java.util.Arrays.copyOf(header, (int) Math.min((long) header.length * 2, config.maxHeaderBytes()));
            }
            header[headerLen++] = c;
            if (lineLen < LINE_PREFIX) {
                line[lineLen++] = c;
            }
            i++;
            if (c != '\n') {
                continue;
            }
            int lineBytes = headerLen - headerLineStart;
            if (lineBytes == 1 || (lineBytes == 2 && header[headerLineStart] == '\r')) {
                lineLen = 0;
                endHeaders(pos + 1, true);
                return i;
            }
            if (!frames.isEmpty() && lineBytes <= LINE_PREFIX) {
                int contentLen = stripEol(line, lineLen);
                Match m = match(line, contentLen);
                if (m != null) {
                    long lineStart = pos + 1 - lineBytes;
                    defect(MimeDefect.Kind.MISSING_HEADER_END, lineStart, current(), "a boundary inside a header block");
                    headerLen = headerLineStart;
                    lineLen = 0;
                    endHeaders(lineStart, true);
                    delimiter(m, lineStart, pos + 1, lineBytes - contentLen);
                    return i;
                }
            }
            headerLineStart = headerLen;
            lineLen = 0;
        }
        return i;
    }

    private static int stripEol(byte[] b, int len) {
        if (len > 0 && b[len - 1] == '\n') {
            len--;
        }
        if (len > 0 && b[len - 1] == '\r') {
            len--;
        }
        return len;
    }

    /**
     * The current part's header block is complete (in {@link #header}); its body starts at
     * {@code bodyStart}. Decides what the body is and sets the mode for it.
     */
    private void endHeaders(long bodyStart, boolean atLineStart) {
        MimePart part = current();
        MimeHeaders headers = MimeHeaders.parse(header, headerLen, at ->
                defect(MimeDefect.Kind.MALFORMED_HEADER, part.headerStart() + at, part, "a header line without a field name"));
        MimePart parent = part.parentIndex() < 0 ? null : parts.get(part.parentIndex());
        boolean digestChild = parent != null && parent.mediaType().equals("multipart/digest");
        part.applyHeaders(headers, digestChild);
        part.bodyStart(bodyStart);
        headerLen = 0;
        headerLineStart = 0;
        if (header.length > 64 * 1024) {
            header = new byte[INITIAL_HEADER_BUFFER];
        }
        boolean container = part.isMultipart() || (part.isMessage() && identity(part.transferEncoding()));
        if (container && part.depth() >= config.maxDepth()) {
            defect(MimeDefect.Kind.NESTING_TOO_DEEP, bodyStart, part, "nesting deeper than " + config.maxDepth());
            container = false;
        }
        byte[] boundary = null;
        if (container && part.isMultipart()) {
            String value = part.contentTypeParameters().get("boundary");
            byte[] bytes = value == null ? null : value.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            if (bytes == null || bytes.length == 0 || bytes.length > MAX_BOUNDARY) {
                defect(MimeDefect.Kind.MISSING_BOUNDARY, bodyStart, part,
                        bytes == null || bytes.length == 0 ? "a multipart without a boundary" : "a boundary longer than " + MAX_BOUNDARY + " bytes");
                container = false;
            } else {
                boundary = bytes;
            }
        }
        part.leaf(!container);
        listener.partStarted(part, headers);
        if (boundary != null) {
            frames.add(new Frame(part, boundary));
            decoder = null;
            decoding = null;
            mode = atLineStart ? Mode.LINE : Mode.REST;
            lineStartPos = bodyStart;
            return;
        }
        if (container) { // message/rfc822: the body is a message
            MimePart child = newPart(part, part.section(), bodyStart);
            if (child != null) {
                mode = Mode.HEADERS;
                lineStartPos = bodyStart;
            }
            return;
        }
        decoder = BodyDecoder.forEncoding(part.transferEncoding(), sink);
        if (decoder == null) {
            defect(MimeDefect.Kind.UNKNOWN_TRANSFER_ENCODING, bodyStart, part,
                    "Content-Transfer-Encoding " + abbreviate(part.transferEncoding()) + " passed on undecoded");
            decoder = new BodyDecoder.Identity(sink);
        }
        decoding = part;
        if (frames.isEmpty()) {
            mode = Mode.DIRECT;
        } else {
            mode = atLineStart ? Mode.LINE : Mode.REST;
            lineStartPos = bodyStart;
        }
    }

    private static boolean identity(String encoding) {
        return encoding.equals("7bit") || encoding.equals("8bit") || encoding.equals("binary");
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }

    /** A new part under {@code parent}, opened; null (and parsing stopped) past the part limit. */
    private MimePart newPart(MimePart parent, String section, long headerStart) {
        if (parts.size() >= config.maxParts()) {
            defect(MimeDefect.Kind.TOO_MANY_PARTS, headerStart, parent, "more than " + config.maxParts() + " parts");
            mode = Mode.SKIP;
            decoder = null;
            decoding = null;
            pendingEol = 0;
            heldCr = false;
            return null;
        }
        MimePart part = new MimePart(parts.size(), parent, section, headerStart);
        parts.add(part);
        open.add(part);
        return part;
    }

    private MimePart current() {
        return open.get(open.size() - 1);
    }

    // ---------------------------------------------------------------- bodies

    private int lineStart(byte[] b, int i, int end) {
        while (i < end) {
            byte c = b[i];
            if (c == '\n') {
                long pos = chunkBase + i;
                bodyLineEnd(pos);
                return i + 1;
            }
            if ((lineLen == 0 && c != '-') || (lineLen == 1 && c != '-') || lineLen == LINE_PREFIX) {
                flushLine();
                mode = Mode.REST;
                return i;
            }
            line[lineLen++] = c;
            i++;
        }
        return i;
    }

    /** A line end at {@code pos} ({@code '\n'}) after a line short enough to be a boundary. */
    private void bodyLineEnd(long pos) {
        int contentLen = lineLen > 0 && line[lineLen - 1] == '\r' ? lineLen - 1 : lineLen;
        Match m = match(line, contentLen);
        if (m != null) {
            long partEnd = pendingEol > 0 ? pendingEolPos : lineStartPos;
            int eolLen = lineLen - contentLen + 1;
            pendingEol = 0;
            lineLen = 0;
            delimiter(m, partEnd, pos + 1, eolLen);
            return;
        }
        emitPendingEol();
        content(line, 0, contentLen, lineStartPos);
        pendingEol = lineLen - contentLen + 1;
        pendingEolPos = lineStartPos + contentLen;
        lineLen = 0;
        lineStartPos = pos + 1;
    }

    /** The collected line start is not a boundary: pass it on, holding back a last CR. */
    private void flushLine() {
        emitPendingEol();
        int n = lineLen;
        if (n > 0 && line[n - 1] == '\r') {
            n--;
            heldCr = true;
            heldCrPos = lineStartPos + n;
        }
        content(line, 0, n, lineStartPos);
        lineLen = 0;
    }

    private int rest(byte[] b, int i, int end) {
        if (heldCr) {
            heldCr = false;
            if (b[i] == '\n') {
                pendingEol = 2;
                pendingEolPos = heldCrPos;
                lineStartPos = chunkBase + i + 1;
                mode = Mode.LINE;
                return i + 1;
            }
            content(CRLF, 0, 1, heldCrPos);
        }
        int j = i;
        while (j < end && b[j] != '\n') {
            j++;
        }
        if (j < end) {
            int contentEnd = j > i && b[j - 1] == '\r' ? j - 1 : j;
            content(b, i, contentEnd - i, chunkBase + i);
            pendingEol = j - contentEnd + 1;
            pendingEolPos = chunkBase + contentEnd;
            lineStartPos = chunkBase + j + 1;
            mode = Mode.LINE;
            return j + 1;
        }
        if (b[end - 1] == '\r') {
            content(b, i, end - 1 - i, chunkBase + i);
            heldCr = true;
            heldCrPos = chunkBase + end - 1;
        } else {
            content(b, i, end - i, chunkBase + i);
        }
        return end;
    }

    private void emitPendingEol() {
        if (pendingEol > 0) {
            content(CRLF, 2 - pendingEol, pendingEol, pendingEolPos);
            pendingEol = 0;
        }
    }

    private void content(byte[] b, int off, int len, long pos) {
        if (decoder != null && len > 0) {
            decoder.decode(b, off, len, pos);
        }
    }

    private void flushOutput() {
        if (outputLen > 0) {
            decoding.addDecoded(outputLen);
            ByteBuffer chunk = ByteBuffer.wrap(output, 0, outputLen).asReadOnlyBuffer();
            outputLen = 0;
            listener.bodyChunk(decoding, chunk);
        }
    }

    // ---------------------------------------------------------------- boundaries

    private record Match(int frame, boolean close) {}

    /** The innermost open multipart whose delimiter this line is, or null. */
    private Match match(byte[] b, int len) {
        if (len < 3 || b[0] != '-' || b[1] != '-') {
            return null;
        }
        for (int f = frames.size() - 1; f >= 0; f--) {
            byte[] boundary = frames.get(f).boundary;
            int after = 2 + boundary.length;
            if (len < after || !java.util.Arrays.equals(b, 2, after, boundary, 0, boundary.length)) {
                continue;
            }
            if (len >= after + 2 && b[after] == '-' && b[after + 1] == '-') {
                return new Match(f, true);
            }
            boolean padding = true;
            for (int k = after; k < len && padding; k++) {
                padding = b[k] == ' ' || b[k] == '\t';
            }
            if (padding) {
                return new Match(f, false);
            }
        }
        return null;
    }

    /**
     * A delimiter line of {@code frames[m.frame]}: the parts inside it end at {@code partEnd}; a
     * new part starts at {@code nextLine} unless it is the close delimiter.
     */
    private void delimiter(Match m, long partEnd, long nextLine, int eolLen) {
        while (frames.size() - 1 > m.frame) {
            unclosed(frames.remove(frames.size() - 1), partEnd);
        }
        Frame f = frames.get(m.frame);
        while (current() != f.part) {
            endPart(open.remove(open.size() - 1), partEnd);
        }
        decoder = null;
        decoding = null;
        heldCr = false;
        lineStartPos = nextLine;
        if (m.close) {
            // the close delimiter's line end may be the start of an outer delimiter (RFC 2046 5.1.1)
            pendingEol = eolLen;
            pendingEolPos = nextLine - eolLen;
            frames.remove(m.frame);
            if (f.part.children() == 0) {
                defect(MimeDefect.Kind.BOUNDARY_NEVER_FOUND, partEnd, f.part, "a close delimiter before any part");
            }
            mode = frames.isEmpty() ? Mode.DIRECT : Mode.LINE;
            return;
        }
        int n = f.part.children() + 1;
        MimePart child = newPart(f.part, f.part.section().isEmpty() ? Integer.toString(n) : f.part.section() + "." + n, nextLine);
        if (child != null) {
            f.part.nextChild();
            mode = Mode.HEADERS;
            lineLen = 0;
        }
    }

    private void unclosed(Frame f, long at) {
        if (f.part.children() == 0) {
            defect(MimeDefect.Kind.BOUNDARY_NEVER_FOUND, at, f.part, "the boundary of a multipart never appears");
        } else {
            defect(MimeDefect.Kind.MISSING_CLOSE_DELIMITER, at, f.part, "a multipart without its close delimiter");
        }
    }

    private void endPart(MimePart part, long end) {
        if (part.bodyStart() < 0) {
            // the message of a message/rfc822 part whose own header block was cut by a boundary
            defect(MimeDefect.Kind.MISSING_HEADER_END, end, part, "a part that ends before its header block does");
            part.bodyStart(end);
            part.leaf(true);
            headerLen = 0;
            headerLineStart = 0;
            listener.partStarted(part, MimeHeaders.parse(header, 0, at -> { }));
        }
        if (part == decoding) {
            decoder.finish(end);
            flushOutput();
            decoder = null;
            decoding = null;
        }
        part.end(end);
        listener.partEnded(part);
    }

    private void defect(MimeDefect.Kind kind, long offset, MimePart part, String detail) {
        MimeDefect d = new MimeDefect(kind, offset, part == null ? 0 : part.index(), detail);
        defectCount++;
        if (defects.size() < MAX_DEFECTS_KEPT) {
            defects.add(d);
        }
        listener.defect(d);
    }
}
