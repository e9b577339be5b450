package io.postern.proxy.session;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import io.postern.imap.codec.ImapFrame;
import io.postern.imap.codec.ImapLine;
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
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One upload command (APPEND, MULTIAPPEND, CATENATE, REPLACE) of a session whose policies
 * inspect message content: Postern takes the whole command itself (its lines, and its literals
 * into {@link SpillBuffer}s: memory up to the inspectors' threshold, a temporary file beyond),
 * saying {@code +} to the client for each synchronizing literal; each message literal is fed to
 * its inspectors as it arrives. When every verdict is in, the command is either forwarded to the
 * backend with the same bytes (a synchronizing literal as {@code {n+}} when the backend takes
 * LITERAL+, otherwise after the backend's own {@code +}), or refused, and then the backend never
 * saw any of it.
 *
 * <pre>
 *   collecting -> inspecting -> forwarding (-> awaiting the backend's +) -> done
 *                          \-> refused
 * </pre>
 *
 * <p>Threading: the session's event loop only; verdicts that complete elsewhere are hopped back.
 */
final class ScannedUpload {

    private static final Logger log = LoggerFactory.getLogger(ScannedUpload.class);

    /** The commands that carry messages, and how many arguments come before the mailbox name. */
    static final Set<String> COMMANDS = Set.of("APPEND", "REPLACE", "UID REPLACE");

    /** The size of the pieces a held literal is written to the backend in. */
    private static final int WRITE_CHUNK = 64 * 1024;

    /** What the upload needs of its session. */
    interface Host {
        /** Postern's own {@code +} to the client's synchronizing literal. */
        void acceptLiteral();

        Channel backend();

        /** Every message passed: the command is at the backend now. */
        void uploadForwarded(ScannedUpload upload);

        /** One message's verdict, {@code nanos} after its literal ended: for the metrics. */
        void scanned(ContentVerdict verdict, long nanos);

        /** A message was refused: the backend saw nothing of the command. */
        void uploadRefused(ScannedUpload upload, ContentVerdict verdict);

        /** The literal bytes handed to the file work fell below {@link SpillIo#MAX_QUEUED}: the client may be read again. */
        void uploadDrained(ScannedUpload upload);
    }

    private enum Phase { COLLECTING, INSPECTING, FORWARDING, AWAITING_CONTINUATION, DONE }

    /** One literal of the command, held. */
    private final class Literal {
        final SpillBuffer data;
        final List<ContentInspector> inspectors;
        final boolean awaitContinuation;
        CompletableFuture<List<ContentVerdict>> verdicts;
        long endNanos;
        InputStream reading;
        long remaining;
        boolean continued;

        Literal(SpillBuffer data, List<ContentInspector> inspectors, boolean awaitContinuation, long size) {
            this.data = data;
            this.inspectors = new ArrayList<>(inspectors);
            this.awaitContinuation = awaitContinuation;
            this.remaining = size;
        }
    }

    private final String tag;
    private final String name;
    private final String sessionId;
    private final Host host;
    private final EventLoop loop;
    private final Supplier<List<ContentInspector>> inspectors;
    private final boolean backendLiteralPlus;
    private final boolean backendLiteralMinus;
    private final long startNanos = System.nanoTime();
    /** {@link ByteBuf} lines and {@link Literal}s, in wire order. */
    private final List<Object> segments = new ArrayList<>();
    private final byte[] scratch = new byte[8192];
    private Phase phase = Phase.COLLECTING;
    /** The file work of the held literals, off the event loop: holding, feeding the inspectors, reading back, deleting. */
    private final java.util.concurrent.Executor io = SpillIo.serial();
    /** Bytes handed to {@link #io} and not yet taken (event loop). */
    private long queued;
    /** A piece of the literal being forwarded, read back by {@link #io} (event loop). */
    private ByteBuf ready;
    private boolean readyIsLast;
    private boolean producing;
    private Literal current;
    private int next;
    /** Bytes of memory the held literals may still take before they spill to files. */
    private long memoryLeft = -1;

    ScannedUpload(String tag, String name, String sessionId, Host host, EventLoop loop,
            Supplier<List<ContentInspector>> inspectors, boolean backendLiteralPlus, boolean backendLiteralMinus) {
        this.tag = tag;
        this.name = name;
        this.sessionId = sessionId;
        this.host = host;
        this.loop = loop;
        this.inspectors = inspectors;
        this.backendLiteralPlus = backendLiteralPlus;
        this.backendLiteralMinus = backendLiteralMinus;
    }

    String tag() {
        return tag;
    }

    String name() {
        return name;
    }

    long startNanos() {
        return startNanos;
    }

    /** Frames of the command still come from the client: they go to {@link #take}. */
    boolean collecting() {
        return phase == Phase.COLLECTING;
    }

    /** The command is whole and waits for its verdicts or is being written: nothing more of the client's is handled. */
    boolean busy() {
        return phase != Phase.COLLECTING && phase != Phase.DONE;
    }

    /** So much of the command waits for the file work that the client is not read for now. */
    boolean backlogged() {
        return queued >= SpillIo.MAX_QUEUED;
    }

    boolean awaitingContinuation() {
        return phase == Phase.AWAITING_CONTINUATION;
    }

    /**
     * Whether the literal at the end of a command's first line is the mailbox name rather than a
     * message: {@code A1 APPEND {5}} (no argument before it), {@code A1 UID REPLACE 4 {5}} (one).
     */
    static boolean mailboxLiteral(String name, ByteBuf line, int argumentsIndex) {
        int end = CommandHead.textEnd(line);
        String args = argumentsIndex >= end ? "" : line.toString(argumentsIndex, end - argumentsIndex, StandardCharsets.ISO_8859_1);
        int brace = args.lastIndexOf('{');
        if (brace < 0) {
            return false;
        }
        String before = args.substring(0, brace).strip();
        if (before.endsWith("~")) {
            before = before.substring(0, before.length() - 1).strip();
        }
        int tokens = before.isEmpty() ? 0 : before.split(" +").length;
        return tokens == (name.equals("APPEND") ? 0 : 1);
    }

    /** The command's first line (owned from here on) with the literal it announces. */
    void begin(ByteBuf firstLine, LiteralAnnouncement literal, boolean mailbox) {
        line(firstLine, literal, !mailbox);
    }

    /** A frame of the command: literal data, or the line after a literal. */
    void take(ImapFrame frame) {
        if (frame instanceof LiteralChunk chunk) {
            Literal l = current;
            int n = chunk.content().readableBytes();
            if (chunk.last()) {
                current = null;
            }
            queued += n;
            io.execute(() -> {
                try {
                    literalData(l, chunk);
                } finally {
                    chunk.release();
                }
                loop.execute(() -> {
                    boolean wasBacklogged = backlogged();
                    queued -= n;
                    if (wasBacklogged && !backlogged() && phase == Phase.COLLECTING) {
                        host.uploadDrained(this);
                    }
                });
            });
            return;
        }
        ImapLine line = (ImapLine) frame;
        line(line.content(), line.literal(), true);
    }

    private void line(ByteBuf content, LiteralAnnouncement literal, boolean message) {
        if (literal == null) {
            segments.add(content);
            inspect();
            return;
        }
        boolean plus = literal.nonSynchronizing()
                || (!literal.binary() && (backendLiteralPlus || (backendLiteralMinus && literal.size() <= 4096)));
        if (literal.synchronizing() && plus) {
            // A1 APPEND INBOX {310}\r\n  ->  A1 APPEND INBOX {310+}\r\n: Postern said + itself
            int end = CommandHead.textEnd(content);
            ByteBuf rewritten = content.alloc().buffer(content.readableBytes() + 1);
            rewritten.writeBytes(content, content.readerIndex(), end - 1 - content.readerIndex());
            rewritten.writeByte('+').writeByte('}');
            rewritten.writeBytes(content, end, content.writerIndex() - end);
            content.release();
            content = rewritten;
        }
        segments.add(content);
        List<ContentInspector> forThis = message ? inspectors.get() : List.of();
        if (memoryLeft < 0) {
            memoryLeft = forThis.isEmpty() ? 64 * 1024 : forThis.get(0).memoryThreshold();
        }
        int threshold = (int) Math.min(memoryLeft, Math.min(literal.size(), Integer.MAX_VALUE));
        memoryLeft -= threshold;
        java.nio.file.Path temp = forThis.isEmpty() ? null : forThis.get(0).tempDirectory();
        current = new Literal(new SpillBuffer(threshold, literal.size(), temp), forThis, literal.synchronizing() && !plus,
                literal.size());
        segments.add(current);
        if (literal.synchronizing()) {
            host.acceptLiteral();
        }
    }

    /** On {@link #io}: holds a chunk of {@code l} and feeds it to its inspectors; after the last, asks for the verdicts. */
    private void literalData(Literal l, LiteralChunk chunk) {
        ByteBuf b = chunk.content();
        int at = b.readerIndex();
        int end = b.writerIndex();
        while (at < end) {
            int n = Math.min(scratch.length, end - at);
            b.getBytes(at, scratch, 0, n);
            at += n;
            try {
                l.data.write(scratch, 0, n);
            } catch (IOException e) {
                fail(l, e);
                return;
            }
            for (ContentInspector i : l.inspectors) {
                i.onData(ByteBuffer.wrap(scratch, 0, n).asReadOnlyBuffer());
            }
        }
        if (chunk.last()) {
            try {
                l.data.seal();
            } catch (IOException e) {
                fail(l, e);
                l.endNanos = System.nanoTime();
                return;
            }
            List<CompletableFuture<ContentVerdict>> each = new ArrayList<>(l.inspectors.size());
            for (ContentInspector i : l.inspectors) {
                CompletableFuture<ContentVerdict> f;
                try {
                    f = i.onEnd();
                } catch (RuntimeException e) {
                    f = CompletableFuture.failedFuture(e);
                }
                each.add(f);
            }
            l.endNanos = System.nanoTime();
            l.verdicts = CompletableFuture.allOf(each.toArray(new CompletableFuture<?>[0]))
                    .thenApply(done -> each.stream().map(CompletableFuture::join).toList());
        }
    }

    /** A held literal could not be kept (disk full): the command is refused once it is whole. */
    private void fail(Literal l, IOException e) {
        log.warn("[{}] an uploaded message could not be held: {}", sessionId, e.toString());
        if (l.verdicts == null) {
            l.verdicts = CompletableFuture.completedFuture(List.of(ContentVerdict.refuse("failed_closed", "UNAVAILABLE",
                    "The message could not be held for scanning; try again later.")));
        }
    }

    /** The command is whole: its verdicts are awaited. */
    private void inspect() {
        phase = Phase.INSPECTING;
        List<Literal> literals = new ArrayList<>();
        for (Object s : segments) {
            if (s instanceof Literal l) {
                literals.add(l);
            }
        }
        io.execute(() -> awaitVerdicts(literals)); // behind the file work of the last literal
    }

    /** On {@link #io}: every literal is held; the verdicts are awaited and carried out on the event loop. */
    private void awaitVerdicts(List<Literal> literals) {
        List<CompletableFuture<List<ContentVerdict>>> all = new ArrayList<>();
        for (Literal l : literals) {
            if (l.verdicts != null) {
                all.add(l.verdicts);
            }
        }
        CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0])).whenComplete((done, error) -> loop.execute(() -> {
            if (phase != Phase.INSPECTING) {
                return; // the session ended meanwhile
            }
            ContentVerdict refusal = null;
            if (error != null) {
                log.warn("[{}] an upload's inspection failed: {}", sessionId, error.toString());
                refusal = ContentVerdict.refuse("failed_closed", "UNAVAILABLE", "The message could not be scanned; try again later.");
            } else {
                for (Object s : segments) {
                    if (!(s instanceof Literal l) || l.verdicts == null) {
                        continue;
                    }
                    for (ContentVerdict v : l.verdicts.join()) {
                        host.scanned(v, System.nanoTime() - l.endNanos);
                        if (!v.passes() && refusal == null) {
                            refusal = v;
                        }
                    }
                }
            }
            closeInspectors();
            if (refusal != null) {
                phase = Phase.DONE;
                release();
                host.uploadRefused(this, refusal);
                return;
            }
            phase = Phase.FORWARDING;
            forward();
        }));
    }

    /**
     * Writes what is held to the backend, as far as it takes it now; goes on at {@link
     * #backendWritable()}. {@link #io} reads the literals back a piece at a time.
     */
    private void forward() {
        Channel backend = host.backend();
        while (phase == Phase.FORWARDING && next < segments.size()) {
            Object s = segments.get(next);
            if (s instanceof ByteBuf line) {
                segments.set(next++, null);
                backend.write(line);
                continue;
            }
            Literal l = (Literal) s;
            if (l.awaitContinuation && !l.continued) {
                phase = Phase.AWAITING_CONTINUATION;
                backend.flush();
                return;
            }
            if (ready != null) {
                if (!backend.isWritable()) {
                    backend.flush();
                    return; // backendWritable() goes on
                }
                ByteBuf piece = ready;
                ready = null;
                backend.write(piece);
                if (readyIsLast) {
                    next++;
                }
                continue;
            }
            if (!producing) {
                producing = true;
                io.execute(() -> produce(l, backend));
            }
            return; // the piece being read comes back through forward()
        }
        if (phase == Phase.FORWARDING) {
            backend.flush();
            phase = Phase.DONE;
            release();
            host.uploadForwarded(this);
        }
    }

    /** On {@link #io}: reads the next piece of {@code l}, then hands it to the event loop. */
    private void produce(Literal l, Channel backend) {
        ByteBuf piece = backend.alloc().buffer((int) Math.min(WRITE_CHUNK, l.remaining));
        try {
            if (l.reading == null) {
                l.reading = l.data.open();
            }
            int n = (int) Math.min(WRITE_CHUNK, l.remaining);
            if (n > 0) {
                int read = piece.writeBytes(l.reading, n);
                if (read <= 0) {
                    throw new IOException("a held literal ended " + l.remaining + " bytes early");
                }
                l.remaining -= read;
            }
            boolean last = l.remaining == 0;
            loop.execute(() -> {
                producing = false;
                if (phase != Phase.FORWARDING) {
                    piece.release(); // the session ended meanwhile
                    return;
                }
                ready = piece;
                readyIsLast = last;
                forward();
            });
        } catch (IOException | RuntimeException e) {
            piece.release();
            // the command is partly at the backend and cannot be completed: the session cannot go on
            log.warn("[{}] a held upload could not be read back: {}", sessionId, e.toString());
            loop.execute(() -> {
                if (phase == Phase.FORWARDING) {
                    phase = Phase.DONE;
                    release();
                    backend.close();
                }
            });
        }
    }

    /** The backend can take writes again. */
    void backendWritable() {
        if (phase == Phase.FORWARDING) {
            forward();
        }
    }

    /** The backend's {@code +} for the literal being waited on. */
    void continuation() {
        if (phase != Phase.AWAITING_CONTINUATION) {
            return;
        }
        ((Literal) segments.get(next)).continued = true;
        phase = Phase.FORWARDING;
        forward();
    }

    /** The backend answered the command instead of {@code +} (a missing mailbox): the rest is not sent. */
    void answeredEarly() {
        if (phase == Phase.AWAITING_CONTINUATION) {
            phase = Phase.DONE;
            release();
        }
    }

    /** The session ended, or the command broke off: everything held is released, temporary files deleted. */
    void close() {
        phase = Phase.DONE;
        closeInspectors();
        release();
    }

    /** Closes the inspectors on {@link #io}, after the file work queued there (they may delete files). */
    private void closeInspectors() {
        List<Literal> literals = new ArrayList<>();
        for (Object s : segments) {
            if (s instanceof Literal l) {
                literals.add(l);
            }
        }
        io.execute(() -> literals.forEach(l -> closeAll(l.inspectors, sessionId)));
    }

    /** Closes each inspector (a failure is logged, the others still closed) and empties the list. */
    static void closeAll(List<ContentInspector> inspectors, String sessionId) {
        for (ContentInspector i : inspectors) {
            try {
                i.close();
            } catch (RuntimeException e) {
                log.warn("[{}] an inspector failed to close: {}", sessionId, e.toString());
            }
        }
        inspectors.clear();
    }

    /** Releases the held lines (event loop) and, on {@link #io} after what is queued there, the literals' files. */
    private void release() {
        List<Literal> literals = new ArrayList<>();
        for (int i = 0; i < segments.size(); i++) {
            Object s = segments.get(i);
            segments.set(i, null);
            if (s instanceof ByteBuf b) {
                ReferenceCountUtil.release(b);
            } else if (s instanceof Literal l) {
                literals.add(l);
            }
        }
        if (ready != null) {
            ready.release();
            ready = null;
        }
        current = null;
        io.execute(() -> {
            for (Literal l : literals) {
                try {
                    if (l.reading != null) {
                        l.reading.close();
                    }
                    l.data.close();
                } catch (IOException e) {
                    log.warn("[{}] a held message's temporary file could not be deleted: {}", sessionId, e.toString());
                }
            }
        });
    }
}
