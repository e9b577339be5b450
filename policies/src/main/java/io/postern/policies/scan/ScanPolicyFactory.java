package io.postern.policies.scan;

import io.postern.policies.ContentDirection;
import io.postern.policies.ContentInspector;
import io.postern.policies.ContentVerdict;
import io.postern.policies.Policy;
import io.postern.policies.PolicyConfigException;
import io.postern.policies.PolicyFactory;
import io.postern.policies.PolicySettings;
import io.postern.policies.mime.MimeParserConfig;
import io.postern.policies.mime.MimePart;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code scan} policy: the message content of the users it is selected for is checked by
 * the content rules and clamd, on upload (APPEND) and download (FETCH). See the README's
 * "Scanning" section.
 *
 * <pre>{@code
 * scan:
 *   rules: { blocked_extensions: [exe, js], max_attachment_size: 25MiB, sha256_deny: [...] }
 *   clamd: { address: unix:/run/clamav/clamd.ctl, timeout: 10s, on_failure: fail-closed }
 *   malformed: pass              # or refuse: a message with MIME defects is refused
 *   spill_threshold: 1MiB        # bytes of a held message kept in memory; the rest in a temporary file
 *   download: replace            # or refuse: what a blocked part of a fetched message becomes
 *   cache: { entries: 10000, ttl: 1h }
 * }</pre>
 */
public final class ScanPolicyFactory implements PolicyFactory {

    private static final Logger log = LoggerFactory.getLogger(ScanPolicyFactory.class);

    public static final Set<String> KEYS = Set.of("directions", "rules", "clamd", "malformed", "spill_threshold",
            "temp_dir", "download", "cache");
    public static final Set<String> RULES_KEYS = Set.of("blocked_extensions", "blocked_media_types", "blocked_file_types",
            "max_attachment_size", "sha256_deny", "inspect_archives", "max_archive_entries");
    public static final Set<String> CLAMD_KEYS = Set.of("address", "timeout", "on_failure", "max_concurrent", "max_queued",
            "max_stream_size");
    public static final Set<String> CACHE_KEYS = Set.of("entries", "ttl");

    @Override
    public String type() {
        return "scan";
    }

    @Override
    public Policy create(String name, PolicySettings s) throws PolicyConfigException {
        s.requireKeys(KEYS);
        Set<ContentDirection> directions = new HashSet<>();
        List<String> dirs = s.get("directions").isMissing() ? List.of("upload", "download") : s.get("directions").strings();
        for (String d : dirs) {
            switch (d) {
                case "upload" -> directions.add(ContentDirection.UPLOAD);
                case "download" -> directions.add(ContentDirection.DOWNLOAD);
                default -> throw s.get("directions").error("\"" + d + "\" is not one of upload, download");
            }
        }
        ContentRules rules = rules(s.get("rules"));
        String malformed = s.get("malformed").string("pass");
        if (!malformed.equals("pass") && !malformed.equals("refuse")) {
            throw s.get("malformed").error("\"" + malformed + "\" is not one of pass, refuse");
        }
        int spill = (int) s.get("spill_threshold").size(1024 * 1024, 0, 256L * 1024 * 1024);
        String tempDir = s.get("temp_dir").string(null);
        Path temp = null;
        if (tempDir != null) {
            temp = Path.of(tempDir);
            if (!Files.isDirectory(temp) || !Files.isWritable(temp)) {
                throw s.get("temp_dir").error("\"" + tempDir + "\" is not a writable directory");
            }
        }
        String download = s.get("download").string("replace");
        if (!download.equals("replace") && !download.equals("refuse")) {
            throw s.get("download").error("\"" + download + "\" is not one of replace, refuse");
        }
        PolicySettings cache = s.get("cache").requireKeys(CACHE_KEYS);
        int cacheEntries = (int) cache.get("entries").integer(10_000, 0, 10_000_000);
        Duration cacheTtl = cache.get("ttl").duration(Duration.ofHours(1), Duration.ofSeconds(1));
        ClamdClient clamd = clamd(s.get("clamd"), rules, cacheEntries, cacheTtl);
        MessageScanner scanner = new MessageScanner(MimeParserConfig.defaults(), new ContentRuleChecker(rules), clamd,
                malformed.equals("refuse"), spill, temp);
        ScanPolicy policy = new ScanPolicy(scanner, directions, download.equals("replace"), spill, temp);
        return Policy.builder(name).inspectContent(policy::inspect).build();
    }

    private static ContentRules rules(PolicySettings r) throws PolicyConfigException {
        r.requireKeys(RULES_KEYS);
        ContentRules d = ContentRules.defaults();
        Set<FileType> fileTypes = new HashSet<>(d.blockedFileTypes());
        if (!r.get("blocked_file_types").isMissing()) {
            fileTypes.clear();
            for (String t : r.get("blocked_file_types").strings()) {
                try {
                    fileTypes.add(FileType.fromConfigName(t.toLowerCase(Locale.ROOT)));
                } catch (IllegalArgumentException e) {
                    throw r.get("blocked_file_types").error(e.getMessage());
                }
            }
        }
        try {
            return new ContentRules(
                    r.get("blocked_extensions").isMissing() ? d.blockedExtensions() : Set.copyOf(r.get("blocked_extensions").strings()),
                    r.get("blocked_media_types").isMissing() ? d.blockedMediaTypes() : Set.copyOf(r.get("blocked_media_types").strings()),
                    fileTypes,
                    r.get("max_attachment_size").size(d.maxAttachmentBytes(), 1, Long.MAX_VALUE),
                    Set.copyOf(r.get("sha256_deny").strings()),
                    r.get("inspect_archives").bool(d.inspectArchives()),
                    (int) r.get("max_archive_entries").integer(d.maxArchiveEntries(), 1, 1_000_000));
        } catch (IllegalArgumentException e) {
            // the record names the field: blockedExtensions: "a b" (expected: ...)
            throw r.error(e.getMessage());
        }
    }

    private static ClamdClient clamd(PolicySettings c, ContentRules rules, int cacheEntries, Duration cacheTtl)
            throws PolicyConfigException {
        c.requireKeys(CLAMD_KEYS);
        if (c.isMissing()) {
            return null;
        }
        String address = c.get("address").string(null);
        if (address == null) {
            throw c.get("address").error("required (host:port or unix:/path/to/clamd.sock)");
        }
        String onFailure = c.get("on_failure").string("fail-closed");
        if (!onFailure.equals("fail-open") && !onFailure.equals("fail-closed")) {
            throw c.get("on_failure").error("\"" + onFailure + "\" is not one of fail-open, fail-closed");
        }
        ClamdConfig d = ClamdConfig.defaults("127.0.0.1:3310");
        try {
            return new ClamdClient(new ClamdConfig(address,
                    c.get("timeout").duration(d.timeout(), Duration.ofMillis(1)),
                    onFailure.equals("fail-open"),
                    (int) c.get("max_concurrent").integer(d.maxConcurrent(), 1, 256),
                    (int) c.get("max_queued").integer(1000, 1, 100_000),
                    d.chunkBytes(),
                    c.get("max_stream_size").size(Math.max(d.maxStreamBytes(), rules.maxAttachmentBytes()), 1, Long.MAX_VALUE),
                    cacheEntries,
                    cacheTtl));
        } catch (IllegalArgumentException e) {
            throw c.error(e.getMessage());
        }
    }

    /** One configured scan policy, shared by the sessions it is selected for. */
    static final class ScanPolicy {
        private final MessageScanner scanner;
        private final Set<ContentDirection> directions;
        private final boolean replace;
        private final int spill;
        private final Path temp;

        ScanPolicy(MessageScanner scanner, Set<ContentDirection> directions, boolean replace, int spill, Path temp) {
            this.scanner = scanner;
            this.directions = Set.copyOf(directions);
            this.replace = replace;
            this.spill = spill;
            this.temp = temp;
        }

        ContentInspector inspect(io.postern.policies.SessionInfo session, ContentDirection direction) {
            if (!directions.contains(direction == ContentDirection.DOWNLOAD_SECTION ? ContentDirection.DOWNLOAD : direction)) {
                return null;
            }
            if (direction == ContentDirection.DOWNLOAD_SECTION) {
                return new SectionInspector(new Inspector(scanner.begin(), direction, session.sessionId()));
            }
            return new Inspector(direction == ContentDirection.DOWNLOAD ? scanner.beginEveryPart() : scanner.begin(),
                    direction, session.sessionId());
        }

        private final class Inspector implements ContentInspector {
            private final MessageScanner.Scan scan;
            private final ContentDirection direction;
            private final String sessionId;

            Inspector(MessageScanner.Scan scan, ContentDirection direction, String sessionId) {
                this.scan = scan;
                this.direction = direction;
                this.sessionId = sessionId;
            }

            @Override
            public void onData(ByteBuffer chunk) {
                scan.feed(chunk);
            }

            @Override
            public CompletableFuture<ContentVerdict> onEnd() {
                return scan.finishParts().thenApply(this::verdict);
            }

            @Override
            public int memoryThreshold() {
                return spill;
            }

            @Override
            public Path tempDirectory() {
                return temp;
            }

            @Override
            public void close() {
                try {
                    scan.close();
                } catch (java.io.IOException e) {
                    log.warn("[{}] a scanned part's temporary file could not be deleted: {}", sessionId, e.toString());
                }
            }

            private ContentVerdict verdict(MessageScanner.Result result) {
                ScanVerdict combined = result.combined();
                if (combined.outcome() != ScanVerdict.Outcome.CLEAN) {
                    log.info("[{}] {} scan: {} ({}: {})", sessionId, direction.name().toLowerCase(Locale.ROOT),
                            combined.outcome(), combined.rule(), combined.reason());
                }
                if (combined.allows()) {
                    return ContentVerdict.pass(result(combined), combined.reason());
                }
                if (direction == ContentDirection.UPLOAD || !replace || !result.message().allows()) {
                    return refusal(combined);
                }
                List<ContentVerdict.Replacement> replacements = new ArrayList<>();
                for (MessageScanner.PartVerdict p : result.parts()) {
                    if (p.verdict().allows()) {
                        continue;
                    }
                    MimePart part = p.part();
                    if (part.index() == 0 || part.end() < 0) {
                        return refusal(combined); // the message itself is the blocked part: nothing to keep
                    }
                    replacements.add(new ContentVerdict.Replacement(part.headerStart(), part.end(), notice(p.verdict(), part.filename())));
                }
                return ContentVerdict.replace(result(combined), combined.reason(), replacements);
            }
        }
    }

    /**
     * A section or range fetched on its own: its bytes are checked as one attachment of unknown
     * type (magic bytes, SHA-256, clamd), decoded first when they look like base64 (a
     * {@code BODY[2]} of a base64 part). Blocked is refused: there is no structure to keep.
     */
    static final class SectionInspector implements ContentInspector {
        private static final int SNIFF = 1024;
        private final ContentInspector inner;
        private final byte[] head = new byte[SNIFF];
        private int headLen;
        private boolean started;

        SectionInspector(ContentInspector inner) {
            this.inner = inner;
        }

        @Override
        public void onData(ByteBuffer chunk) {
            if (!started) {
                int n = Math.min(chunk.remaining(), SNIFF - headLen);
                chunk.get(head, headLen, n);
                headLen += n;
                if (headLen < SNIFF) {
                    return;
                }
                start();
            }
            if (chunk.hasRemaining()) {
                inner.onData(chunk);
            }
        }

        private void start() {
            started = true;
            boolean base64 = headLen > 0;
            for (int i = 0; i < headLen && base64; i++) {
                int c = head[i] & 0xff;
                base64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                        || c == '+' || c == '/' || c == '=' || c == '\r' || c == '\n';
            }
            String header = "Content-Type: application/octet-stream\r\n"
                    + (base64 ? "Content-Transfer-Encoding: base64\r\n" : "") + "\r\n";
            inner.onData(ByteBuffer.wrap(header.getBytes(StandardCharsets.US_ASCII)));
            inner.onData(ByteBuffer.wrap(head, 0, headLen));
        }

        @Override
        public CompletableFuture<ContentVerdict> onEnd() {
            if (!started) {
                start();
            }
            return inner.onEnd();
        }

        @Override
        public int memoryThreshold() {
            return inner.memoryThreshold();
        }

        @Override
        public Path tempDirectory() {
            return inner.tempDirectory();
        }

        @Override
        public void close() {
            inner.close();
        }
    }

    private static String result(ScanVerdict v) {
        return v.outcome().name().toLowerCase(Locale.ROOT);
    }

    private static ContentVerdict refusal(ScanVerdict v) {
        if (v.outcome() == ScanVerdict.Outcome.FAILED_CLOSED) {
            return ContentVerdict.refuse(result(v), "UNAVAILABLE", "The message could not be scanned; try again later.");
        }
        return ContentVerdict.refuse(result(v), "POLICY", "Message refused: " + v.reason() + ".");
    }

    /** What stands in for a removed part: a short text/plain body part (no line end after it: that belongs to the boundary). */
    static byte[] notice(ScanVerdict v, java.util.Optional<String> filename) {
        String what = filename.map(f -> "the attachment \"" + f + "\"").orElse("an attachment");
        String text = v.outcome() == ScanVerdict.Outcome.BLOCKED
                ? "Postern removed " + what + " here: " + v.reason() + "."
                : "Postern removed " + what + " here: it could not be scanned.";
        return ("Content-Type: text/plain; charset=utf-8\r\n"
                + "Content-Transfer-Encoding: 8bit\r\n"
                + "Content-Disposition: inline\r\n"
                + "X-Postern-Removed: " + v.rule() + "\r\n"
                + "\r\n"
                + text.replace('\r', ' ').replace('\n', ' ')).getBytes(StandardCharsets.UTF_8);
    }
}
