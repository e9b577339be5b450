package io.postern.policies.scan;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.postern.policies.mime.MimeParserConfig;
import io.postern.policies.testing.ClamdFixture;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Against Debian's real clamd, started once for the class with a database of the EICAR test string. */
class ClamdClientTest {

    /** Generous: only a guard against a hang, never a performance assertion. */
    private static final long GUARD_SECONDS = 120;

    private static ClamdFixture clamd;

    @BeforeAll
    static void startClamd() throws IOException {
        clamd = ClamdFixture.start();
    }

    @AfterAll
    static void stopClamd() throws IOException {
        if (clamd != null) {
            clamd.close();
        }
    }

    private static ScanVerdict await(java.util.concurrent.CompletableFuture<ScanVerdict> f) throws Exception {
        return f.get(GUARD_SECONDS, TimeUnit.SECONDS);
    }

    private static ClamdConfig config(String address) {
        return ClamdConfig.defaults(address).withTimeout(Duration.ofSeconds(60));
    }

    @Test
    void pingOverTcpAndUnixSocket() throws Exception {
        for (String address : List.of(clamd.tcpAddress(), clamd.unixAddress())) {
            try (ClamdClient client = new ClamdClient(config(address))) {
                assertThat(client.ping().get(GUARD_SECONDS, TimeUnit.SECONDS)).isEqualTo("PONG");
            }
        }
    }

    @Test
    void eicarIsFoundAndCleanContentPassesOverBothSockets() throws Exception {
        for (String address : List.of(clamd.tcpAddress(), clamd.unixAddress())) {
            try (ClamdClient client = new ClamdClient(config(address))) {
                ScanVerdict found = await(client.scan(ClamdFixture.eicar()));
                assertThat(found.outcome()).isEqualTo(ScanVerdict.Outcome.BLOCKED);
                assertThat(found.rule()).isEqualTo("clamd");
                assertThat(found.reason()).isEqualTo("clamd found " + ClamdFixture.SIGNATURE);
                assertThat(await(client.scan("a clean text".getBytes(ISO_8859_1)))).isEqualTo(ScanVerdict.clean());
                assertThat(client.streamsSent()).isEqualTo(2);
            }
        }
    }

    @Test
    void largeContentIsStreamedInChunks() throws Exception {
        byte[] big = new byte[5 * 1024 * 1024 + 17];
        new Random(7).nextBytes(big);
        System.arraycopy(ClamdFixture.eicar(), 0, big, big.length - 200, ClamdFixture.eicar().length);
        try (ClamdClient client = new ClamdClient(config(clamd.unixAddress()))) {
            assertThat(await(client.scan(big)).reason()).isEqualTo("clamd found " + ClamdFixture.SIGNATURE);
        }
    }

    @Test
    void eicarInABase64AttachmentIsFoundThroughTheMimeParser(@TempDir Path temp) throws Exception {
        try (ClamdClient client = new ClamdClient(config(clamd.tcpAddress()))) {
            MessageScanner scanner = new MessageScanner(MimeParserConfig.defaults(), new ContentRuleChecker(ContentRules.defaults()),
                    client, false, 1 << 20, temp);
            byte[] infected = ScanTestData.message("notes.txt", "text/plain", ClamdFixture.eicar());
            ScanVerdict v = scan(scanner, infected, 7);
            assertThat(v.outcome()).isEqualTo(ScanVerdict.Outcome.BLOCKED);
            assertThat(v.rule()).isEqualTo("clamd");

            byte[] zipped = ScanTestData.message("notes.zip", "application/zip", ScanTestData.zipWith("notes.txt", ClamdFixture.eicar()));
            assertThat(scan(scanner, zipped, 100).rule()).isEqualTo("clamd");

            byte[] clean = ScanTestData.message("report.pdf", "application/pdf", ScanTestData.pdf());
            assertThat(scan(scanner, clean, 3)).isEqualTo(ScanVerdict.clean());

            // the rules decide before clamd is asked
            long before = client.streamsSent();
            byte[] renamed = ScanTestData.message("invoice.pdf", "application/pdf", ScanTestData.pe());
            assertThat(scan(scanner, renamed, 11).rule()).isEqualTo("file-type");
            // the text part is the same as before (a cache hit), the PE never reaches clamd
            assertThat(client.streamsSent()).isEqualTo(before);
        }
        assertThat(temp).isEmptyDirectory();
    }

    /** Past the parser's depth limit the raw rest goes to clamd, which finds what is inside. */
    @Test
    void contentBelowTheDepthLimitStillReachesClamd(@TempDir Path temp) throws Exception {
        StringBuilder deep = new StringBuilder();
        for (int i = 0; i < 24; i++) {
            deep.append("Content-Type: multipart/mixed; boundary=d").append(i).append("\r\n\r\n--d").append(i).append("\r\n");
        }
        deep.append("Content-Type: application/octet-stream; name=x.txt\r\nContent-Transfer-Encoding: base64\r\n\r\n")
                .append(java.util.Base64.getMimeEncoder().encodeToString(ClamdFixture.eicar())).append("\r\n");
        for (int i = 23; i >= 0; i--) {
            deep.append("--d").append(i).append("--\r\n");
        }
        try (ClamdClient client = new ClamdClient(config(clamd.unixAddress()))) {
            MessageScanner scanner = new MessageScanner(MimeParserConfig.defaults(), new ContentRuleChecker(ContentRules.defaults()),
                    client, false, 1 << 20, temp);
            ScanVerdict v = scan(scanner, deep.toString().getBytes(ISO_8859_1), 4096);
            assertThat(v.rule()).isEqualTo("clamd");
            assertThat(v.outcome()).isEqualTo(ScanVerdict.Outcome.BLOCKED);
        }
    }

    static ScanVerdict scan(MessageScanner scanner, byte[] message, int chunk) throws Exception {
        try (MessageScanner.Scan scan = scanner.begin()) {
            for (int i = 0; i < message.length; i += chunk) {
                scan.feed(message, i, Math.min(chunk, message.length - i));
            }
            return await(scan.finish());
        }
    }

    @Test
    void aCacheHitAvoidsASecondScan() throws Exception {
        try (ClamdClient client = new ClamdClient(config(clamd.tcpAddress()))) {
            ScanVerdict first = await(client.scan(ClamdFixture.eicar()));
            ScanVerdict second = await(client.scan(ClamdFixture.eicar()));
            assertThat(second).isEqualTo(first);
            assertThat(client.streamsSent()).isEqualTo(1);
            assertThat(await(client.scan("clean".getBytes(ISO_8859_1)))).isEqualTo(ScanVerdict.clean());
            assertThat(await(client.scan("clean".getBytes(ISO_8859_1)))).isEqualTo(ScanVerdict.clean());
            assertThat(client.streamsSent()).isEqualTo(2);
        }
        ClamdConfig d = config(clamd.tcpAddress());
        ClamdConfig noCache = new ClamdConfig(d.address(), d.timeout(), false, 2, 10, 4096, 1 << 20, 0, Duration.ofMinutes(1));
        try (ClamdClient client = new ClamdClient(noCache)) {
            await(client.scan(ClamdFixture.eicar()));
            await(client.scan(ClamdFixture.eicar()));
            assertThat(client.streamsSent()).isEqualTo(2);
        }
    }

    @Test
    void clamdDownGivesTheConfiguredAnswer() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        for (String address : List.of("127.0.0.1:" + closedPort, "unix:" + clamd.socket().resolveSibling("absent.sock"))) {
            for (boolean failOpen : new boolean[] {true, false}) {
                try (ClamdClient client = new ClamdClient(config(address).withFailOpen(failOpen))) {
                    ScanVerdict v = await(client.scan(ClamdFixture.eicar()));
                    assertThat(v.outcome()).as(address).isEqualTo(failOpen ? ScanVerdict.Outcome.FAILED_OPEN : ScanVerdict.Outcome.FAILED_CLOSED);
                    assertThat(v.allows()).isEqualTo(failOpen);
                    assertThat(v.reason()).startsWith("clamd could not be asked: ").endsWith(failOpen ? "(fail-open)" : "(fail-closed)");
                    assertThat(client.failures()).isEqualTo(1);
                    // failures are not cached: the next scan asks again
                    await(client.scan(ClamdFixture.eicar()));
                    assertThat(client.streamsSent()).isZero();
                    assertThat(client.failures()).isEqualTo(2);
                    ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                            () -> client.ping().get(GUARD_SECONDS, TimeUnit.SECONDS));
                    assertThat(e.getCause()).isInstanceOf(IOException.class);
                }
            }
        }
    }

    /** A server that accepts and never answers: the scan ends at the timeout with the configured answer. */
    @Test
    void aSilentClamdEndsAtTheTimeout() throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            List<Socket> accepted = new ArrayList<>();
            Thread acceptor = new Thread(() -> {
                try {
                    for (int i = 0; i < 4; i++) {
                        accepted.add(silent.accept());
                    }
                } catch (IOException closed) {
                    // the test closed the server socket: nothing more to accept
                }
            }, "silent-clamd");
            acceptor.start();
            for (boolean failOpen : new boolean[] {true, false}) {
                ClamdConfig c = ClamdConfig.defaults("127.0.0.1:" + silent.getLocalPort()).withTimeout(Duration.ofMillis(500)).withFailOpen(failOpen);
                try (ClamdClient client = new ClamdClient(c)) {
                    long start = System.nanoTime();
                    ScanVerdict v = await(client.scan("x".getBytes(ISO_8859_1)));
                    long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                    assertThat(v.outcome()).isEqualTo(failOpen ? ScanVerdict.Outcome.FAILED_OPEN : ScanVerdict.Outcome.FAILED_CLOSED);
                    assertThat(v.reason()).containsAnyOf("timed out", "no answer from clamd within 500 ms");
                    assertThat(tookMillis).as("not before the timeout").isGreaterThanOrEqualTo(450);
                }
            }
            silent.close();
            acceptor.join(TimeUnit.SECONDS.toMillis(GUARD_SECONDS));
            for (Socket s : accepted) {
                s.close();
            }
        }
    }

    @Test
    void configIsValidated() {
        assertThatThrownBy(() -> ClamdConfig.defaults("localhost")).hasMessage("address: \"localhost\" (expected: host:port or unix:/path)");
        assertThatThrownBy(() -> ClamdConfig.defaults("unix:relative.sock")).hasMessageContaining("absolute path");
        assertThatThrownBy(() -> ClamdConfig.defaults("127.0.0.1:3310").withTimeout(Duration.ZERO)).hasMessageStartingWith("timeout: PT0S");
        assertThat(ClamdConfig.defaults("[::1]:3310").socketAddress().toString()).contains("3310");
    }
}
