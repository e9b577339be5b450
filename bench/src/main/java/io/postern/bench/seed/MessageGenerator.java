package io.postern.bench.seed;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.Locale;
import java.util.Random;

/**
 * Deterministic RFC 5322 messages with CRLF line ends: the same seed and index always give the
 * same bytes. Sizes follow a log-normal distribution (median {@link #MEDIAN_SIZE}), clamped to
 * {@link #MIN_SIZE}..{@link #MAX_SIZE}, as mail stores see: many small text messages, a tail of
 * large ones with attachments. Messages above about 12 KB are {@code multipart/mixed} with a
 * base64 attachment.
 */
public final class MessageGenerator {

    public static final int MIN_SIZE = 2 * 1024;
    public static final int MAX_SIZE = 2 * 1024 * 1024;
    public static final int MEDIAN_SIZE = 12 * 1024;
    /** The spread (sigma) of the log of the size: mean about 2.6 times the median. */
    public static final double SIGMA = 1.4;

    private static final String[] WORDS = ("the of and to in is for on that with as by this be at from are it was "
            + "meeting budget report quarterly review proposal invoice schedule draft attached please find "
            + "regarding follow update project deadline thanks regards team customer server migration "
            + "mailbox backup release notes minutes agenda contract shipment order payment reminder").split(" ");
    private static final String[] NAMES = {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"};
    private static final DateTimeFormatter DATE =
            DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.ROOT).withZone(ZoneOffset.UTC);
    private static final long EPOCH = 1_700_000_000L;

    private final long seed;

    public MessageGenerator(long seed) {
        this.seed = seed;
    }

    /** The size of message {@code index} in a seeded mailbox. */
    public int size(int index) {
        Random random = new Random(mix(index, 1));
        double size = MEDIAN_SIZE * Math.exp(SIGMA * random.nextGaussian());
        return (int) Math.max(MIN_SIZE, Math.min(MAX_SIZE, size));
    }

    /** Message {@code index} of the seeded mailbox, {@link #size(int)} bytes long. */
    public byte[] message(int index) {
        return message(index, size(index));
    }

    /** A message of exactly {@code size} bytes (at least {@link #MIN_SIZE}). */
    public byte[] message(int index, int size) {
        if (size < MIN_SIZE) {
            throw new IllegalArgumentException("size: " + size + " (expected: >= " + MIN_SIZE + ")");
        }
        Random random = new Random(mix(index, 2));
        String from = NAMES[random.nextInt(NAMES.length)];
        String to = NAMES[random.nextInt(NAMES.length)];
        Instant date = Instant.ofEpochSecond(EPOCH + index * 3_600L + random.nextInt(3_600));
        StringBuilder head = new StringBuilder(1024);
        head.append("Return-Path: <").append(from).append("@example.com>\r\n")
                .append("Received: from mx.example.com (mx.example.com [192.0.2.25])\r\n\tby imap.example.com with ESMTPS id ")
                .append(Long.toHexString(random.nextLong())).append("\r\n\tfor <").append(to).append("@example.com>; ")
                .append(DATE.format(date)).append("\r\n")
                .append("Message-ID: <").append(seed).append('.').append(index).append("@bench.postern.example>\r\n")
                .append("Date: ").append(DATE.format(date)).append("\r\n")
                .append("From: ").append(capital(from)).append(" <").append(from).append("@example.com>\r\n")
                .append("To: ").append(capital(to)).append(" <").append(to).append("@example.com>\r\n")
                .append("Subject: ").append(sentence(random, 3 + random.nextInt(6))).append(" #").append(index).append("\r\n")
                .append("MIME-Version: 1.0\r\n");
        boolean attachment = size > 12 * 1024;
        String boundary = "=_bench_" + index;
        if (attachment) {
            head.append("Content-Type: multipart/mixed; boundary=\"").append(boundary).append("\"\r\n\r\n")
                    .append("--").append(boundary).append("\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
        } else {
            head.append("Content-Type: text/plain; charset=utf-8\r\n\r\n");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(size);
        write(out, head);
        String tail = attachment ? "\r\n--" + boundary + "--\r\n" : "";
        int textSize = attachment ? Math.min(2_000 + random.nextInt(4_000), size / 4) : size - out.size() - tail.length();
        StringBuilder text = new StringBuilder(textSize + 100);
        while (text.length() < textSize) {
            text.append(sentence(random, 6 + random.nextInt(10))).append(".\r\n");
        }
        if (!attachment) {
            // exact size: cut the text, end with CRLF
            endLine(text, textSize, ' ');
            write(out, text);
            return exact(out.toByteArray(), size);
        }
        write(out, text);
        String partHead = "\r\n--" + boundary + "\r\nContent-Type: application/octet-stream; name=\"file" + index
                + ".bin\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"file"
                + index + ".bin\"\r\n\r\n";
        write(out, partHead);
        int base64Size = size - out.size() - tail.length();
        // base64 lines of 76 characters plus CRLF; random bytes encode to random-looking text
        byte[] raw = new byte[57];
        StringBuilder lines = new StringBuilder(base64Size + 80);
        Base64.Encoder encoder = Base64.getEncoder();
        while (lines.length() < base64Size) {
            random.nextBytes(raw);
            lines.append(encoder.encodeToString(raw)).append("\r\n");
        }
        endLine(lines, base64Size, 'A');
        write(out, lines);
        write(out, tail);
        return exact(out.toByteArray(), size);
    }

    /** Cuts {@code text} to {@code length} chars ending in CRLF, leaving no bare CR behind. */
    private static void endLine(StringBuilder text, int length, char filler) {
        text.setLength(Math.max(0, length - 2));
        int last = text.length() - 1;
        if (last >= 0 && text.charAt(last) == '\r') {
            text.setCharAt(last, filler);
        }
        text.append("\r\n");
    }

    private static byte[] exact(byte[] bytes, int size) {
        if (bytes.length != size) {
            throw new IllegalStateException("generated " + bytes.length + " bytes for a message of " + size);
        }
        return bytes;
    }

    private static void write(ByteArrayOutputStream out, CharSequence text) {
        out.writeBytes(text.toString().getBytes(StandardCharsets.US_ASCII));
    }

    private static String sentence(Random random, int words) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < words; i++) {
            if (i > 0) {
                s.append(' ');
            }
            s.append(WORDS[random.nextInt(WORDS.length)]);
        }
        s.setCharAt(0, Character.toUpperCase(s.charAt(0)));
        return s.toString();
    }

    private static String capital(String name) {
        return Character.toUpperCase(name.charAt(0)) + name.substring(1);
    }

    private long mix(int index, int stream) {
        long z = seed * 0x9E3779B97F4A7C15L + index * 0xBF58476D1CE4E5B9L + stream;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
