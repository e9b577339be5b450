package io.postern.proxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.postern.policies.audit.AuditEvent;
import io.postern.policies.audit.AuditFileSink;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuditVerifyCommandTest {

    @TempDir
    Path dir;

    private List<String> writeLog(Path key, int records) throws Exception {
        Files.writeString(key, "a-key-for-the-cli-test-0123456789\n");
        byte[] k = io.postern.policies.audit.AuditChain.readKey(key);
        try (AuditFileSink s = new AuditFileSink(new AuditFileSink.Settings(dir.resolve("audit.log"), k, Duration.ZERO, 100,
                AuditFileSink.WhenFull.BLOCK, 2048, Duration.ZERO))) {
            for (int i = 0; i < records; i++) {
                s.offer(AuditEvent.of("command", Instant.now()).put("user", "alice").put("tag", "a" + i));
            }
        }
        try (Stream<Path> l = Files.list(dir)) {
            return l.filter(p -> p.getFileName().toString().startsWith("audit.log")).map(Path::toString).sorted().toList();
        }
    }

    @Test
    void aCleanRotatedLogExitsZero() throws Exception {
        Path key = dir.resolve("audit.key");
        List<String> files = writeLog(key, 60);
        assertThat(files.size()).isGreaterThan(2);
        String[] args = Stream.concat(Stream.of("audit", "verify", "--key-file", key.toString()), files.stream())
                .toArray(String[]::new);
        CliRun.Result r = CliRun.run(args);
        assertThat(r.status()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("OK: 60 records, seq 1..60");
    }

    @Test
    void anAlteredRecordExitsOneNamingIt() throws Exception {
        Path key = dir.resolve("audit.key");
        writeLog(key, 5);
        Path log = dir.resolve("audit.log");
        String text = Files.readString(log, StandardCharsets.UTF_8).replace("\"tag\":\"a2\"", "\"tag\":\"a9\"");
        Files.writeString(log, text, StandardCharsets.UTF_8);
        CliRun.Result r = CliRun.run("audit", "verify", "--key-file", key.toString(), log.toString());
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.out()).contains("FAILED").contains("audit.log:3:").contains("seq 3").contains("MAC does not match");
    }

    @Test
    void aMissingKeyFileExitsOne() throws Exception {
        CliRun.Result r = CliRun.run("audit", "verify", "--key-file", dir.resolve("nope").toString(), "x.log");
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.err()).contains("nope");
    }
}
