package io.postern.proxy.session;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.postern.imap.codec.LiteralAnnouncement;
import io.postern.imap.codec.LiteralChunk;
import io.postern.imap.parse.CommandHead;
import io.postern.policies.ContentInspector;
import io.postern.policies.ContentVerdict;
import io.postern.policies.mime.SpillBuffer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One FETCH body literal of a session whose policies inspect downloads: the response line that
 * announces it is held with the literal (memory up to the inspectors' threshold, a temporary
 * file beyond), the literal is fed to the inspectors as it arrives, and on the verdict the line
 * and literal go to the client as they came, with blocked parts replaced (the literal's size
 * recomputed), or with the item's value as {@code NIL} (refused).
 *
 * <pre>
 *   * 3 FETCH (UID 7 BODY[] {5120}\r\n  held: the prefix up to the size, the literal
 *   ...5120 bytes...                    held and inspected
 *   )\r\n                               relayed after the verdict, as every later backend frame
 * </pre>
 *
 * <p>Threading: the session's event loop only.
 */
final class ScannedDownload {

    private static final Logger log = LoggerFactory.getLogger(ScannedDownload.class);

    /**
     * The FETCH items whose literal is message content: {@code BODY[...]}, {@code BINARY[...]},
     * {@code RFC822}, {@code RFC822.TEXT}, maybe with an origin octet {@code <n>}; group 1 the
     * item name, group 2 the section, group 3 the origin.
     */
    private static final Pattern ITEM = Pattern.compile(
            "(?i)(BODY|BINARY|RFC822(?:\\.TEXT)?)(?:\\[([^\\]]*)\\])?(?:<(\\d+)>)? ?~?$");

    private static final int WRITE_CHUNK = 64 * 1024;

    /** What the download needs of its session. */
    interface Host {
        Channel client();

        /** One message's verdict, {@code nanos} after its literal ended: for the metrics. */
        void scanned(ContentVerdict verdict, long nanos);

        /** The verdict was carried out and the held response written: the session goes on with the backend. */
        void downloadWritten(ScannedDownload download);

        /** The literal's bytes handed to the file work fell below {@link SpillIo#MAX_QUEUED}: the backend may be read again. */
        void downloadDrained(ScannedDownload download);
    }

    /**
     * The part of the (maybe replaced) content the client asked for: bytes {@code origin} to
     * {@code origin + count} of it. {@code base} and {@code sectionSize}: the literal holds the
     * section's original bytes from {@code base} on (a window fetched because a known verdict
     * replaces parts), of {@code sectionSize} in all; {@code 0} and {@code -1} when it holds the
     * whole section.
     */
    record Slice(long origin, long count, long base, long sectionSize) {
        static Slice of(long origin, long count) {
            return new Slice(origin, count, 0, -1);
        }
    }

    /** What a literal holds, as far as scanning goes. */
    enum Kind {
        /** Not content: an ENVELOPE string, a header section. Streams as before. */
        NONE,
        /** The whole message: {@code BODY[]}, {@code RFC822}, {@code BINARY[]}. */
        MESSAGE,
        /** A section or a partial range: checked as one piece of content. */
        PART
    }

    /**
     * A FETCH item whose value is a literal: {@code name} in upper case ({@code BODY},
     * {@code BINARY}, {@code RFC822}, {@code RFC822.TEXT}), its section in upper case
     * ({@code null} for RFC822 items), its origin octet or -1.
     */
    record Item(String name, String section, long origin, Kind kind) {
        /** The whole section's name in a FETCH response, RFC822 items as their BODY equivalents: {@code BODY[2]}. */
        String key() {
            return switch (name) {
                case "RFC822" -> "BODY[]";
                case "RFC822.TEXT" -> "BODY[TEXT]";
                default -> name + "[" + section + "]";
            };
        }
    }

    /** What the literal at the end of {@code line} (a FETCH response's line) holds. */
    static Kind kind(ByteBuf line) {
        Item item = item(line);
        return item == null ? Kind.NONE : item.kind();
    }

    /** The item whose literal ends {@code line}, or {@code null} when that is no body item. */
    static Item item(ByteBuf line) {
        int end = CommandHead.textEnd(line);
        int brace = -1;
        for (int i = end - 1; i >= line.readerIndex(); i--) {
            if (line.getByte(i) == '{') {
                brace = i;
                break;
            }
        }
        if (brace < 0) {
            return null;
        }
        int from = Math.max(line.readerIndex(), brace - 512);
        String before = line.toString(from, brace - from, StandardCharsets.ISO_8859_1);
        Matcher m = ITEM.matcher(before);
        if (!m.find()) {
            return null;
        }
        String name = m.group(1).toUpperCase(java.util.Locale.ROOT);
        String section = m.group(2) == null ? null : m.group(2).toUpperCase(java.util.Locale.ROOT);
        if (name.equals("BODY") && m.group(2) == null) {
            return null; // BODY (a body structure), never a literal of its own
        }
        long origin;
        try {
            origin = m.group(3) == null ? -1 : Long.parseLong(m.group(3));
        } catch (NumberFormatException e) {
            origin = Long.MAX_VALUE;
        }
        String s = section == null ? "" : section;
        if (s.contains("HEADER") || s.endsWith("MIME")) {
            return new Item(name, section, origin, Kind.NONE); // headers are not scanned
        }
        boolean whole = s.isEmpty() && origin < 0 && !name.equals("RFC822.TEXT");
        return new Item(name, section, origin, whole ? Kind.MESSAGE : Kind.PART);
    }

    private enum Phase { COLLECTING, INSPECTING, WRITING, DONE }

    private final Host host;
    private final EventLoop loop;
    private final String sessionId;
    private final List<ContentInspector> inspectors;
    private final ByteBuf prefix;
    private final boolean binary;
    private final SpillBuffer data;
    private final byte[] scratch = new byte[8192];
    /** The file work of this literal, off the event loop: {@link #data}, the inspectors, reading back. */
    private final java.util.concurrent.Executor io;
    /** Bytes handed to {@link #io} and not yet taken (event loop). */
    private long queued;
    /** A piece of the literal read back by {@link #io}, waiting for the client to take writes (event loop). */
    private ByteBuf ready;
    private boolean readyIsLast;
    private boolean producing;
    private Phase phase = Phase.COLLECTING;
    private ContentVerdict verdict;
    private InputStream reading;
    /** Position in the original literal while writing. */
    private long position;
    private int nextReplacement;
    private boolean failed;
    /** A verdict remembered for this content: the inspectors are not asked. */
    private final ContentVerdict known;
    /** Told the inspectors' verdict (to remember it), or {@code null}. */
    private final java.util.function.BiConsumer<ContentVerdict, Long> remember;
    /** The range of the (maybe replaced) content the client gets: {@code [sliceFrom, sliceTo)} of it. */
    private final Slice slice;
    /** The original position of the held literal's next byte while writing: it starts at the slice's base. */
    private long streamAt;
    private long sliceFrom;
    private long sliceTo = Long.MAX_VALUE;
    /** Bytes of the (maybe replaced) content passed while writing: written, or skipped before the range. */
    private long out;

    /**
     * @param line the response line announcing the literal (owned from here on)
     */
    ScannedDownload(Host host, EventLoop loop, String sessionId, List<ContentInspector> inspectors, ByteBuf line,
            LiteralAnnouncement literal) {
        this(host, loop, sessionId, inspectors, line, literal, null, null, null, SpillIo.serial());
    }

    /**
     * @param known a verdict remembered for this content, or {@code null} to ask the inspectors
     * @param remember told the inspectors' verdict and the content's size, or {@code null}
     * @param slice the range of the content the client asked for (cut out of what a full fetch
     *     would give, the item named with its origin, {@code BODY[]<origin>}), or {@code null} for
     *     all of it
     * @param io where the file work runs, in order ({@link SpillIo#serial()})
     */
    ScannedDownload(Host host, EventLoop loop, String sessionId, List<ContentInspector> inspectors, ByteBuf line,
            LiteralAnnouncement literal, ContentVerdict known, java.util.function.BiConsumer<ContentVerdict, Long> remember,
            Slice slice, java.util.concurrent.Executor io) {
        this.io = io;
        this.known = known;
        this.remember = remember;
        this.slice = slice;
        this.streamAt = slice == null ? 0 : slice.base();
        this.host = host;
        this.loop = loop;
        this.sessionId = sessionId;
        this.inspectors = new ArrayList<>(inspectors);
        this.binary = literal.binary();
        int end = CommandHead.textEnd(line);
        int marker = end - 1;
        while (marker > line.readerIndex() && line.getByte(marker) != '{') {
            marker--;
        }
        if (binary && marker > line.readerIndex() && line.getByte(marker - 1) == '~') {
            marker--;
        }
        if (slice == null) {
            this.prefix = line.retainedSlice(line.readerIndex(), marker - line.readerIndex());
        } else {
            // * 3 FETCH (BODY[] <here: <origin>> {25000000}
            int bracket = marker - 1;
            while (bracket > line.readerIndex() && line.getByte(bracket) != ']') {
                bracket--;
            }
            int head = bracket + 1 - line.readerIndex();
            int rest = bracket + 1;
            if (rest < marker && line.getByte(rest) == '<') {
                // * 3 FETCH (BODY[]<8192> {4096}: a window's origin gives way to the client's
                while (rest < marker && line.getByte(rest) != '>') {
                    rest++;
                }
                rest++;
            }
            String origin = "<" + slice.origin() + ">";
            this.prefix = line.alloc().buffer(marker - line.readerIndex() + origin.length());
            prefix.writeBytes(line, line.readerIndex(), head);
            prefix.writeCharSequence(origin, StandardCharsets.US_ASCII);
            prefix.writeBytes(line, rest, marker - rest);
        }
        line.release();
        ContentInspector first = this.inspectors.get(0);
        this.data = new SpillBuffer(first.memoryThreshold(), literal.size(), first.tempDirectory());
    }

    boolean collecting() {
        return phase == Phase.COLLECTING;
    }

    /** The literal is whole and waits for its verdict or is being written: later backend frames wait. */
    boolean busy() {
        return phase == Phase.INSPECTING || phase == Phase.WRITING;
    }

    /** So much of the literal waits for the file work that the backend is not read for now. */
    boolean backlogged() {
        return queued >= SpillIo.MAX_QUEUED;
    }

    /** A chunk of the literal: held and fed to the inspectors by {@link #io}, in order. */
    void take(LiteralChunk chunk) {
        int n = chunk.content().readableBytes();
        boolean last = chunk.last();
        queued += n;
        if (last) {
            phase = Phase.INSPECTING; // later backend frames wait for the verdict
        }
        io.execute(() -> {
            try {
                absorb(chunk.content());
            } finally {
                chunk.release();
            }
            if (last) {
                inspect();
            }
            loop.execute(() -> {
                boolean wasBacklogged = backlogged();
                queued -= n;
                if (wasBacklogged && !backlogged() && phase == Phase.COLLECTING) {
                    host.downloadDrained(this);
                }
            });
        });
    }

    /** On {@link #io}: writes a chunk to {@link #data} and feeds it to the inspectors. */
    private void absorb(ByteBuf b) {
        int at = b.readerIndex();
        int end = b.writerIndex();
        while (at < end) {
            int n = Math.min(scratch.length, end - at);
            b.getBytes(at, scratch, 0, n);
            at += n;
            if (!failed) {
                try {
                    data.write(scratch, 0, n);
                } catch (IOException e) {
                    log.warn("[{}] a fetched message could not be held: {}", sessionId, e.toString());
                    failed = true;
                }
            }
            if (known == null) {
                for (ContentInspector i : inspectors) {
                    i.onData(ByteBuffer.wrap(scratch, 0, n).asReadOnlyBuffer());
                }
            }
        }
    }

    /** On {@link #io}, after the last chunk: the verdict is asked for, and carried out on the event loop. */
    private void inspect() {
        long endNanos = System.nanoTime();
        try {
            data.seal();
        } catch (IOException e) {
            failed = true;
        }
        boolean heldFailed = failed;
        if (known != null) {
            closeInspectors();
            loop.execute(() -> {
                if (phase != Phase.INSPECTING) {
                    return; // the session ended meanwhile
                }
                verdict = heldFailed ? ContentVerdict.refuse("failed_closed", "UNAVAILABLE", "the message could not be held") : known;
                startWriting();
            });
            return;
        }
        List<CompletableFuture<ContentVerdict>> each = new ArrayList<>();
        for (ContentInspector i : inspectors) {
            try {
                each.add(i.onEnd());
            } catch (RuntimeException e) {
                each.add(CompletableFuture.failedFuture(e));
            }
        }
        CompletableFuture.allOf(each.toArray(new CompletableFuture<?>[0])).whenComplete((done, error) -> loop.execute(() -> {
            if (phase != Phase.INSPECTING) {
                return; // the session ended meanwhile
            }
            io.execute(this::closeInspectors);
            verdict = combine(each, error);
            host.scanned(verdict, System.nanoTime() - endNanos);
            if (remember != null && !heldFailed && error == null) {
                remember.accept(verdict, data.size());
            }
            if (heldFailed) {
                verdict = ContentVerdict.refuse("failed_closed", "UNAVAILABLE", "the message could not be held for scanning");
            }
            if (verdict.kind() != ContentVerdict.Kind.PASS) {
                log.info("[{}] FETCH item {}: {}", sessionId,
                        verdict.kind() == ContentVerdict.Kind.REFUSE ? "refused" : "rewritten", verdict.reason());
            }
            startWriting();
        }));
    }

    private void startWriting() {
        phase = Phase.WRITING;
        writeHead();
        if (verdict.kind() == ContentVerdict.Kind.REFUSE) {
            finish();
            return;
        }
        write();
    }

    private ContentVerdict combine(List<CompletableFuture<ContentVerdict>> each, Throwable error) {
        if (error != null) {
            log.warn("[{}] a download's inspection failed: {}", sessionId, error.toString());
            return ContentVerdict.refuse("failed_closed", "UNAVAILABLE", "the message could not be scanned");
        }
        ContentVerdict replace = null;
        for (CompletableFuture<ContentVerdict> f : each) {
            ContentVerdict v = f.join();
            if (v.kind() == ContentVerdict.Kind.REFUSE) {
                return v;
            }
            if (v.kind() == ContentVerdict.Kind.REPLACE && replace == null) {
                replace = v; // one policy's replacements: a second one's would overlap
            }
        }
        return replace != null ? replace : each.isEmpty() ? ContentVerdict.pass("clean", null) : each.get(0).join();
    }

    /** The prefix and the new size (or NIL). */
    private void writeHead() {
        Channel client = host.client();
        ByteBuf head = client.alloc().buffer(prefix.readableBytes() + 24);
        head.writeBytes(prefix);
        prefix.release();
        if (verdict.kind() == ContentVerdict.Kind.REFUSE) {
            head.writeCharSequence("NIL", StandardCharsets.US_ASCII);
        } else {
            long total = total();
            long size = total;
            for (ContentVerdict.Replacement r : verdict.replacements()) {
                size += r.bytes().length - (Math.min(r.end(), total) - Math.min(r.start(), total));
            }
            if (slice != null) {
                sliceFrom = Math.min(slice.origin(), size);
                long to = slice.count() > Long.MAX_VALUE - slice.origin() ? Long.MAX_VALUE : slice.origin() + slice.count();
                sliceTo = Math.min(to, size);
                size = sliceTo - sliceFrom;
            }
            head.writeCharSequence((binary ? "~{" : "{") + size + "}\r\n", StandardCharsets.US_ASCII);
        }
        client.write(head);
    }

    /**
     * Writes the literal (replaced where the verdict says, cut to the range the client asked) as
     * far as the client takes it now; {@link #io} reads it back a piece at a time.
     */
    private void write() {
        Channel client = host.client();
        while (phase == Phase.WRITING) {
            if (ready != null) {
                if (!client.isWritable()) {
                    client.flush();
                    return; // clientWritable() goes on
                }
                ByteBuf piece = ready;
                ready = null;
                client.write(piece);
                if (readyIsLast) {
                    finish();
                    return;
                }
            }
            if (producing) {
                return; // the piece being read comes back through write()
            }
            producing = true;
            io.execute(this::produce);
        }
    }

    /** On {@link #io}: reads the next piece of what the client gets, then hands it to the event loop. */
    private void produce() {
        Channel client = host.client();
        List<ContentVerdict.Replacement> rs = verdict.replacements();
        ByteBuf piece = client.alloc().buffer(WRITE_CHUNK);
        try {
            if (reading == null) {
                reading = data.open();
            }
            long total = total();
            while (piece.readableBytes() < WRITE_CHUNK && position < total && out < sliceTo) {
                ContentVerdict.Replacement r = nextReplacement < rs.size() ? rs.get(nextReplacement) : null;
                if (r != null && position >= r.start()) {
                    writeWithin(piece, r.bytes());
                    advance(Math.min(r.end(), total) - position);
                    nextReplacement++;
                    continue;
                }
                long until = r != null ? r.start() : total;
                if (out < sliceFrom) {
                    // before the client's range: passed over, not read
                    long skip = Math.min(until - position, sliceFrom - out);
                    advance(skip);
                    out += skip;
                    continue;
                }
                if (position != streamAt) {
                    throw new IOException("the held window starts at " + streamAt + ", not at " + position);
                }
                int n = (int) Math.min(WRITE_CHUNK - piece.readableBytes(), Math.min(until - position, sliceTo - out));
                int read = piece.writeBytes(reading, n);
                if (read <= 0) {
                    throw new IOException("a held literal ended " + (total - position) + " bytes early");
                }
                position += read;
                streamAt += read;
                out += read;
            }
            boolean last = position >= total || out >= sliceTo;
            while (last && nextReplacement < rs.size() && out < sliceTo) {
                writeWithin(piece, rs.get(nextReplacement++).bytes()); // a part that ended at the very end of the message
            }
            loop.execute(() -> {
                producing = false;
                if (phase != Phase.WRITING) {
                    piece.release(); // the session ended meanwhile
                    return;
                }
                ready = piece;
                readyIsLast = last;
                write();
            });
        } catch (IOException | RuntimeException e) {
            piece.release();
            log.warn("[{}] a held FETCH literal could not be read back: {}", sessionId, e.toString());
            loop.execute(() -> {
                if (phase == Phase.WRITING) {
                    phase = Phase.DONE;
                    io.execute(this::release);
                    client.close(); // the client has the start of a literal that cannot be completed
                }
            });
        }
    }

    /** The held response is written: the file goes, and the session goes on. */
    private void finish() {
        phase = Phase.DONE;
        io.execute(this::release);
        host.downloadWritten(this);
    }

    /** The size of the whole section: the literal's, or the slice's when the literal is a window of it. */
    private long total() {
        return slice != null && slice.sectionSize() >= 0 ? slice.sectionSize() : data.size();
    }

    /** On {@link #io}: passes over {@code n} original bytes, skipping those of them the held literal has. */
    private void advance(long n) throws IOException {
        long to = position + n;
        long held = Math.min(to, (slice == null ? 0 : slice.base()) + data.size()); // a window ends before the section may
        if (held > streamAt) {
            reading.skipNBytes(held - streamAt);
            streamAt = held;
        }
        position = to;
    }

    /** Adds what of a replacement falls into the client's range to {@code piece}. */
    private void writeWithin(ByteBuf piece, byte[] bytes) {
        int from = (int) Math.max(0, Math.min(bytes.length, sliceFrom - out));
        int to = (int) Math.max(0, Math.min(bytes.length, sliceTo - out));
        if (to > from) {
            piece.writeBytes(bytes, from, to - from);
        }
        out += bytes.length;
    }

    /** The client can take writes again. */
    void clientWritable() {
        if (phase == Phase.WRITING) {
            write();
        }
    }

    /** The session ended: everything held is released, temporary files deleted. */
    void close() {
        if (phase == Phase.COLLECTING || phase == Phase.INSPECTING) {
            prefix.release();
        }
        if (ready != null) {
            ready.release();
            ready = null;
        }
        phase = Phase.DONE;
        io.execute(() -> { // after the file work already queued
            closeInspectors();
            release();
        });
    }

    private void closeInspectors() {
        ScannedUpload.closeAll(inspectors, sessionId);
    }

    private void release() {
        try {
            if (reading != null) {
                reading.close();
                reading = null;
            }
            data.close();
        } catch (IOException e) {
            log.warn("[{}] a held message's temporary file could not be deleted: {}", sessionId, e.toString());
        }
    }
}
