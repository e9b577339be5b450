package io.postern.policies.scan;

import io.postern.policies.mime.MimeDefect;
import io.postern.policies.mime.MimeHeaders;
import io.postern.policies.mime.MimeListener;
import io.postern.policies.mime.MimeParser;
import io.postern.policies.mime.MimeParserConfig;
import io.postern.policies.mime.MimePart;
import io.postern.policies.mime.SpillBuffer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Scans whole messages as they stream: a {@link MimeParser} splits the message, each leaf part's
 * decoded content is collected in a {@link SpillBuffer}, checked by the {@link ContentRuleChecker}
 * and, if the rules let it pass, sent to clamd. Thread-safe factory; each {@link Scan} is used by
 * one thread at a time.
 *
 * <p>Memory: each message's parts share {@code memoryBudget} bytes of in-memory content; a part
 * that does not fit goes to a temporary file from its first byte.
 */
public final class MessageScanner {

    private final MimeParserConfig mimeConfig;
    private final ContentRuleChecker rules;
    private final ClamdClient clamd;
    private final boolean blockMalformed;
    private final int memoryBudget;
    private final Path tempDirectory;

    /**
     * @param clamd the antivirus, or null for rules only
     * @param blockMalformed whether a MIME defect refuses the message ({@code mime} rule)
     * @param memoryBudget bytes of decoded content held in memory per message; the rest spills to files
     * @param tempDirectory where spilled content goes, or null for the JVM's temporary directory
     */
    public MessageScanner(MimeParserConfig mimeConfig, ContentRuleChecker rules, ClamdClient clamd,
            boolean blockMalformed, int memoryBudget, Path tempDirectory) {
        this.mimeConfig = Objects.requireNonNull(mimeConfig, "mimeConfig");
        this.rules = Objects.requireNonNull(rules, "rules");
        this.clamd = clamd;
        this.blockMalformed = blockMalformed;
        if (memoryBudget < 0) {
            throw new IllegalArgumentException("memoryBudget: " + memoryBudget + " (expected: >= 0)");
        }
        this.memoryBudget = memoryBudget;
        this.tempDirectory = tempDirectory;
    }

    /** Starts scanning one message; scanning stops at the first blocked part. */
    public Scan begin() {
        return new Scan(false);
    }

    /**
     * Starts scanning one message, every part of it even after one was blocked (to replace each
     * blocked part, {@link Scan#finishParts()}).
     */
    public Scan beginEveryPart() {
        return new Scan(true);
    }

    /** The verdict of one leaf part. */
    public record PartVerdict(MimePart part, ScanVerdict verdict) {}

    /**
     * The verdicts of one message: {@code message} for the message as a whole (malformed MIME, a
     * part that could not be kept), clean when nothing concerns the whole; {@code parts} in
     * document order.
     */
    public record Result(ScanVerdict message, List<PartVerdict> parts) {
        /** The first refusing verdict, else the first failure that let content pass, else clean. */
        public ScanVerdict combined() {
            List<ScanVerdict> all = new ArrayList<>();
            all.add(message);
            parts.forEach(p -> all.add(p.verdict()));
            return ScanVerdict.combine(all);
        }
    }

    /** The scan of one message: {@link #feed} its bytes, then {@link #finish()}; {@link #close()} in any case. */
    public final class Scan implements AutoCloseable, MimeListener {
        private final MimeParser parser = new MimeParser(mimeConfig, this);
        private final List<CompletableFuture<ScanVerdict>> verdicts = new ArrayList<>();
        /** The part each of {@link #verdicts} is about. */
        private final List<MimePart> verdictParts = new ArrayList<>();
        private final boolean everyPart;
        private final AtomicLong budget = new AtomicLong(memoryBudget);
        private SpillBuffer current;
        private int currentThreshold;
        private MimePart currentPart;
        private ScanVerdict malformed;
        private boolean blocked;
        private IOException failure;

        private Scan(boolean everyPart) {
            this.everyPart = everyPart;
        }

        public void feed(ByteBuffer chunk) {
            parser.feed(chunk);
        }

        public void feed(byte[] b, int off, int len) {
            parser.feed(b, off, len);
        }

        /** The parser, for the parts' offsets and the defects. */
        public MimeParser parser() {
            return parser;
        }

        /**
         * Ends the message; the future completes when every part has a verdict (clamd's timeout
         * bounds the wait) with the first refusing verdict, else clean (or fail-open).
         */
        public CompletableFuture<ScanVerdict> finish() {
            return finishParts().thenApply(Result::combined);
        }

        /** As {@link #finish()}, with each part's verdict. */
        public CompletableFuture<Result> finishParts() {
            parser.finish();
            List<ScanVerdict> whole = new ArrayList<>();
            if (failure != null) {
                whole.add(ScanVerdict.failed(false, "spill", "could not keep a part for scanning: " + failure.getMessage()));
            }
            if (malformed != null) {
                whole.add(malformed);
            }
            ScanVerdict message = ScanVerdict.combine(whole);
            List<CompletableFuture<ScanVerdict>> all = List.copyOf(verdicts);
            List<MimePart> parts = List.copyOf(verdictParts);
            return CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0])).thenApply(done -> {
                List<PartVerdict> out = new ArrayList<>(all.size());
                for (int i = 0; i < all.size(); i++) {
                    out.add(new PartVerdict(parts.get(i), all.get(i).join()));
                }
                return new Result(message, out);
            });
        }

        /** Deletes what is still held (a part being collected when the message was abandoned). */
        @Override
        public void close() throws IOException {
            if (current != null) {
                SpillBuffer b = current;
                current = null;
                IOException notDeleted = release(b, currentThreshold);
                if (notDeleted != null) {
                    throw notDeleted;
                }
            }
        }

        @Override
        public void partStarted(MimePart part, MimeHeaders headers) {
            if ((blocked && !everyPart) || !part.isLeaf()) {
                return; // containers: their leaves are scanned
            }
            long keep = rules.rules().maxAttachmentBytes() + 1;
            int threshold = (int) Math.min(budget.getAndAccumulate(keep, (left, want) -> left - Math.min(left, want)), keep);
            current = new SpillBuffer(threshold, keep, tempDirectory);
            currentThreshold = threshold;
            currentPart = part;
            if (part.isMultipart() || part.isMessage()) {
                // a container the parser did not descend into (too deep): with its header block in
                // front, clamd parses the rest as MIME itself
                StringBuilder head = new StringBuilder("MIME-Version: 1.0\r\n");
                for (MimeHeaders.Field f : headers.fields()) {
                    head.append(f.name()).append(": ").append(f.value()).append("\r\n");
                }
                byte[] bytes = head.append("\r\n").toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
                try {
                    current.write(bytes, 0, bytes.length);
                } catch (IOException e) {
                    drop(e);
                }
            }
        }

        @Override
        public void bodyChunk(MimePart part, ByteBuffer decoded) {
            if (current != null && part == currentPart) {
                try {
                    current.write(decoded);
                } catch (IOException e) {
                    drop(e);
                }
            }
        }

        @Override
        public void partEnded(MimePart part) {
            if (current == null || part != currentPart) {
                return;
            }
            SpillBuffer content = current;
            int threshold = currentThreshold;
            current = null;
            try {
                content.seal();
                ScanVerdict verdict = rules.check(part.filename(), part.mediaType(), content);
                if (!verdict.allows() || clamd == null) {
                    blocked |= !verdict.allows();
                    verdicts.add(CompletableFuture.completedFuture(verdict));
                    verdictParts.add(part);
                    keep(release(content, threshold));
                    return;
                }
                verdictParts.add(part);
                verdicts.add(clamd.scan(content).thenApply(v -> {
                    IOException notDeleted = release(content, threshold);
                    return notDeleted == null ? v : ScanVerdict.failed(false, "spill",
                            "could not delete a scanned part's temporary file: " + notDeleted.getMessage());
                }));
            } catch (IOException e) {
                keep(e);
                keep(release(content, threshold));
            }
        }

        @Override
        public void defect(MimeDefect defect) {
            if (blockMalformed && malformed == null) {
                malformed = ScanVerdict.blocked("mime", "the message is malformed MIME (" + defect.kind() + ")");
            }
        }

        private void drop(IOException e) {
            keep(e);
            keep(release(current, currentThreshold));
            current = null;
        }

        /** Records the first I/O failure: it becomes a fail-closed verdict in {@link #finish()}. */
        private void keep(IOException e) {
            if (e != null && failure == null) {
                failure = e;
            }
        }

        /** Gives the buffer's memory back and deletes its file; the failure to delete, if any. */
        private IOException release(SpillBuffer b, int threshold) {
            budget.addAndGet(threshold);
            try {
                b.close();
                return null;
            } catch (IOException e) {
                return e;
            }
        }
    }
}
