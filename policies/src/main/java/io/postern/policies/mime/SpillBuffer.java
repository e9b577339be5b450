package io.postern.policies.mime;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * The decoded content of one part, for a consumer that needs it whole (a ZIP reader, an
 * antivirus stream): kept in memory up to a threshold, then in a temporary file readable by the
 * owner only, which {@link #close()} deletes (and a {@link Cleaner} deletes if the buffer is
 * dropped unclosed). Content beyond {@code maxBytes} is counted and hashed but not kept:
 * {@link #truncated()} says so. The SHA-256 and the first {@value #HEAD_BYTES} bytes are
 * kept for every size.
 *
 * <p>Not thread-safe. Write, then {@link #seal()}, then read as often as needed.
 */
public final class SpillBuffer implements AutoCloseable {

    /** Bytes kept of the start of the content, for magic-byte sniffing. */
    public static final int HEAD_BYTES = 512;

    private static final Cleaner CLEANER = Cleaner.create();

    private final int memoryThreshold;
    private final long maxBytes;
    private final Path tempDirectory;
    private final MessageDigest sha256;
    private final byte[] head = new byte[HEAD_BYTES];
    private int headLen;
    private byte[] memory = new byte[256];
    private int memoryLen;
    private OutputStream file;
    private TempFile temp;
    private Cleaner.Cleanable cleanable;
    private long size;
    private long kept;
    private byte[] digest;
    private boolean closed;

    /**
     * @param memoryThreshold bytes kept in memory before spilling to a file (0: spill at once)
     * @param maxBytes the most bytes kept at all
     * @param tempDirectory where the file goes, or null for the JVM's temporary directory
     */
    public SpillBuffer(int memoryThreshold, long maxBytes, Path tempDirectory) {
        if (memoryThreshold < 0) {
            throw new IllegalArgumentException("memoryThreshold: " + memoryThreshold + " (expected: >= 0)");
        }
        if (maxBytes < 0) {
            throw new IllegalArgumentException("maxBytes: " + maxBytes + " (expected: >= 0)");
        }
        this.memoryThreshold = memoryThreshold;
        this.maxBytes = maxBytes;
        this.tempDirectory = tempDirectory;
        try {
            this.sha256 = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }

    public void write(ByteBuffer chunk) throws IOException {
        if (chunk.hasArray()) {
            write(chunk.array(), chunk.arrayOffset() + chunk.position(), chunk.remaining());
            chunk.position(chunk.limit());
        } else {
            byte[] copy = new byte[chunk.remaining()];
            chunk.get(copy);
            write(copy, 0, copy.length);
        }
    }

    public void write(byte[] b, int off, int len) throws IOException {
        if (digest != null || closed) {
            throw new IllegalStateException(closed ? "closed" : "sealed");
        }
        sha256.update(b, off, len);
        size += len;
        if (headLen < HEAD_BYTES) {
            int n = Math.min(len, HEAD_BYTES - headLen);
            System.arraycopy(b, off, head, headLen, n);
            headLen += n;
        }
        int keep = (int) Math.min(len, maxBytes - kept);
        if (keep <= 0) {
            return;
        }
        kept += keep;
        if (file == null && memoryLen + keep > memoryThreshold) {
            spill();
        }
        if (file != null) {
            file.write(b, off, keep);
        } else {
            if (memoryLen + keep > memory.length) {
                memory = Arrays.copyOf(memory, Math.min(memoryThreshold, Math.max(memoryLen + keep, memory.length * 2)));
            }
            System.arraycopy(b, off, memory, memoryLen, keep);
            memoryLen += keep;
        }
    }

    private void spill() throws IOException {
        Path dir = tempDirectory != null ? tempDirectory : Path.of(System.getProperty("java.io.tmpdir"));
        Path path = FileSystems.getDefault().supportedFileAttributeViews().contains("posix")
                ? Files.createTempFile(dir, "postern-part-", ".tmp",
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))
                : Files.createTempFile(dir, "postern-part-", ".tmp");
        temp = new TempFile(path);
        cleanable = CLEANER.register(this, temp);
        file = Files.newOutputStream(path);
        temp.stream = file;
        file.write(memory, 0, memoryLen);
        memory = new byte[0];
        memoryLen = 0;
    }

    /** Ends writing: flushes the file and fixes the hash. */
    public void seal() throws IOException {
        if (digest != null) {
            return;
        }
        digest = sha256.digest();
        if (file != null) {
            file.close();
            file = null;
            temp.stream = null;
        }
    }

    /** Bytes written, kept or not. */
    public long size() {
        return size;
    }

    /** True when more than {@code maxBytes} were written: only the first {@code maxBytes} are kept. */
    public boolean truncated() {
        return size > kept;
    }

    public boolean spilled() {
        return temp != null;
    }

    /** Bytes held on the heap by this buffer. */
    public int memoryBytes() {
        return memory.length + head.length;
    }

    /** The first bytes of the content (up to {@value #HEAD_BYTES}). */
    public byte[] head() {
        return Arrays.copyOf(head, headLen);
    }

    /** The SHA-256 of everything written (kept or not); after {@link #seal()}. */
    public byte[] sha256() {
        requireSealed();
        return digest.clone();
    }

    public String sha256Hex() {
        return HexFormat.of().formatHex(sha256());
    }

    /** The kept content, from the start; after {@link #seal()}. */
    public InputStream open() throws IOException {
        requireSealed();
        return temp != null ? Files.newInputStream(temp.path) : new ByteArrayInputStream(memory, 0, memoryLen);
    }

    /** The kept content as a file, written now if it was still in memory; after {@link #seal()}. */
    public Path file() throws IOException {
        requireSealed();
        if (temp == null) {
            spill();
            file.close();
            file = null;
            temp.stream = null;
        }
        return temp.path;
    }

    private void requireSealed() {
        if (closed) {
            throw new IllegalStateException("closed");
        }
        if (digest == null) {
            throw new IllegalStateException("not sealed");
        }
    }

    /** Deletes the file, if any. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        memory = new byte[0];
        if (cleanable != null) {
            cleanable.clean();
            if (temp.failure != null) {
                throw temp.failure;
            }
        }
    }

    /** The file and its stream, as the Cleaner sees them (no reference back to the buffer). */
    private static final class TempFile implements Runnable {
        final Path path;
        OutputStream stream;
        IOException failure;

        TempFile(Path path) {
            this.path = path;
        }

        @Override
        public void run() {
            // close() rethrows a failure; from the Cleaner there is no caller left to tell
            if (stream != null) {
                OutputStream s = stream;
                stream = null;
                try {
                    s.close();
                } catch (IOException e) {
                    failure = e;
                }
            }
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
    }
}
