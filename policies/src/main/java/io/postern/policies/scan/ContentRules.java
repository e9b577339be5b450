package io.postern.policies.scan;

import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The content rules of a {@code scan} policy, checked by {@link ContentRuleChecker}. Every value
 * is checked when the record is built; names are normalised (lower case, no leading dot).
 *
 * @param blockedExtensions file name extensions refused ({@code exe}, {@code js}...)
 * @param blockedMediaTypes media types refused: {@code type/subtype}, or {@code type/*}
 * @param blockedFileTypes types refused by content, whatever the name ({@link FileType#sniff})
 * @param maxAttachmentBytes the largest decoded part accepted
 * @param sha256DenyList SHA-256 digests (64 hex digits) of content refused
 * @param inspectArchives whether the names inside a ZIP are checked against the extension list
 * @param maxArchiveEntries the most entries looked at in one archive; more is refused
 */
public record ContentRules(
        Set<String> blockedExtensions,
        Set<String> blockedMediaTypes,
        Set<FileType> blockedFileTypes,
        long maxAttachmentBytes,
        Set<String> sha256DenyList,
        boolean inspectArchives,
        int maxArchiveEntries) {

    private static final Pattern EXTENSION = Pattern.compile("[a-z0-9_+-]{1,32}");
    private static final Pattern MEDIA_TYPE = Pattern.compile("[a-z0-9!#$&^_.+-]+/([a-z0-9!#$&^_.+-]+|\\*)");
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

    public ContentRules {
        blockedExtensions = normalise("blockedExtensions", blockedExtensions, s -> s.startsWith(".") ? s.substring(1) : s, EXTENSION,
                "letters, digits, _ + -, at most 32");
        blockedMediaTypes = normalise("blockedMediaTypes", blockedMediaTypes, s -> s, MEDIA_TYPE, "type/subtype or type/*");
        blockedFileTypes = Set.copyOf(blockedFileTypes);
        if (blockedFileTypes.contains(FileType.UNKNOWN)) {
            throw new IllegalArgumentException("blockedFileTypes: unknown (expected: a recognised file type)");
        }
        if (maxAttachmentBytes < 1) {
            throw new IllegalArgumentException("maxAttachmentBytes: " + maxAttachmentBytes + " (expected: >= 1)");
        }
        sha256DenyList = normalise("sha256DenyList", sha256DenyList, s -> s, SHA256, "64 hex digits");
        if (maxArchiveEntries < 1 || maxArchiveEntries > 1_000_000) {
            throw new IllegalArgumentException("maxArchiveEntries: " + maxArchiveEntries + " (expected: 1 to 1000000)");
        }
    }

    /** A common baseline: executables and script types refused by name and by content, 25 MiB, archives inspected. */
    public static ContentRules defaults() {
        return new ContentRules(
                Set.of("exe", "com", "scr", "pif", "bat", "cmd", "vbs", "vbe", "js", "jse", "wsf", "wsh", "hta",
                        "msi", "cpl", "dll", "jar", "ps1", "lnk", "reg", "iso", "img"),
                Set.of("application/x-msdownload", "application/x-dosexec", "application/vnd.microsoft.portable-executable",
                        "application/x-executable", "application/x-sh"),
                Set.of(FileType.PE, FileType.ELF, FileType.MACH_O),
                25L * 1024 * 1024,
                Set.of(),
                true,
                10_000);
    }

    private static Set<String> normalise(String name, Set<String> values, java.util.function.UnaryOperator<String> strip,
            Pattern valid, String expected) {
        return values.stream().map(v -> {
            String s = strip.apply(v.strip().toLowerCase(Locale.ROOT));
            if (!valid.matcher(s).matches()) {
                throw new IllegalArgumentException(name + ": \"" + v + "\" (expected: " + expected + ")");
            }
            return s;
        }).collect(Collectors.toUnmodifiableSet());
    }

    /** True when this media type is refused, exactly or by a {@code type/*} entry. */
    public boolean mediaTypeBlocked(String mediaType) {
        String m = mediaType.toLowerCase(Locale.ROOT);
        int slash = m.indexOf('/');
        return blockedMediaTypes.contains(m) || (slash > 0 && blockedMediaTypes.contains(m.substring(0, slash) + "/*"));
    }
}
