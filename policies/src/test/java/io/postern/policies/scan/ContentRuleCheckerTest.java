package io.postern.policies.scan;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.postern.policies.mime.SpillBuffer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ContentRuleCheckerTest {

    private final ContentRuleChecker checker = new ContentRuleChecker(ContentRules.defaults());

    private ScanVerdict check(ContentRuleChecker c, String filename, String mediaType, byte[] content) throws IOException {
        try (SpillBuffer b = ScanTestData.sealed(content)) {
            return c.check(Optional.ofNullable(filename), mediaType, b);
        }
    }

    private ScanVerdict check(String filename, String mediaType, byte[] content) throws IOException {
        return check(checker, filename, mediaType, content);
    }

    @Test
    void anExecutableNamedPdfIsBlockedAsWhatItIs() throws IOException {
        ScanVerdict v = check("invoice.pdf", "application/pdf", ScanTestData.pe());
        assertThat(v.outcome()).isEqualTo(ScanVerdict.Outcome.BLOCKED);
        assertThat(v.rule()).isEqualTo("file-type");
        assertThat(v.reason()).isEqualTo("\"invoice.pdf\" is by its content a Windows executable (PE), a blocked file type");

        // with no file type blocked, the PE is still judged by its real extension
        ContentRules byName = new ContentRules(Set.of("exe"), Set.of(), Set.of(), 1 << 20, Set.of(), true, 100);
        v = check(new ContentRuleChecker(byName), "invoice.pdf", "application/pdf", ScanTestData.pe());
        assertThat(v.rule()).isEqualTo("file-type");
        assertThat(v.reason()).contains("extension .exe, which is blocked");

        assertThat(check("invoice.pdf", "application/pdf", ScanTestData.pdf())).isEqualTo(ScanVerdict.clean());
        assertThat(check("tool", "application/octet-stream", ScanTestData.elf()).rule()).isEqualTo("file-type");
    }

    @Test
    void blockedExtensionsAndMediaTypes() throws IOException {
        byte[] text = "just text".getBytes(ISO_8859_1);
        assertThat(check("setup.EXE", "application/octet-stream", text).rule()).isEqualTo("extension");
        assertThat(check("setup.exe. .", "application/octet-stream", text).reason()).contains("blocked extension .exe");
        assertThat(check("notes.txt", "application/x-msdownload", text).rule()).isEqualTo("media-type");
        assertThat(check("notes.txt", "text/plain", text)).isEqualTo(ScanVerdict.clean());
        assertThat(check(null, "text/plain", text)).isEqualTo(ScanVerdict.clean());

        ContentRules wildcard = new ContentRules(Set.of(".JS"), Set.of("Video/*"), Set.of(), 1 << 20, Set.of(), false, 100);
        assertThat(wildcard.blockedExtensions()).containsExactly("js");
        assertThat(check(new ContentRuleChecker(wildcard), "clip.mp4", "video/mp4", text).rule()).isEqualTo("media-type");
        assertThat(check(new ContentRuleChecker(wildcard), "a.js", "text/plain", text).rule()).isEqualTo("extension");
    }

    @Test
    void aZipIsInspectedOneLevelForBlockedNames() throws IOException {
        ScanVerdict v = check("docs.zip", "application/zip", ScanTestData.zip("docs/readme.txt", "docs/run.js"));
        assertThat(v.rule()).isEqualTo("archive");
        assertThat(v.reason()).isEqualTo("\"docs.zip\" contains \"docs/run.js\", which has the blocked extension .js");

        assertThat(check("docs.zip", "application/zip", ScanTestData.zip("a.txt", "b/c.pdf", "inner.zip")))
                .isEqualTo(ScanVerdict.clean());
        // one level only: a blocked name inside an inner archive is clamd's business
        byte[] nested = ScanTestData.zipWith("inner.zip", ScanTestData.zip("evil.exe"));
        assertThat(check("docs.zip", "application/zip", nested)).isEqualTo(ScanVerdict.clean());

        // named as anything, it is still a ZIP
        assertThat(check("photo.jpg", "image/jpeg", ScanTestData.zip("x.scr")).rule()).isEqualTo("archive");

        byte[] broken = Arrays.copyOf(ScanTestData.zip("a.txt"), 20);
        assertThat(check("a.zip", "application/zip", broken).reason()).contains("cannot be read as one");

        ContentRules few = new ContentRules(Set.of("exe"), Set.of(), Set.of(), 1 << 20, Set.of(), true, 2);
        assertThat(check(new ContentRuleChecker(few), "a.zip", "application/zip", ScanTestData.zip("1", "2", "3")).reason())
                .contains("3 entries, over the limit of 2");
    }

    @Test
    void sha256DenyListAndSize() throws IOException {
        byte[] bad = "a known bad file".getBytes(ISO_8859_1);
        String sha = HexFormat.of().formatHex(ClamdClient.sha256(bad));
        ContentRules rules = new ContentRules(Set.of(), Set.of(), Set.of(), 100, Set.of(sha.toUpperCase()), false, 10);
        assertThat(check(new ContentRuleChecker(rules), "x.txt", "text/plain", bad).rule()).isEqualTo("sha256");
        assertThat(check(new ContentRuleChecker(rules), "x.txt", "text/plain", "another file".getBytes(ISO_8859_1)))
                .isEqualTo(ScanVerdict.clean());
        assertThat(check(new ContentRuleChecker(rules), "x.txt", "text/plain", new byte[101]).reason())
                .isEqualTo("\"x.txt\" is 101 bytes, over the limit of 100");
    }

    @Test
    void magicBytes() throws IOException {
        assertThat(FileType.sniff(ScanTestData.pe())).isEqualTo(FileType.PE);
        assertThat(FileType.sniff(ScanTestData.elf())).isEqualTo(FileType.ELF);
        assertThat(FileType.sniff(new byte[] {(byte) 0xcf, (byte) 0xfa, (byte) 0xed, (byte) 0xfe, 7, 0, 0, 1})).isEqualTo(FileType.MACH_O);
        assertThat(FileType.sniff("#!/bin/sh\necho".getBytes(ISO_8859_1))).isEqualTo(FileType.SCRIPT);
        assertThat(FileType.sniff(ScanTestData.zip("a"))).isEqualTo(FileType.ZIP);
        assertThat(FileType.sniff(ScanTestData.pdf())).isEqualTo(FileType.PDF);
        assertThat(FileType.sniff(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0})).isEqualTo(FileType.PNG);
        assertThat(FileType.sniff(new byte[] {(byte) 0xff, (byte) 0xd8, (byte) 0xff, (byte) 0xe0})).isEqualTo(FileType.JPEG);
        assertThat(FileType.sniff("GIF89a..".getBytes(ISO_8859_1))).isEqualTo(FileType.GIF);
        assertThat(FileType.sniff(new byte[] {(byte) 0xd0, (byte) 0xcf, 0x11, (byte) 0xe0, (byte) 0xa1, (byte) 0xb1, 0x1a, (byte) 0xe1}))
                .isEqualTo(FileType.OLE);
        assertThat(FileType.sniff("hello".getBytes(ISO_8859_1))).isEqualTo(FileType.UNKNOWN);
        assertThat(FileType.sniff(new byte[] {'M'})).isEqualTo(FileType.UNKNOWN);
        assertThat(FileType.sniff(new byte[0])).isEqualTo(FileType.UNKNOWN);
        assertThat(FileType.fromConfigName("mach-o")).isEqualTo(FileType.MACH_O);
        assertThatThrownBy(() -> FileType.fromConfigName("exe")).hasMessageStartingWith("unknown file type \"exe\" (expected one of: [pe, elf");

        ContentRules scripts = new ContentRules(Set.of("sh"), Set.of(), Set.of(), 1 << 20, Set.of(), false, 10);
        assertThat(check(new ContentRuleChecker(scripts), "readme.txt", "text/plain", "#!/bin/sh\nrm -rf ~\n".getBytes(ISO_8859_1)).rule())
                .isEqualTo("file-type");
    }

    @Test
    void rulesAreValidated() {
        assertThatThrownBy(() -> new ContentRules(Set.of("e x e"), Set.of(), Set.of(), 1, Set.of(), true, 1))
                .hasMessage("blockedExtensions: \"e x e\" (expected: letters, digits, _ + -, at most 32)");
        assertThatThrownBy(() -> new ContentRules(Set.of(), Set.of("nonsense"), Set.of(), 1, Set.of(), true, 1))
                .hasMessage("blockedMediaTypes: \"nonsense\" (expected: type/subtype or type/*)");
        assertThatThrownBy(() -> new ContentRules(Set.of(), Set.of(), Set.of(), 1, Set.of("abc"), true, 1))
                .hasMessage("sha256DenyList: \"abc\" (expected: 64 hex digits)");
        assertThatThrownBy(() -> new ContentRules(Set.of(), Set.of(), Set.of(), 0, Set.of(), true, 1))
                .hasMessage("maxAttachmentBytes: 0 (expected: >= 1)");
        assertThatThrownBy(() -> new ContentRules(Set.of(), Set.of(), Set.of(FileType.UNKNOWN), 1, Set.of(), true, 1))
                .hasMessageStartingWith("blockedFileTypes");
    }

    @Test
    void spillBufferKeepsMemoryToItsThresholdAndDeletesItsFile(@TempDir Path dir) throws IOException {
        byte[] chunk = new byte[10_000];
        Arrays.fill(chunk, (byte) 'x');
        Path file;
        try (SpillBuffer b = new SpillBuffer(25_000, 1_000_000, dir)) {
            for (int i = 0; i < 10; i++) {
                b.write(chunk, 0, chunk.length);
            }
            assertThat(b.spilled()).isTrue();
            assertThat(b.memoryBytes()).isLessThanOrEqualTo(25_000 + SpillBuffer.HEAD_BYTES);
            b.seal();
            file = b.file();
            assertThat(Files.size(file)).isEqualTo(100_000);
            assertThat(b.open().readAllBytes()).hasSize(100_000);
            assertThat(b.sha256()).isEqualTo(ClamdClient.sha256(b.open().readAllBytes()));
            assertThat(Files.getPosixFilePermissions(file)).hasSize(2);
        }
        assertThat(file).doesNotExist();
        assertThat(dir).isEmptyDirectory();

        try (SpillBuffer b = new SpillBuffer(1000, 50, dir)) {
            b.write(chunk, 0, 100);
            b.seal();
            assertThat(b.truncated()).isTrue();
            assertThat(b.size()).isEqualTo(100);
            assertThat(b.spilled()).isFalse();
            assertThat(b.open().readAllBytes()).hasSize(50);
            assertThat(b.file()).exists();
        }
        assertThat(dir).isEmptyDirectory();
    }
}
