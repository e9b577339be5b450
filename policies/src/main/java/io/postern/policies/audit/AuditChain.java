package io.postern.policies.audit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The HMAC-SHA-256 chain over audit records. A record's line is
 * {@code {"v":1,"seq":N,<fields>,"mac":"<64 hex>"}}; its canonical bytes are the UTF-8 bytes of
 * that line without {@code ,"mac":"..."} (so {@code {"v":1,"seq":N,<fields>}}), and
 * {@code mac = HMAC-SHA-256(key, previous mac (32 bytes) || canonical bytes)}, the first record's
 * previous mac being 32 zero bytes. Sequence numbers start at 1 and rise by one per record,
 * across rotated files.
 *
 * <p>Not thread-safe: one sink's writer thread owns its chain.
 */
public final class AuditChain {

    /** The schema version written in every record's {@code v}. */
    public static final int VERSION = 1;

    static final String MAC_FIELD = ",\"mac\":\"";
    static final int MAC_HEX = 64;
    /** The shortest key accepted, in bytes. */
    public static final int MIN_KEY_BYTES = 16;

    private final Mac mac;
    private long seq;
    private byte[] previous;

    /** A chain that goes on after record {@code lastSeq} whose mac was {@code lastMac} (0 and zeros for a new one). */
    public AuditChain(byte[] key, long lastSeq, byte[] lastMac) {
        this.mac = newMac(key);
        this.seq = lastSeq;
        this.previous = lastMac.clone();
    }

    public static AuditChain fresh(byte[] key) {
        return new AuditChain(key, 0, new byte[32]);
    }

    /** Reads a key file: its bytes, trailing line ends taken off; at least {@link #MIN_KEY_BYTES}. */
    public static byte[] readKey(Path file) throws IOException {
        byte[] b = Files.readAllBytes(file);
        int n = b.length;
        while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r')) {
            n--;
        }
        if (n < MIN_KEY_BYTES) {
            throw new IOException(file + ": the key has " + n + " bytes (expected: at least " + MIN_KEY_BYTES + ")");
        }
        return Arrays.copyOf(b, n);
    }

    static Mac newMac(byte[] key) {
        try {
            Mac m = Mac.getInstance("HmacSHA256");
            m.init(new SecretKeySpec(key, "HmacSHA256"));
            return m;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available", e);
        }
    }

    /** The next record's line, ending in {@code \n}, for an event body ({@link AuditEvent#body()}). */
    public String seal(String body) {
        seq++;
        String canonical = "{\"v\":" + VERSION + ",\"seq\":" + seq + "," + body + "}";
        byte[] m = mac(mac, previous, canonical.getBytes(StandardCharsets.UTF_8));
        previous = m;
        return canonical.substring(0, canonical.length() - 1) + MAC_FIELD + HexFormat.of().formatHex(m) + "\"}\n";
    }

    public long lastSeq() {
        return seq;
    }

    public byte[] lastMac() {
        return previous.clone();
    }

    static byte[] mac(Mac mac, byte[] previous, byte[] canonical) {
        mac.update(previous);
        return mac.doFinal(canonical);
    }

    static boolean same(byte[] a, byte[] b) {
        return MessageDigest.isEqual(a, b);
    }
}
