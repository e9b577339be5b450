package io.postern.policies.audit;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuditVerifierTest {

    static final byte[] KEY = "0123456789abcdef-test-key".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    static AuditFileSink.Settings settings(Path file, long maxSize) {
        return new AuditFileSink.Settings(file, KEY, Duration.ofMillis(50), 1000, AuditFileSink.WhenFull.BLOCK, maxSize,
                Duration.ZERO);
    }

    /** Writes {@code n} events through a real sink and returns the log's lines. */
    private Path writeLog(int n, long maxSize) throws IOException {
        Path file = dir.resolve("audit.log");
        try (AuditFileSink sink = new AuditFileSink(settings(file, maxSize))) {
            for (int i = 1; i <= n; i++) {
                sink.offer(AuditEvent.of("command", Instant.parse("2026-11-22T09:00:00Z"))
                        .put("user", "alice").put("tag", "a" + i).put("mailbox", "INBOX \"quoted\" \u00e9"));
            }
        }
        return file;
    }

    private List<Path> allFiles() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith("audit.log")).sorted().toList();
        }
    }

    private static List<String> lines(Path f) throws IOException {
        return new ArrayList<>(Files.readAllLines(f, StandardCharsets.UTF_8));
    }

    private static void writeLines(Path f, List<String> lines) throws IOException {
        Files.writeString(f, String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
    }

    @Test
    void aCleanLogPasses() throws IOException {
        Path f = writeLog(20, 0);
        AuditVerifier.Result r = AuditVerifier.verify(KEY, List.of(f));
        assertThat(r.ok()).as(r.describe()).isTrue();
        assertThat(r.records()).isEqualTo(20);
        assertThat(r.lastSeq()).isEqualTo(20);
        assertThat(lines(f).get(0)).startsWith("{\"v\":1,\"seq\":1,\"ts\":\"2026-11-22T09:00:00Z\",\"type\":\"command\"");
    }

    @Test
    void theWrongKeyFailsAtTheFirstRecord() throws IOException {
        Path f = writeLog(3, 0);
        AuditVerifier.Result r = AuditVerifier.verify("another-key-of-16-bytes".getBytes(StandardCharsets.US_ASCII), List.of(f));
        assertThat(r.ok()).isFalse();
        assertThat(r.finding()).contains("audit.log:1:").contains("seq 1").contains("MAC does not match");
    }

    @Test
    void oneChangedByteFailsAtThatRecord() throws IOException {
        Path f = writeLog(10, 0);
        byte[] all = Files.readAllBytes(f);
        List<String> lines = lines(f);
        int offset = 0;
        for (int i = 0; i < 6; i++) {
            offset += lines.get(i).getBytes(StandardCharsets.UTF_8).length + 1;
        }
        int at = offset + lines.get(6).indexOf("alice"); // record seq 7, line 7
        all[at] = 'A';
        Files.write(f, all);
        AuditVerifier.Result r = AuditVerifier.verify(KEY, List.of(f));
        assertThat(r.ok()).isFalse();
        assertThat(r.finding()).contains("audit.log:7:").contains("seq 7").contains("MAC does not match");
        assertThat(r.records()).isEqualTo(6);
    }

    @Test
    void aChangedMacFailsAtThatRecord() throws IOException {
        Path f = writeLog(5, 0);
        List<String> lines = lines(f);
        String l = lines.get(2);
        char last = l.charAt(l.length() - 3);
        lines.set(2, l.substring(0, l.length() - 3) + (last == '0' ? '1' : '0') + l.substring(l.length() - 2));
        writeLines(f, lines);
        AuditVerifier.Result r = AuditVerifier.verify(KEY, List.of(f));
        assertThat(r.finding()).contains("audit.log:3:").contains("seq 3");
    }

    @Test
    void aDeletedRecordIsReportedMissing() throws IOException {
        Path f = writeLog(10, 0);
        List<String> lines = lines(f);
        lines.remove(4); // seq 5
        writeLines(f, lines);
        AuditVerifier.Result r = AuditVerifier.verify(KEY, List.of(f));
        assertThat(r.ok()).isFalse();
        assertThat(r.finding()).contains("audit.log:5:").contains("record seq 6 follows seq 4").contains("missing (seq 5)");
    }

    @Test
    void theLastRecordsDeletedAreNotSeenButTheFirstAre() throws IOException {
        Path f = writeLog(5, 0);
        List<String> lines = lines(f);
        lines.remove(0);
        writeLines(f, lines);
        AuditVerifier.Result r = AuditVerifier.verify(KEY, List.of(f));
        assertThat(r.finding()).contains("audit.log:1:").contains("missing (seq 1)");
    }

    @Test
    void reorderedRecordsAreReported() throws IOException {
        Path f = writeLog(10, 0);
        List<String> lines = lines(f);
        String s3 = lines.get(2);
        lines.set(2, lines.get(3));
        lines.set(3, s3);
        writeLines(f, lines);
        AuditVerifier.Result r = AuditVerifier.verify(KEY, List.of(f));
        assertThat(r.ok()).isFalse();
        assertThat(r.finding()).contains("audit.log:3:").contains("record seq 4 where seq 3 was expected").contains("reordered");
    }

    @Test
    void aLogPassesAcrossRotationInAnyArgumentOrder() throws IOException {
        writeLog(200, 4096);
        List<Path> files = allFiles();
        assertThat(files.size()).isGreaterThan(3);
        for (Path p : files) {
            assertThat(Files.size(p)).isLessThanOrEqualTo(4096);
        }
        List<Path> reversed = new ArrayList<>(files);
        java.util.Collections.reverse(reversed);
        AuditVerifier.Result r = AuditVerifier.verify(KEY, reversed);
        assertThat(r.ok()).as(r.describe()).isTrue();
        assertThat(r.records()).isEqualTo(200);
        // the first record of each file chains from the last of the one before: leaving one out is seen
        List<Path> withoutOne = new ArrayList<>(files);
        withoutOne.remove(1);
        assertThat(AuditVerifier.verify(KEY, withoutOne).finding()).contains("missing");
    }

    @Test
    void aTornTailIsReportedAsTorn() throws IOException {
        Path f = writeLog(8, 0);
        byte[] all = Files.readAllBytes(f);
        Files.write(f, java.util.Arrays.copyOf(all, all.length - 20));
        AuditVerifier.Result r = AuditVerifier.verify(KEY, List.of(f));
        assertThat(r.ok()).isFalse();
        assertThat(r.finding()).contains("audit.log:8:").contains("torn last line").contains("the 7 records before it verify");
        assertThat(r.records()).isEqualTo(7);
    }

    @Test
    void aSinkStartedOnATornLogMovesItAsideAndChainsOn() throws IOException {
        Path f = writeLog(5, 0);
        byte[] all = Files.readAllBytes(f);
        Files.write(f, java.util.Arrays.copyOf(all, all.length - 10));
        writeLog(3, 0);
        List<Path> files = allFiles();
        assertThat(files).hasSize(2);
        AuditVerifier.Result r = AuditVerifier.verify(KEY, files);
        assertThat(r.finding()).contains("audit.log.000000000001:5:").contains("torn");
        // the new file chains on from seq 4, the last whole record
        assertThat(lines(f).get(0)).startsWith("{\"v\":1,\"seq\":5,");
    }

    @Test
    void aRestartedSinkGoesOnWithTheChain() throws IOException {
        Path f = writeLog(5, 0);
        writeLog(5, 0);
        AuditVerifier.Result r = AuditVerifier.verify(KEY, List.of(f));
        assertThat(r.ok()).as(r.describe()).isTrue();
        assertThat(r.records()).isEqualTo(10);
    }

    @Test
    void somethingThatIsNotARecordIsReported() throws IOException {
        Path f = writeLog(3, 0);
        List<String> lines = lines(f);
        lines.add(1, "{\"hello\":1}");
        writeLines(f, lines);
        assertThat(AuditVerifier.verify(KEY, List.of(f)).finding()).contains("audit.log:2: not an audit record");
    }
}
