package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.postern.policies.audit.AuditChain;
import io.postern.policies.audit.AuditVerifier;
import io.postern.proxy.testing.DovecotFixture;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real jar, auditing every command with {@code fsync: each}, killed with SIGKILL under load:
 * the log verifies up to its last whole record, and a torn last line, if the kill cut one, is
 * reported as torn and as nothing else.
 */
class AuditKillIT {

    private static final String PASSWORD = "Kill-s3cret-3307";

    @TempDir
    Path dir;

    @Test
    void aLogCutBySigkillVerifiesUpToItsLastWholeRecord() throws Exception {
        DovecotFixture.assumeAvailable();
        Path jar = Path.of("target/postern.jar");
        Assumptions.assumeTrue(Files.exists(jar), "target/postern.jar is built by the package phase");
        try (DovecotFixture dovecot = DovecotFixture.builder().name("audit-kill").user("kill", PASSWORD).start()) {
            int port;
            try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                port = s.getLocalPort();
            }
            Path key = dir.resolve("audit.key");
            Files.writeString(key, "a-key-for-the-sigkill-test-0042\n");
            Path log = dir.resolve("audit.log");
            Path config = dir.resolve("postern.yml");
            Files.writeString(config, """
                    listeners:
                      - { name: imap, bind: "127.0.0.1:%d", tls: none }
                    backends:
                      - { name: backend, address: "%s:%d", tls: none }
                    routing: { strategy: static, default: backend }
                    policies:
                      - name: audit-all
                        audit: { file: "%s", key_file: "%s", fsync: each }
                    """.formatted(port, dovecot.host(), dovecot.port(), log, key));
            Process postern = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-jar", jar.toString(), "run", "--config", config.toString())
                    .redirectOutput(dir.resolve("out.txt").toFile()).redirectErrorStream(true).start();
            try {
                awaitPort(port, postern);
                AtomicBoolean stop = new AtomicBoolean();
                AtomicLong completed = new AtomicLong();
                AtomicLong cut = new AtomicLong();
                List<Thread> clients = new ArrayList<>();
                for (int t = 0; t < 3; t++) {
                    Thread th = new Thread(() -> drive(port, stop, completed, cut));
                    th.start();
                    clients.add(th);
                }
                for (int i = 0; i < 200 && completed.get() < 300; i++) {
                    Thread.sleep(20);
                }
                postern.destroyForcibly(); // SIGKILL on Linux, with the clients still sending
                assertThat(postern.waitFor(30, TimeUnit.SECONDS)).isTrue();
                stop.set(true);
                for (Thread th : clients) {
                    th.join(30_000);
                }
                assertThat(completed.get()).isGreaterThanOrEqualTo(1);
                assertThat(cut.get()).as("every client saw its connection end at the kill").isEqualTo(clients.size());
            } finally {
                postern.destroyForcibly();
            }
            AuditVerifier.Result r = AuditVerifier.verify(AuditChain.readKey(key), List.of(log));
            if (!r.ok()) {
                assertThat(r.finding()).as("the only finding allowed is a torn tail").contains("torn last line");
            }
            assertThat(r.records()).isGreaterThan(10);
            System.out.println("AuditKillIT: " + r.describe() + " (" + Files.size(log) + " bytes)");
        }
    }

    private static void awaitPort(int port, Process p) throws Exception {
        for (int i = 0; i < 600; i++) {
            assertThat(p.isAlive()).as("postern exited early").isTrue();
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            } catch (java.io.IOException notYet) {
                Thread.sleep(100);
            }
        }
        throw new AssertionError("postern did not listen on " + port);
    }

    /** Logs in and sends SELECT and FETCH until stopped or the connection breaks (the kill). */
    private static void drive(int port, AtomicBoolean stop, AtomicLong completed, AtomicLong cut) {
        try (RawImapClient c = new RawImapClient(new InetSocketAddress("127.0.0.1", port))) {
            c.setTimeout(10_000);
            c.line();
            c.send("l0 LOGIN kill " + PASSWORD + "\r\n");
            c.tagged("l0");
            for (int i = 0; i < 100_000 && !stop.get(); i++) {
                c.send("n" + i + " " + (i % 2 == 0 ? "SELECT INBOX" : "NOOP") + "\r\n");
                c.tagged("n" + i);
                completed.incrementAndGet();
            }
        } catch (java.io.IOException | RuntimeException endedByTheKill) {
            cut.incrementAndGet();
        }
    }
}
