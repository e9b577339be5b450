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
    private final java.util.function.Consumer<ContentVerdict> remember;
    /** The range of the (maybe replaced) content the client gets: {@code [sliceFrom, sliceTo)} of it. */
    private final long sliceOrigin;
    private final long sliceCount;
    private long sliceFrom;
    private long sliceTo = Long.MAX_VALUE;
    /** Bytes of the (maybe replaced) content passed while writing: written, or skipped before the range. */
    private long out;

    /**
     * @param line the response line announcing the literal (owned from here on)
     */
    ScannedDownload(Host host, EventLoop loop, String sessionId, List<ContentInspector> inspectors, ByteBuf line,
            LiteralAnnouncement literal) {
        this(host, loop, sessionId, inspectors, line, literal, null, null, -1, 0);
    }

    /**
     * @param known a verdict remembered for this content, or {@code null} to ask the inspectors
     * @param remember told the inspectors' verdict, or {@code null}
     * @param sliceOrigin with {@code sliceCount}: the client asked for this range of the content
     *     (the literal is the whole section: the range is cut out of what a full fetch would give,
     *     and the item is named with its origin again, {@code BODY[]<origin>}); -1 for all of it
     */
    ScannedDownload(Host host, EventLoop loop, String sessionId, List<ContentInspector> inspectors, ByteBuf line,
            LiteralAnnouncement literal, ContentVerdict known, java.util.function.Consumer<ContentVerdict> remember,
            long sliceOrigin, long sliceCount) {
        this.known = known;
        this.remember = remember;
        this.sliceOrigin = sliceOrigin;
        this.sliceCount = sliceCount;
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
        if (sliceOrigin < 0) {
            this.prefix = line.retainedSlice(line.readerIndex(), marker - line.readerIndex());
        } else {
            // * 3 FETCH (BODY[] <here: <origin>> {25000000}
            int bracket = marker - 1;
            while (bracket > line.readerIndex() && line.getByte(bracket) != ']') {
                bracket--;
            }
            int head = bracket + 1 - line.readerIndex();
            String origin = "<" + sliceOrigin + ">";
            this.prefix = line.alloc().buffer(marker - line.readerIndex() + origin.length());
            prefix.writeBytes(line, line.readerIndex(), head);
            prefix.writeCharSequence(origin, StandardCharsets.US_ASCII);
            prefix.writeBytes(line, line.readerIndex() + head, marker - line.readerIndex() - head);
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

    /** A chunk of the literal. */
    void take(LiteralChunk chunk) {
        try {
            ByteBuf b = chunk.content();
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
            if (chunk.last()) {
                inspect();
            }
        } finally {
            chunk.release();
        }
    }

    private void inspect() {
        phase = Phase.INSPECTING;
        long endNanos = System.nanoTime();
        try {
            data.seal();
        } catch (IOException e) {
            failed = true;
        }
        if (known != null) {
            closeInspectors();
            loop.execute(() -> { // as after an inspection: the session goes on from its event loop, not from inside take()
                if (phase != Phase.INSPECTING) {
                    return;
                }
                verdict = failed ? ContentVerdict.refuse("failed_closed", "UNAVAILABLE", "the message could not be held") : known;
                phase = Phase.WRITING;
                writeHead();
                write();
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
            closeInspectors();
            verdict = combine(each, error);
            host.scanned(verdict, System.nanoTime() - endNanos);
            if (remember != null && !failed && error == null) {
                remember.accept(verdict);
            }
            if (failed) {
                verdict = ContentVerdict.refuse("failed_closed", "UNAVAILABLE", "the message could not be held for scanning");
            }
            if (verdict.kind() != ContentVerdict.Kind.PASS) {
                log.info("[{}] FETCH item {}: {}", sessionId,
                        verdict.kind() == ContentVerdict.Kind.REFUSE ? "refused" : "rewritten", verdict.reason());
            }
            phase = Phase.WRITING;
            writeHead();
            write();
        }));
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
            long size = data.size();
            for (ContentVerdict.Replacement r : verdict.replacements()) {
                size += r.bytes().length - (Math.min(r.end(), data.size()) - Math.min(r.start(), data.size()));
            }
            if (sliceOrigin >= 0) {
                sliceFrom = Math.min(sliceOrigin, size);
                sliceTo = Math.min(sliceCount > Long.MAX_VALUE - sliceOrigin ? Long.MAX_VALUE : sliceOrigin + sliceCount, size);
                size = sliceTo - sliceFrom;
            }
            head.writeCharSequence((binary ? "~{" : "{") + size + "}\r\n", StandardCharsets.US_ASCII);
        }
        client.write(head);
    }

    /**
     * Writes the literal (replaced where the verdict says, cut to the range the client asked) as
     * far as the client takes it now.
     */
    private void write() {
        Channel client = host.client();
        if (verdict.kind() != ContentVerdict.Kind.REFUSE) {
            List<ContentVerdict.Replacement> rs = verdict.replacements();
            try {
                if (reading == null) {
                    reading = data.open();
                }
                while (position < data.size() && out < sliceTo) {
                    if (!client.isWritable()) {
                        client.flush();
                        return; // clientWritable() goes on
                    }
                    ContentVerdict.Replacement r = nextReplacement < rs.size() ? rs.get(nextReplacement) : null;
                    if (r != null && position >= r.start()) {
                        writeWithin(client, r.bytes());
                        long skip = Math.min(r.end(), data.size()) - position;
                        reading.skipNBytes(skip);
                        position += skip;
                        nextReplacement++;
                        continue;
                    }
                    long until = r != null ? r.start() : data.size();
                    if (out < sliceFrom) {
                        // before the client's range: passed over, not read
                        long skip = Math.min(until - position, sliceFrom - out);
                        reading.skipNBytes(skip);
                        position += skip;
                        out += skip;
                        continue;
                    }
                    int n = (int) Math.min(WRITE_CHUNK, Math.min(until - position, sliceTo - out));
                    ByteBuf buf = client.alloc().buffer(n);
                    int read = buf.writeBytes(reading, n);
                    if (read <= 0) {
                        buf.release();
                        throw new IOException("a held literal ended " + (data.size() - position) + " bytes early");
                    }
                    position += read;
                    out += read;
                    client.write(buf);
                }
                while (nextReplacement < rs.size() && out < sliceTo) {
                    // a part that ended at the very end of the message
                    writeWithin(client, rs.get(nextReplacement++).bytes());
                }
            } catch (IOException e) {
                log.warn("[{}] a held FETCH literal could not be read back: {}", sessionId, e.toString());
                phase = Phase.DONE;
                release();
                client.close(); // the client has the start of a literal that cannot be completed
                return;
            }
        }
        phase = Phase.DONE;
        release();
        host.downloadWritten(this);
    }

    /** Writes what of a replacement falls into the client's range. */
    private void writeWithin(Channel client, byte[] bytes) {
        int from = (int) Math.max(0, Math.min(bytes.length, sliceFrom - out));
        int to = (int) Math.max(0, Math.min(bytes.length, sliceTo - out));
        if (to > from) {
            client.write(client.alloc().buffer(to - from).writeBytes(bytes, from, to - from));
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
        phase = Phase.DONE;
        closeInspectors();
        release();
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
