package io.postern.proxy.session;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.postern.imap.codec.LiteralAnnouncement;
import io.postern.imap.codec.LiteralChunk;
import io.postern.policies.ContentInspector;
import io.postern.policies.ContentVerdict;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ScannedDownloadTest {

    @TempDir
    Path temp;

    private final EventLoop loop = new DefaultEventLoop();
    private final ExecutorService ioThread = Executors.newSingleThreadExecutor(r -> new Thread(r, "io-under-test"));
    private final EmbeddedChannel client = new EmbeddedChannel();
    private final CountDownLatch written = new CountDownLatch(1);

    @AfterEach
    void stop() throws Exception {
        ioThread.shutdownNow();
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        client.finishAndReleaseAll();
    }

    /** A content policy's inspector that remembers where it was fed and answers {@code verdict}. */
    private static final class Recording implements ContentInspector {
        final Set<String> threads = ConcurrentHashMap.newKeySet();
        final AtomicInteger bytes = new AtomicInteger();
        final ContentVerdict verdict;
        final Path dir;

        Recording(ContentVerdict verdict, Path dir) {
            this.verdict = verdict;
            this.dir = dir;
        }

        @Override
        public void onData(ByteBuffer chunk) {
            threads.add(Thread.currentThread().getName());
            bytes.addAndGet(chunk.remaining());
        }

        @Override
        public CompletableFuture<ContentVerdict> onEnd() {
            threads.add(Thread.currentThread().getName());
            return CompletableFuture.completedFuture(verdict);
        }

        @Override
        public int memoryThreshold() {
            return 0; // every byte goes to the temporary file
        }

        @Override
        public Path tempDirectory() {
            return dir;
        }

        @Override
        public void close() {}
    }

    private ScannedDownload.Host host() {
        return host(written);
    }

    private ScannedDownload.Host host(CountDownLatch done) {
        return new ScannedDownload.Host() {
            @Override
            public Channel client() {
                return client;
            }

            @Override
            public void scanned(ContentVerdict verdict, long nanos) {}

            @Override
            public void downloadWritten(ScannedDownload download) {
                done.countDown();
            }

            @Override
            public void downloadDrained(ScannedDownload download) {}
        };
    }

    private ScannedDownload download(Recording inspector, String line, long size, long origin, long count) throws Exception {
        return loop.submit(() -> new ScannedDownload(host(), loop, "t", List.of(inspector),
                Unpooled.copiedBuffer(line, StandardCharsets.US_ASCII), new LiteralAnnouncement(size, false, false), null, null,
                origin < 0 ? null : ScannedDownload.Slice.of(origin, count), SpillIo.serial(ioThread))).get();
    }

    private String output() throws Exception {
        loop.submit(() -> {
            client.flush();
        }).get(); // the session flushes once the held response is written
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuf b;
        while ((b = client.readOutbound()) != null) {
            byte[] bytes = new byte[b.readableBytes()];
            b.readBytes(bytes);
            b.release();
            out.writeBytes(bytes);
        }
        return out.toString(StandardCharsets.ISO_8859_1);
    }

    @Test
    void theHeldLiteralIsWrittenAndFedOffTheEventLoopAndNothingIsLeft() throws Exception {
        Recording inspector = new Recording(ContentVerdict.pass("clean", null), temp);
        byte[] message = "Subject: x\r\n\r\nhello world".getBytes(StandardCharsets.US_ASCII);
        ScannedDownload d = download(inspector, "* 1 FETCH (BODY[] {" + message.length + "}\r\n", message.length, -1, 0);
        CountDownLatch gate = new CountDownLatch(1);
        ioThread.execute(() -> {
            try {
                gate.await(); // the disk is slow
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        loop.submit(() -> {
            d.take(new LiteralChunk(Unpooled.copiedBuffer(message, 0, 5), false));
            d.take(new LiteralChunk(Unpooled.copiedBuffer(message, 5, message.length - 5), true));
        }).get(10, TimeUnit.SECONDS); // the event loop is not held up by the slow disk
        assertThat(inspector.bytes.get()).as("nothing fed while the file work waits").isZero();
        gate.countDown();
        assertThat(written.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(inspector.threads).containsExactly("io-under-test");
        loop.submit(() -> { }).get();
        assertThat(output()).isEqualTo("* 1 FETCH (BODY[] {" + message.length + "}\r\n" + new String(message, StandardCharsets.ISO_8859_1));
        ioThread.submit(() -> { }).get(10, TimeUnit.SECONDS); // the release queued behind it
        try (var files = Files.list(temp)) {
            assertThat(files).as("the temporary file is deleted").isEmpty();
        }
    }

    @Test
    void aRangeIsCutOutOfTheReplacedContentAndNamedWithItsOrigin() throws Exception {
        byte[] message = "0123456789abcdefghij".getBytes(StandardCharsets.US_ASCII);
        // bytes 5..10 become "XY": the replaced content is 01234XYabcdefghij
        ContentVerdict replace = ContentVerdict.replace("blocked", "test",
                List.of(new ContentVerdict.Replacement(5, 10, "XY".getBytes(StandardCharsets.US_ASCII))));
        for (long[] range : new long[][] {{3, 6}, {0, 100}, {6, 1}, {17, 5}, {30, 5}}) {
            Recording inspector = new Recording(replace, temp);
            CountDownLatch done = new CountDownLatch(1);
            ScannedDownload d = loop.submit(() -> new ScannedDownload(host(done), loop, "t", List.of(inspector),
                    Unpooled.copiedBuffer("* 1 FETCH (UID 4 BODY[] {20}\r\n", StandardCharsets.US_ASCII), new LiteralAnnouncement(20, false, false), null, null, ScannedDownload.Slice.of(range[0], range[1]),
                    SpillIo.serial(ioThread))).get();
            loop.submit(() -> d.take(new LiteralChunk(Unpooled.copiedBuffer(message), true))).get();
            assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
            loop.submit(() -> { }).get();
            String replaced = "01234XYabcdefghij";
            int from = (int) Math.min(range[0], replaced.length());
            int to = (int) Math.min(range[0] + range[1], replaced.length());
            assertThat(output()).as("range " + range[0] + "." + range[1])
                    .isEqualTo("* 1 FETCH (UID 4 BODY[]<" + range[0] + "> {" + (to - from) + "}\r\n" + replaced.substring(from, to));
        }
    }

    @Test
    void aWindowOfTheOriginalGivesTheRangeOfTheReplacedContentWithTheClientsOrigin() throws Exception {
        String original = "0123456789abcdefghij";
        List<ContentVerdict.Replacement> rs = List.of(new ContentVerdict.Replacement(5, 10, "XY".getBytes(StandardCharsets.US_ASCII)));
        String replaced = "01234XYabcdefghij";
        for (long[] range : new long[][] {{3, 6}, {6, 6}, {0, 100}, {14, 10}}) {
            long[] window = PartialFetch.window(rs, original.length(), range[0], range[1]);
            String held = original.substring((int) window[0], (int) window[1]);
            CountDownLatch done = new CountDownLatch(1);
            ScannedDownload d = loop.submit(() -> new ScannedDownload(host(done), loop, "t",
                    List.of(new Recording(ContentVerdict.pass("clean", null), temp)),
                    Unpooled.copiedBuffer("* 1 FETCH (BODY[]<" + window[0] + "> {" + held.length() + "}\r\n", StandardCharsets.US_ASCII),
                    new LiteralAnnouncement(held.length(), false, false), ContentVerdict.replace("blocked", "test", rs), null,
                    new ScannedDownload.Slice(range[0], range[1], window[0], original.length()), SpillIo.serial(ioThread))).get();
            loop.submit(() -> d.take(new LiteralChunk(Unpooled.copiedBuffer(held, StandardCharsets.US_ASCII), true))).get();
            assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
            int from = (int) Math.min(range[0], replaced.length());
            int to = (int) Math.min(range[0] + range[1], replaced.length());
            assertThat(output()).as("range " + range[0] + "." + range[1] + " from the window " + held)
                    .isEqualTo("* 1 FETCH (BODY[]<" + range[0] + "> {" + (to - from) + "}\r\n" + replaced.substring(from, to));
        }
    }
}
