package io.postern.policies.scan;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;

import io.postern.policies.mime.MimeParserConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Whole messages through the parser and the rules (clamd: {@link ClamdClientTest}). */
class MessageScannerTest {

    private static MessageScanner scanner(boolean blockMalformed, int budget, Path temp) {
        return new MessageScanner(MimeParserConfig.defaults(), new ContentRuleChecker(ContentRules.defaults()), null,
                blockMalformed, budget, temp);
    }

    @Test
    void rulesOverWholeMessages(@TempDir Path temp) throws Exception {
        MessageScanner scanner = scanner(false, 1 << 20, temp);
        assertThat(ClamdClientTest.scan(scanner, ScanTestData.message("invoice.pdf", "application/pdf", ScanTestData.pe()), 5).reason())
                .isEqualTo("\"invoice.pdf\" is by its content a Windows executable (PE), a blocked file type");
        assertThat(ClamdClientTest.scan(scanner, ScanTestData.message("a.zip", "application/zip", ScanTestData.zip("b.vbs")), 64).rule())
                .isEqualTo("archive");
        assertThat(ClamdClientTest.scan(scanner, ScanTestData.message("a.pdf", "application/pdf", ScanTestData.pdf()), 64))
                .isEqualTo(ScanVerdict.clean());
        assertThat(temp).isEmptyDirectory();
    }

    @Test
    void malformedMimeIsRefusedWhenConfigured(@TempDir Path temp) throws Exception {
        byte[] unclosed = ("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n")
                .getBytes(ISO_8859_1);
        assertThat(ClamdClientTest.scan(scanner(false, 1024, temp), unclosed, 9)).isEqualTo(ScanVerdict.clean());
        ScanVerdict v = ClamdClientTest.scan(scanner(true, 1024, temp), unclosed, 9);
        assertThat(v.rule()).isEqualTo("mime");
        assertThat(v.reason()).isEqualTo("the message is malformed MIME (MISSING_CLOSE_DELIMITER)");
    }

    /** 25 MB attachment, 1 MB of memory for content: the rest goes to a file, deleted at the end. */
    @Test
    void a25MegabyteAttachmentSpillsAndIsDeleted(@TempDir Path temp) throws Exception {
        ContentRules rules = new ContentRules(Set.of("exe"), Set.of(), Set.of(), 30L << 20, Set.of(), true, 100);
        MessageScanner scanner = new MessageScanner(MimeParserConfig.defaults(), new ContentRuleChecker(rules), null, true, 1 << 20, temp);
        Random random = new Random(1);
        byte[] raw = new byte[57 * 1000];
        long maxRetained = 0;
        boolean sawFile = false;
        try (MessageScanner.Scan scan = scanner.begin()) {
            byte[] head = ("Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nContent-Type: application/octet-stream; name=big.bin\r\n"
                    + "Content-Transfer-Encoding: base64\r\n\r\n").getBytes(ISO_8859_1);
            scan.feed(head, 0, head.length);
            for (int i = 0; i < 460; i++) { // 460 x 57,000 bytes: 26.2 MB decoded
                random.nextBytes(raw);
                byte[] line = (Base64.getMimeEncoder().encodeToString(raw) + "\r\n").getBytes(ISO_8859_1);
                scan.feed(line, 0, line.length);
                maxRetained = Math.max(maxRetained, scan.parser().retainedBytes());
                if (i == 100) {
                    try (Stream<Path> files = Files.list(temp)) {
                        sawFile = files.findAny().isPresent();
                    }
                }
            }
            byte[] end = "--z--\r\n".getBytes(ISO_8859_1);
            scan.feed(end, 0, end.length);
            assertThat(scan.finish().get(60, TimeUnit.SECONDS)).isEqualTo(ScanVerdict.clean());
        }
        assertThat(sawFile).as("content past the memory budget went to a file").isTrue();
        assertThat(maxRetained).isLessThan(32 * 1024);
        assertThat(temp).isEmptyDirectory();
    }
}
