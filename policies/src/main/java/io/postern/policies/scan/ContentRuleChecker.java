package io.postern.policies.scan;

import io.postern.policies.mime.SpillBuffer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Enumeration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Optional;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Applies {@link ContentRules} to one decoded part, in this order: size, SHA-256 deny list, file
 * name extension, declared media type, type by content (magic bytes), names inside a ZIP. The
 * first rule that refuses decides. Stateless and thread-safe; the ZIP check reads the archive's
 * central directory only (no entry is inflated), so its cost is bounded by the entry limit.
 */
public final class ContentRuleChecker {

    private final ContentRules rules;

    public ContentRuleChecker(ContentRules rules) {
        this.rules = rules;
    }

    public ContentRules rules() {
        return rules;
    }

    /**
     * Checks one part.
     *
     * @param filename the part's file name, if it has one
     * @param mediaType the declared {@code type/subtype}
     * @param content the decoded content, sealed
     */
    public ScanVerdict check(Optional<String> filename, String mediaType, SpillBuffer content) {
        String what = filename.map(f -> "\"" + printable(f) + "\"").orElse("an unnamed " + mediaType + " part");
        if (content.size() > rules.maxAttachmentBytes()) {
            return ScanVerdict.blocked("size", what + " is " + content.size() + " bytes, over the limit of "
                    + rules.maxAttachmentBytes());
        }
        if (!rules.sha256DenyList().isEmpty() && rules.sha256DenyList().contains(content.sha256Hex())) {
            return ScanVerdict.blocked("sha256", what + " matches a SHA-256 on the deny list");
        }
        Optional<String> extension = filename.flatMap(ContentRuleChecker::extension);
        if (extension.isPresent() && rules.blockedExtensions().contains(extension.get())) {
            return ScanVerdict.blocked("extension", what + " has the blocked extension ." + extension.get());
        }
        if (rules.mediaTypeBlocked(mediaType)) {
            return ScanVerdict.blocked("media-type", what + " is declared as the blocked type " + mediaType);
        }
        FileType real = FileType.sniff(content.head());
        if (rules.blockedFileTypes().contains(real)) {
            return ScanVerdict.blocked("file-type", what + " is by its content " + describe(real) + ", a blocked file type");
        }
        if (real.executable()) {
            // an executable is judged as what it is, not as what its name or declared type says
            for (String ext : real.extensions()) {
                if (rules.blockedExtensions().contains(ext)) {
                    return ScanVerdict.blocked("file-type", what + " is by its content " + describe(real)
                            + " (extension ." + ext + ", which is blocked)");
                }
            }
            for (String type : real.mediaTypes()) {
                if (rules.mediaTypeBlocked(type)) {
                    return ScanVerdict.blocked("file-type", what + " is by its content " + describe(real)
                            + " (type " + type + ", which is blocked)");
                }
            }
        }
        if (real == FileType.ZIP && rules.inspectArchives()) {
            return archive(what, content);
        }
        return ScanVerdict.clean();
    }

    private ScanVerdict archive(String what, SpillBuffer content) {
        if (content.truncated()) {
            return ScanVerdict.blocked("archive", what + " is a ZIP archive too large to inspect");
        }
        // ISO-8859-1 for names without the UTF-8 flag: any byte decodes, and extensions are ASCII
        try (ZipFile zip = new ZipFile(content.file().toFile(), StandardCharsets.ISO_8859_1)) {
            if (zip.size() > rules.maxArchiveEntries()) {
                return ScanVerdict.blocked("archive", what + " is a ZIP archive of " + zip.size()
                        + " entries, over the limit of " + rules.maxArchiveEntries());
            }
            Enumeration<? extends ZipEntry> entries = zip.entries();
            for (int n = 0; entries.hasMoreElements() && n < rules.maxArchiveEntries(); n++) {
                ZipEntry entry = entries.nextElement();
                if (entry.isDirectory()) {
                    continue;
                }
                String name = entry.getName();
                String base = name.substring(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
                Optional<String> ext = extension(base);
                if (ext.isPresent() && rules.blockedExtensions().contains(ext.get())) {
                    return ScanVerdict.blocked("archive", what + " contains \"" + printable(name)
                            + "\", which has the blocked extension ." + ext.get());
                }
            }
            return ScanVerdict.clean();
        } catch (IOException | IllegalArgumentException unreadable) {
            // ZipException, or a name that is not valid UTF-8 under the UTF-8 flag: what a mail
            // client's unzip would make of it is anyone's guess, so it is not let through
            return ScanVerdict.blocked("archive", what + " looks like a ZIP archive but cannot be read as one ("
                    + unreadable.getClass().getSimpleName() + ")");
        }
    }

    /**
     * The extension of a file name, lower case: what follows the last dot, after trailing dots and
     * spaces are dropped as Windows drops them ({@code "a.exe. "} is {@code exe}).
     */
    public static Optional<String> extension(String filename) {
        int end = filename.length();
        while (end > 0 && (filename.charAt(end - 1) == '.' || filename.charAt(end - 1) == ' ' || filename.charAt(end - 1) == '\u0000')) {
            end--;
        }
        String name = filename.substring(0, end);
        int dot = name.lastIndexOf('.');
        if (dot < 0 || dot == name.length() - 1) {
            return Optional.empty();
        }
        return Optional.of(name.substring(dot + 1).toLowerCase(Locale.ROOT));
    }

    private static String describe(FileType type) {
        switch (type) {
            case PE:
                return "a Windows executable (PE)";
            case ELF:
                return "an ELF executable";
            case MACH_O:
                return "a Mach-O executable";
            case SCRIPT:
                return "a script with an interpreter line";
            default:
                return type.configName();
        }
    }

    /** A file name for a reason text: control characters shown as \\xNN, at most 120 characters. */
    static String printable(String s) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.length() && out.length() < 120; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f || c == '"') {
                out.append("\\x").append(HexFormat.of().toHexDigits((byte) c));
            } else {
                out.append(c);
            }
        }
        return out.length() >= 120 ? out + "..." : out.toString();
    }
}
