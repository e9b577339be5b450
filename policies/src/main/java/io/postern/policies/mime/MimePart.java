package io.postern.policies.mime;

import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * One entity of a message: the root message, a body part of a multipart, or the message inside a
 * {@code message/rfc822} part. Created and filled by a {@link MimeParser} on the thread that feeds
 * it; read it from the listener's callbacks or after {@link MimeParser#finish()}.
 *
 * <p>Offsets count bytes from the start of the message: {@link #headerStart()} is the first byte of
 * the part's header block, {@link #bodyStart()} the first byte after the blank line that ends it,
 * {@link #end()} the first byte after the body. For a body part the end is where the line end
 * before the next boundary starts (that line end belongs to the boundary, RFC 2046 5.1.1), so
 * replacing bytes {@code [headerStart, end)} replaces exactly the part.
 */
public final class MimePart {

    private final int index;
    private final int parentIndex;
    private final int depth;
    private final String section;
    private final long headerStart;
    private int children;
    private long bodyStart = -1;
    private long end = -1;
    private String mediaType = "text/plain";
    private Map<String, String> contentTypeParameters = Map.of();
    private String disposition;
    private String filename;
    private String transferEncoding = "7bit";
    private long decodedSize;
    private boolean leaf;

    MimePart(int index, MimePart parent, String section, long headerStart) {
        this.index = index;
        this.parentIndex = parent == null ? -1 : parent.index;
        this.depth = parent == null ? 0 : parent.depth + 1;
        this.section = section;
        this.headerStart = headerStart;
    }

    /** Position in document order: 0 for the root message, then each part as it starts. */
    public int index() {
        return index;
    }

    /** The {@link #index()} of the enclosing part, or -1 for the root. */
    public int parentIndex() {
        return parentIndex;
    }

    /** 0 for the root message, one more per enclosing multipart or {@code message/rfc822}. */
    public int depth() {
        return depth;
    }

    /**
     * The IMAP section number (RFC 9051 6.4.5): empty for the root, {@code "2.1"} for the first part
     * of the second part. The message inside a {@code message/rfc822} part has that part's number
     * (its header is {@code "N.HEADER"}, its parts {@code "N.1"}...).
     */
    public String section() {
        return section;
    }

    public long headerStart() {
        return headerStart;
    }

    /** -1 until the header block has been read. */
    public long bodyStart() {
        return bodyStart;
    }

    /** -1 until the part has ended. */
    public long end() {
        return end;
    }

    /** {@code type/subtype} in lower case; {@code text/plain} when absent or unusable (RFC 2045 5.2). */
    public String mediaType() {
        return mediaType;
    }

    /** The {@code Content-Type} parameters, names in lower case, values decoded (RFC 2231, 2047). */
    public Map<String, String> contentTypeParameters() {
        return contentTypeParameters;
    }

    /** {@code inline}, {@code attachment}... in lower case, if there was a {@code Content-Disposition}. */
    public Optional<String> disposition() {
        return Optional.ofNullable(disposition);
    }

    /**
     * The file name: {@code Content-Disposition}'s {@code filename}, else {@code Content-Type}'s
     * {@code name}, decoded (RFC 2231 continuations and charsets, RFC 2047 encoded words).
     */
    public Optional<String> filename() {
        return Optional.ofNullable(filename);
    }

    /** {@code Content-Transfer-Encoding} in lower case, {@code 7bit} when absent. */
    public String transferEncoding() {
        return transferEncoding;
    }

    public boolean isMultipart() {
        return mediaType.startsWith("multipart/");
    }

    /** A {@code message/rfc822} or {@code message/global} part: its body is a message. */
    public boolean isMessage() {
        return mediaType.equals("message/rfc822") || mediaType.equals("message/global");
    }

    /**
     * True when the parser passes this part's body on as content (known from
     * {@link MimeListener#partStarted}): every part but the multiparts and {@code message/rfc822}
     * parts it descends into; a container too deep or without a boundary is a leaf.
     */
    public boolean isLeaf() {
        return leaf;
    }

    /** Decoded body bytes passed to the listener so far (leaves only). */
    public long decodedSize() {
        return decodedSize;
    }

    /** How many parts this multipart has started so far. */
    public int children() {
        return children;
    }

    @Override
    public String toString() {
        return "part " + index + (section.isEmpty() ? "" : " [" + section + "]") + " " + mediaType
                + (filename == null ? "" : " \"" + filename + "\"");
    }

    // ---------------------------------------------------------------- filled by the parser

    void applyHeaders(MimeHeaders headers, boolean digestChild) {
        String defaultType = digestChild ? "message/rfc822" : "text/plain";
        mediaType = defaultType;
        headers.first("Content-Type").ifPresent(raw -> {
            HeaderValues.Parameterized value = HeaderValues.parameterized(raw);
            String type = value.value().toLowerCase(Locale.ROOT);
            int slash = type.indexOf('/');
            if (slash > 0 && slash < type.length() - 1 && type.indexOf('/', slash + 1) < 0) {
                mediaType = type;
            }
            contentTypeParameters = bounded(value.parameters());
        });
        headers.first("Content-Disposition").ifPresent(raw -> {
            HeaderValues.Parameterized value = HeaderValues.parameterized(raw);
            if (!value.value().isEmpty()) {
                disposition = value.value().toLowerCase(Locale.ROOT);
            }
            filename = tail(value.parameters().get("filename"));
        });
        if (filename == null) {
            filename = contentTypeParameters.get("name");
        }
        headers.first("Content-Transfer-Encoding").ifPresent(raw -> {
            String encoding = HeaderValues.parameterized(raw).value().toLowerCase(Locale.ROOT);
            if (!encoding.isEmpty()) {
                transferEncoding = encoding;
            }
        });
    }

    /** Parameters kept per part: a part object outlives its header block, so its size is capped. */
    static final int MAX_PARAMETERS = 32;
    /** Characters kept of a parameter value; of a file name the last ones, where the extension is. */
    static final int MAX_PARAMETER_CHARS = 1024;

    private static Map<String, String> bounded(Map<String, String> parameters) {
        Map<String, String> kept = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, String> e : parameters.entrySet()) {
            if (kept.size() == MAX_PARAMETERS) {
                break;
            }
            String v = e.getValue();
            kept.put(e.getKey(), e.getKey().equals("name") ? tail(v)
                    : v.length() > MAX_PARAMETER_CHARS ? v.substring(0, MAX_PARAMETER_CHARS) : v);
        }
        return java.util.Collections.unmodifiableMap(kept);
    }

    private static String tail(String s) {
        return s == null || s.length() <= MAX_PARAMETER_CHARS ? s : s.substring(s.length() - MAX_PARAMETER_CHARS);
    }

    void leaf(boolean isLeaf) {
        leaf = isLeaf;
    }

    void bodyStart(long offset) {
        bodyStart = offset;
    }

    void end(long offset) {
        end = offset;
    }

    void addDecoded(long n) {
        decodedSize += n;
    }

    int nextChild() {
        return ++children;
    }

    /** A rough count of the bytes this object keeps, for {@link MimeParser#retainedBytes()}. */
    long retainedBytes() {
        long strings = section.length() + mediaType.length() + transferEncoding.length()
                + (filename == null ? 0 : filename.length()) + (disposition == null ? 0 : disposition.length());
        for (Map.Entry<String, String> e : contentTypeParameters.entrySet()) {
            strings += e.getKey().length() + e.getValue().length() + 32;
        }
        return 96 + 2 * strings;
    }
}
