package io.postern.policies.scan;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.postern.policies.mime.SpillBuffer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A clamd client: {@code INSTREAM} scans and {@code PING}, over TCP or a Unix socket
 * ({@link ClamdConfig#address()}), on a small bounded executor of its own. Every call returns at
 * once with a future; the future always completes within {@link ClamdConfig#timeout()} (plus
 * scheduling) with a verdict, never exceptionally: when clamd cannot be asked (refused, timed out,
 * queue full, an error answer, content over {@link ClamdConfig#maxStreamBytes()}) the verdict is
 * {@link ScanVerdict.Outcome#FAILED_OPEN} or {@link ScanVerdict.Outcome#FAILED_CLOSED} as
 * configured, with the cause in its reason.
 *
 * <p>Verdicts {@code CLEAN} and {@code BLOCKED} are cached by the SHA-256 of the content
 * (Caffeine), so content seen again is not sent again; failures are never cached.
 *
 * <p>Thread-safe. Callbacks on the returned futures run on the client's threads (or the caller's
 * when already complete): hop back to your own executor before touching session state. Close the
 * client to stop its threads.
 */
public final class ClamdClient implements AutoCloseable {

    /** The longest answer read from clamd. */
    static final int MAX_REPLY = 4096;

    private static final AtomicInteger CLIENTS = new AtomicInteger();

    private final ClamdConfig config;
    private final ThreadPoolExecutor executor;
    private final Cache<String, ScanVerdict> cache;
    private final AtomicLong streams = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();

    /** Where the content comes from; opened on a client thread, possibly after the caller moved on. */
    @FunctionalInterface
    public interface Content {
        InputStream open() throws IOException;
    }

    public ClamdClient(ClamdConfig config) {
        this.config = config;
        int id = CLIENTS.incrementAndGet();
        AtomicInteger threads = new AtomicInteger();
        this.executor = new ThreadPoolExecutor(config.maxConcurrent(), config.maxConcurrent(), 30, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(config.maxQueued()), r -> {
                    Thread t = new Thread(r, "postern-clamd-" + id + "-" + threads.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        executor.allowCoreThreadTimeOut(true);
        this.cache = config.cacheEntries() == 0 ? null
                : Caffeine.newBuilder().maximumSize(config.cacheEntries()).expireAfterWrite(config.cacheTtl()).build();
    }

    public ClamdConfig config() {
        return config;
    }

    /** INSTREAM connections opened so far (cache hits open none). */
    public long streamsSent() {
        return streams.get();
    }

    /** Scans that ended as {@code FAILED_OPEN} or {@code FAILED_CLOSED}. */
    public long failures() {
        return failures.get();
    }

    /** Scans sealed content; keep {@code content} open until the future completes. */
    public CompletableFuture<ScanVerdict> scan(SpillBuffer content) {
        if (content.truncated()) {
            return CompletableFuture.completedFuture(failed("the content (" + content.size()
                    + " bytes) was larger than its buffer kept, so it cannot be scanned whole"));
        }
        return scan(content.sha256(), content.size(), content::open);
    }

    public CompletableFuture<ScanVerdict> scan(byte[] content) {
        return scan(sha256(content), content.length, () -> new ByteArrayInputStream(content));
    }

    /**
     * Scans {@code size} bytes from {@code content}, whose SHA-256 is {@code sha256} (the cache key).
     */
    public CompletableFuture<ScanVerdict> scan(byte[] sha256, long size, Content content) {
        String key = HexFormat.of().formatHex(sha256);
        if (cache != null) {
            ScanVerdict cached = cache.getIfPresent(key);
            if (cached != null) {
                return CompletableFuture.completedFuture(cached);
            }
        }
        if (size > config.maxStreamBytes()) {
            return CompletableFuture.completedFuture(failed(size + " bytes is over the scan limit of " + config.maxStreamBytes()));
        }
        long deadline = System.nanoTime() + config.timeout().toNanos();
        CompletableFuture<ScanVerdict> result = new CompletableFuture<>();
        try {
            executor.execute(() -> {
                if (result.isDone()) {
                    return;
                }
                ScanVerdict verdict;
                try {
                    verdict = parseScanReply(exchange("zINSTREAM\0", content, deadline));
                } catch (IOException | RuntimeException e) {
                    verdict = failed("clamd could not be asked: " + describe(e));
                }
                if (cache != null && (verdict.outcome() == ScanVerdict.Outcome.CLEAN || verdict.outcome() == ScanVerdict.Outcome.BLOCKED)) {
                    cache.put(key, verdict);
                }
                result.complete(verdict);
            });
        } catch (RejectedExecutionException e) {
            return CompletableFuture.completedFuture(failed("the clamd scan queue is full (" + config.maxQueued() + ")"));
        }
        return result.completeOnTimeout(null, config.timeout().toMillis(), TimeUnit.MILLISECONDS)
                .thenApply(v -> v != null ? v : failed("no answer from clamd within " + config.timeout().toMillis() + " ms"));
    }

    /** {@code PING}: completes with clamd's answer ({@code PONG}), or exceptionally when clamd cannot be reached. */
    public CompletableFuture<String> ping() {
        long deadline = System.nanoTime() + config.timeout().toNanos();
        CompletableFuture<String> result = new CompletableFuture<>();
        try {
            executor.execute(() -> {
                try {
                    result.complete(exchange("zPING\0", null, deadline));
                } catch (IOException | RuntimeException e) {
                    result.completeExceptionally(e);
                }
            });
        } catch (RejectedExecutionException e) {
            result.completeExceptionally(e);
        }
        return result.orTimeout(config.timeout().toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }

    // ---------------------------------------------------------------- protocol

    private ScanVerdict parseScanReply(String reply) {
        // "stream: OK", "stream: Eicar-Signature FOUND", "INSTREAM size limit exceeded. ERROR"
        String r = reply.strip();
        if (r.endsWith(" FOUND")) {
            String signature = r.substring(r.startsWith("stream:") ? 7 : 0, r.length() - 6).strip();
            return ScanVerdict.blocked("clamd", "clamd found " + ContentRuleChecker.printable(signature));
        }
        if (r.equals("stream: OK")) {
            return ScanVerdict.clean();
        }
        return failed("clamd answered " + ContentRuleChecker.printable(r));
    }

    private ScanVerdict failed(String reason) {
        failures.incrementAndGet();
        return ScanVerdict.failed(config.failOpen(), "clamd", reason + (config.failOpen() ? " (fail-open)" : " (fail-closed)"));
    }

    /** Sends {@code command}, then {@code content} as INSTREAM chunks if given, and reads the answer up to its NUL. */
    private String exchange(String command, Content content, long deadline) throws IOException {
        SocketAddress address = config.socketAddress();
        boolean unix = address instanceof UnixDomainSocketAddress;
        if (!unix) {
            InetSocketAddress unresolved = (InetSocketAddress) address;
            address = new InetSocketAddress(unresolved.getHostString(), unresolved.getPort());
        }
        try (SocketChannel channel = unix ? SocketChannel.open(StandardProtocolFamily.UNIX) : SocketChannel.open();
                Selector selector = Selector.open()) {
            channel.configureBlocking(false);
            SelectionKey key = channel.register(selector, 0);
            if (!channel.connect(address)) {
                key.interestOps(SelectionKey.OP_CONNECT);
                while (!channel.finishConnect()) {
                    await(selector, deadline, "connecting");
                }
            }
            if (content != null) {
                streams.incrementAndGet();
            }
            write(channel, key, ByteBuffer.wrap(command.getBytes(StandardCharsets.US_ASCII)), deadline);
            if (content != null) {
                try {
                    stream(channel, key, content, deadline);
                } catch (IOException writeFailed) {
                    // clamd may answer and close early (size limit); its answer says more than the broken pipe
                    String early = readReply(channel, key, deadline, true);
                    if (early.isEmpty()) {
                        throw writeFailed;
                    }
                    return early;
                }
            }
            return readReply(channel, key, deadline, false);
        }
    }

    private void stream(SocketChannel channel, SelectionKey key, Content content, long deadline) throws IOException {
        ByteBuffer chunk = ByteBuffer.allocate(4 + config.chunkBytes());
        try (InputStream in = content.open()) {
            for (;;) {
                int n = in.readNBytes(chunk.array(), 4, config.chunkBytes());
                chunk.clear();
                chunk.putInt(0, n);
                chunk.limit(4 + n);
                write(channel, key, chunk, deadline);
                if (n == 0) {
                    return; // the zero-length chunk ends the stream
                }
                if (System.nanoTime() - deadline > 0) {
                    throw new IOException("timed out streaming the content");
                }
            }
        }
    }

    private static void write(SocketChannel channel, SelectionKey key, ByteBuffer buffer, long deadline) throws IOException {
        while (buffer.hasRemaining()) {
            if (channel.write(buffer) == 0) {
                key.interestOps(SelectionKey.OP_WRITE);
                await(key.selector(), deadline, "writing");
            }
        }
    }

    private static String readReply(SocketChannel channel, SelectionKey key, long deadline, boolean afterFailure) throws IOException {
        ByteBuffer reply = ByteBuffer.allocate(MAX_REPLY);
        key.interestOps(SelectionKey.OP_READ);
        for (;;) {
            int n;
            try {
                n = channel.read(reply);
            } catch (IOException e) {
                if (afterFailure) {
                    break;
                }
                throw e;
            }
            if (n < 0) {
                break;
            }
            int length = reply.position();
            if (length > 0 && reply.get(length - 1) == 0) {
                return new String(reply.array(), 0, length - 1, StandardCharsets.US_ASCII);
            }
            if (!reply.hasRemaining()) {
                throw new IOException("an answer longer than " + MAX_REPLY + " bytes");
            }
            if (n == 0) {
                await(key.selector(), deadline, "waiting for the answer");
            }
        }
        if (reply.position() == 0 && !afterFailure) {
            throw new IOException("clamd closed the connection without an answer");
        }
        return new String(reply.array(), 0, reply.position(), StandardCharsets.US_ASCII);
    }

    private static void await(Selector selector, long deadline, String what) throws IOException {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0) {
            throw new IOException("timed out " + what);
        }
        selector.select(left);
        selector.selectedKeys().clear();
    }

    private static String describe(Exception e) {
        String message = e.getMessage();
        return e.getClass().getSimpleName() + (message == null ? "" : ": " + ContentRuleChecker.printable(message));
    }

    static byte[] sha256(byte[] content) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(content);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }
}
