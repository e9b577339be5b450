package io.postern.policies.scan;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * What a file really is, from its first bytes ({@link #sniff(byte[])}), whatever its name or
 * declared type says. Each type names the extensions and media types it is usually given, so a
 * rule on {@code exe} or {@code application/x-msdownload} also catches a PE file named
 * {@code invoice.pdf}.
 */
public enum FileType {
    /** Windows PE/COFF executable or DLL ({@code MZ}). */
    PE(true, Set.of("exe", "dll", "scr", "com", "sys", "cpl", "ocx"),
            Set.of("application/x-msdownload", "application/x-dosexec", "application/vnd.microsoft.portable-executable")),
    /** ELF executable or shared object. */
    ELF(true, Set.of("elf", "so", "bin"), Set.of("application/x-executable", "application/x-sharedlib", "application/x-elf")),
    /** Mach-O executable, 32 or 64 bit, either byte order, or a fat binary. */
    MACH_O(true, Set.of("macho", "dylib"), Set.of("application/x-mach-binary")),
    /** A script with a {@code #!} interpreter line. */
    SCRIPT(true, Set.of("sh", "bash", "pl", "py", "rb"), Set.of("application/x-sh", "text/x-shellscript", "text/x-script")),
    /** ZIP archive, and the formats built on it (docx, xlsx, jar, apk...). */
    ZIP(false, Set.of("zip", "jar", "docx", "xlsx", "pptx", "odt", "apk"), Set.of("application/zip", "application/x-zip-compressed")),
    /** OLE2 compound file: legacy Office documents, MSI installers. */
    OLE(false, Set.of("doc", "xls", "ppt", "msi", "msg"), Set.of("application/x-ole-storage", "application/msword", "application/vnd.ms-excel")),
    PDF(false, Set.of("pdf"), Set.of("application/pdf")),
    RAR(false, Set.of("rar"), Set.of("application/vnd.rar", "application/x-rar-compressed")),
    SEVEN_ZIP(false, Set.of("7z"), Set.of("application/x-7z-compressed")),
    GZIP(false, Set.of("gz", "tgz"), Set.of("application/gzip")),
    PNG(false, Set.of("png"), Set.of("image/png")),
    JPEG(false, Set.of("jpg", "jpeg"), Set.of("image/jpeg")),
    GIF(false, Set.of("gif"), Set.of("image/gif")),
    WEBP(false, Set.of("webp"), Set.of("image/webp")),
    TIFF(false, Set.of("tif", "tiff"), Set.of("image/tiff")),
    BMP(false, Set.of("bmp"), Set.of("image/bmp")),
    /** Nothing recognised. */
    UNKNOWN(false, Set.of(), Set.of());

    private final boolean executable;
    private final Set<String> extensions;
    private final Set<String> mediaTypes;

    FileType(boolean executable, Set<String> extensions, Set<String> mediaTypes) {
        this.executable = executable;
        this.extensions = extensions;
        this.mediaTypes = mediaTypes;
    }

    /** True for code the operating system runs directly (PE, ELF, Mach-O, shebang scripts). */
    public boolean executable() {
        return executable;
    }

    /** Extensions (lower case, no dot) files of this type usually have. */
    public Set<String> extensions() {
        return extensions;
    }

    /** Media types (lower case) files of this type are usually declared as. */
    public Set<String> mediaTypes() {
        return mediaTypes;
    }

    /** The name used in configuration: lower case, {@code -} for {@code _} ({@code mach-o}). */
    public String configName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    private static final byte[] OLE_MAGIC = {(byte) 0xD0, (byte) 0xCF, 0x11, (byte) 0xE0, (byte) 0xA1, (byte) 0xB1, 0x1A, (byte) 0xE1};
    private static final List<byte[]> MACH_O_MAGICS = List.of(
            new byte[] {(byte) 0xFE, (byte) 0xED, (byte) 0xFA, (byte) 0xCE},
            new byte[] {(byte) 0xFE, (byte) 0xED, (byte) 0xFA, (byte) 0xCF},
            new byte[] {(byte) 0xCE, (byte) 0xFA, (byte) 0xED, (byte) 0xFE},
            new byte[] {(byte) 0xCF, (byte) 0xFA, (byte) 0xED, (byte) 0xFE},
            // fat binary; Java class files share it, and are code too
            new byte[] {(byte) 0xCA, (byte) 0xFE, (byte) 0xBA, (byte) 0xBE});

    /** The type the first bytes of a file show (give at least the first 16 bytes when there are). */
    public static FileType sniff(byte[] head) {
        if (starts(head, 'M', 'Z')) {
            return PE;
        }
        if (starts(head, 0x7F, 'E', 'L', 'F')) {
            return ELF;
        }
        for (byte[] magic : MACH_O_MAGICS) {
            if (head.length >= 4 && Arrays.equals(head, 0, 4, magic, 0, 4)) {
                return MACH_O;
            }
        }
        if (starts(head, '#', '!')) {
            return SCRIPT;
        }
        if (starts(head, 'P', 'K', 3, 4) || starts(head, 'P', 'K', 5, 6) || starts(head, 'P', 'K', 7, 8)) {
            return ZIP;
        }
        if (head.length >= 8 && Arrays.equals(head, 0, 8, OLE_MAGIC, 0, 8)) {
            return OLE;
        }
        if (starts(head, '%', 'P', 'D', 'F', '-')) {
            return PDF;
        }
        if (starts(head, 'R', 'a', 'r', '!', 0x1A, 0x07)) {
            return RAR;
        }
        if (starts(head, '7', 'z', 0xBC, 0xAF, 0x27, 0x1C)) {
            return SEVEN_ZIP;
        }
        if (starts(head, 0x1F, 0x8B)) {
            return GZIP;
        }
        if (starts(head, 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n')) {
            return PNG;
        }
        if (starts(head, 0xFF, 0xD8, 0xFF)) {
            return JPEG;
        }
        if (starts(head, 'G', 'I', 'F', '8', '7', 'a') || starts(head, 'G', 'I', 'F', '8', '9', 'a')) {
            return GIF;
        }
        if (starts(head, 'R', 'I', 'F', 'F') && head.length >= 12 && head[8] == 'W' && head[9] == 'E' && head[10] == 'B' && head[11] == 'P') {
            return WEBP;
        }
        if (starts(head, 'I', 'I', 0x2A, 0) || starts(head, 'M', 'M', 0, 0x2A)) {
            return TIFF;
        }
        if (starts(head, 'B', 'M') && head.length >= 14) {
            return BMP;
        }
        return UNKNOWN;
    }

    private static boolean starts(byte[] head, int... magic) {
        if (head.length < magic.length) {
            return false;
        }
        for (int i = 0; i < magic.length; i++) {
            if ((head[i] & 0xFF) != magic[i]) {
                return false;
            }
        }
        return true;
    }

    /** The type with this {@link #configName()}, or an exception naming the accepted values. */
    public static FileType fromConfigName(String name) {
        for (FileType t : values()) {
            if (t != UNKNOWN && t.configName().equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown file type \"" + name + "\" (expected one of: "
                + Arrays.stream(values()).filter(t -> t != UNKNOWN).map(FileType::configName).toList() + ")");
    }
}
