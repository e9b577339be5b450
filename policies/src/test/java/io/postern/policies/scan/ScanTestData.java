package io.postern.policies.scan;

import static java.nio.charset.StandardCharsets.ISO_8859_1;

import io.postern.policies.mime.SpillBuffer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Base64;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/** Content for the scan tests. */
final class ScanTestData {

    private ScanTestData() {}

    /** The start of a Windows PE file: the DOS header with its stub message. */
    static byte[] pe() {
        byte[] b = new byte[256];
        b[0] = 'M';
        b[1] = 'Z';
        b[0x3c] = (byte) 0x80;
        byte[] stub = "This program cannot be run in DOS mode.".getBytes(ISO_8859_1);
        System.arraycopy(stub, 0, b, 0x4e, stub.length);
        b[0x80] = 'P';
        b[0x81] = 'E';
        return b;
    }

    static byte[] elf() {
        return new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x3e, 0};
    }

    static byte[] pdf() {
        return "%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n".getBytes(ISO_8859_1);
    }

    static byte[] zip(String... names) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(out)) {
            for (String name : names) {
                zip.putNextEntry(new ZipEntry(name));
                zip.write(("content of " + name).getBytes(ISO_8859_1));
                zip.closeEntry();
            }
        }
        return out.toByteArray();
    }

    static byte[] zipWith(String name, byte[] content) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(out)) {
            zip.putNextEntry(new ZipEntry(name));
            zip.write(content);
            zip.closeEntry();
        }
        return out.toByteArray();
    }

    static SpillBuffer sealed(byte[] content) throws IOException {
        SpillBuffer b = new SpillBuffer(1024 * 1024, 64L * 1024 * 1024, null);
        b.write(content, 0, content.length);
        b.seal();
        return b;
    }

    /** A message with a text part and one base64 attachment. */
    static byte[] message(String filename, String mediaType, byte[] attachment) {
        String text = "From: alice@example.org\r\nTo: bob@example.org\r\nSubject: the file\r\nMIME-Version: 1.0\r\n"
                + "Content-Type: multipart/mixed; boundary=\"sep\"\r\n\r\n"
                + "--sep\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nHere is the file.\r\n"
                + "--sep\r\nContent-Type: " + mediaType + "; name=\"" + filename + "\"\r\n"
                + "Content-Disposition: attachment; filename=\"" + filename + "\"\r\n"
                + "Content-Transfer-Encoding: base64\r\n\r\n"
                + Base64.getMimeEncoder().encodeToString(attachment) + "\r\n"
                + "--sep--\r\n";
        return text.getBytes(ISO_8859_1);
    }
}
