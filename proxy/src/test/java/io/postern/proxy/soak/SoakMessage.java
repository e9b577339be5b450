package io.postern.proxy.soak;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ThreadLocalRandom;
import java.util.zip.CRC32;

/**
 * Messages that carry their own checksum, so a body fetched through Postern can be checked
 * while it streams by, without keeping it: the first line is {@code X-Soak-Sum: } and the CRC-32
 * (8 hex digits) of every byte after that line.
 */
final class SoakMessage {

    private static final String SUM = "X-Soak-Sum: ";
    private static final int FIRST_LINE = SUM.length() + 8 + 2;
    private static final byte[] PRINTABLE =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,-".getBytes(StandardCharsets.US_ASCII);

    private SoakMessage() {}

    /** Mostly a few kB, sometimes tens of kB, now and then up to a MB (Postern's backpressure at work). */
    static int randomSize(ThreadLocalRandom random) {
        int dice = random.nextInt(100);
        if (dice < 90) {
            return random.nextInt(500, 8 * 1024);
        }
        if (dice < 99) {
            return random.nextInt(16 * 1024, 64 * 1024);
        }
        return random.nextInt(256 * 1024, 1024 * 1024);
    }

    /** A message of about {@code size} bytes, CRLF line ends. */
    static byte[] create(int size, ThreadLocalRandom random) {
        StringBuilder rest = new StringBuilder(size + 80);
        rest.append("Subject: soak ").append(random.nextLong(Long.MAX_VALUE)).append("\r\n\r\n");
        while (rest.length() < size) {
            for (int i = 0; i < 76; i++) {
                rest.append((char) PRINTABLE[random.nextInt(PRINTABLE.length)]);
            }
            rest.append("\r\n");
        }
        byte[] body = rest.toString().getBytes(StandardCharsets.US_ASCII);
        CRC32 crc = new CRC32();
        crc.update(body);
        byte[] first = String.format("%s%08x\r\n", SUM, crc.getValue()).getBytes(StandardCharsets.US_ASCII);
        byte[] message = new byte[first.length + body.length];
        System.arraycopy(first, 0, message, 0, first.length);
        System.arraycopy(body, 0, message, first.length, body.length);
        return message;
    }

    /** Checks one fetched body, fed chunk by chunk. */
    static final class Check {
        private final byte[] firstLine = new byte[FIRST_LINE];
        private final long size;
        private long seen;
        private final CRC32 crc = new CRC32();

        Check(long size) {
            this.size = size;
        }

        void update(ByteBuf chunk) {
            int from = chunk.readerIndex();
            int n = chunk.readableBytes();
            int head = (int) Math.max(0, Math.min(FIRST_LINE - seen, n));
            if (head > 0) {
                chunk.getBytes(from, firstLine, (int) seen, head);
            }
            crc.update(chunk.nioBuffer(from + head, n - head));
            seen += n;
        }

        /** {@code null} when the body is whole and its checksum matches, else what is wrong. */
        String verdict() {
            if (seen != size) {
                return "body of " + seen + " bytes, " + size + " announced";
            }
            String line = new String(firstLine, StandardCharsets.US_ASCII);
            String expected = String.format("%s%08x\r\n", SUM, crc.getValue());
            return line.equals(expected) ? null : "checksum mismatch: " + line.strip() + ", computed " + expected.strip();
        }
    }
}
