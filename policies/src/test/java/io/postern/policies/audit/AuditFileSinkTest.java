package io.postern.policies.audit;

import static io.postern.policies.audit.AuditVerifierTest.KEY;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuditFileSinkTest {

    @TempDir
    Path dir;

    private AuditFileSink sink(AuditFileSink.WhenFull mode, int capacity) throws IOException {
        return new AuditFileSink(new AuditFileSink.Settings(dir.resolve("audit.log"), KEY, Duration.ZERO, capacity, mode, 0,
                Duration.ZERO));
    }

    private static AuditEvent event(int i) {
        return AuditEvent.of("command", Instant.now()).put("tag", "t" + i);
    }

    private static void awaitEmpty(AuditFileSink s) throws InterruptedException {
        for (int i = 0; i < 1000 && s.queued() > 0; i++) {
            Thread.sleep(10);
        }
        assertThat(s.queued()).isZero();
    }

    @Test
    void dropModeCountsAndWritesAGapRecordThatVerifyReports() throws Exception {
        AuditFileSink s = sink(AuditFileSink.WhenFull.DROP, 4);
        s.pauseWriter();
        int accepted = 0;
        for (int i = 0; i < 10; i++) {
            accepted += s.offer(event(i)) ? 1 : 0;
        }
        assertThat(accepted).isEqualTo(4);
        assertThat(s.dropped()).isEqualTo(6);
        s.unpauseWriter();
        awaitEmpty(s);
        s.offer(event(99));
        s.close();
        List<String> lines = Files.readAllLines(dir.resolve("audit.log"), StandardCharsets.UTF_8);
        assertThat(lines).hasSize(6);
        // the gap stands where the events were lost: after the four accepted before, before the one after
        assertThat(lines.get(4)).contains("\"type\":\"gap\",\"dropped\":6");
        assertThat(lines.get(5)).contains("\"tag\":\"t99\"");
        assertThat(s.written()).isEqualTo(5);
        AuditVerifier.Result r = AuditVerifier.verify(KEY, List.of(dir.resolve("audit.log")));
        assertThat(r.ok()).isFalse();
        assertThat(r.finding()).contains("seq 5 is a gap record: 6 event(s) were dropped");
    }

    @Test
    void failClosedIsUnavailableWhileFullAndRecovers() throws Exception {
        AuditFileSink s = sink(AuditFileSink.WhenFull.FAIL_CLOSED, 2);
        assertThat(s.available()).isTrue();
        s.pauseWriter();
        assertThat(s.offer(event(1))).isTrue();
        assertThat(s.offer(event(2))).isTrue();
        assertThat(s.available()).isFalse();
        assertThat(s.offer(event(3))).isFalse();
        assertThat(s.dropped()).isEqualTo(1);
        s.unpauseWriter();
        awaitEmpty(s);
        for (int i = 0; i < 500 && !s.available(); i++) {
            Thread.sleep(10);
        }
        assertThat(s.available()).isTrue();
        s.close();
        assertThat(AuditVerifier.verify(KEY, List.of(dir.resolve("audit.log"))).finding())
                .contains("seq 3 is a gap record: 1 event(s)");
    }

    @Test
    void blockModeMakesTheProducerWaitAndLosesNothing() throws Exception {
        AuditFileSink s = sink(AuditFileSink.WhenFull.BLOCK, 2);
        s.pauseWriter();
        s.offer(event(1));
        s.offer(event(2));
        CompletableFuture<Boolean> third = CompletableFuture.supplyAsync(() -> s.offer(event(3)));
        Thread.sleep(200);
        assertThat(third).isNotDone();
        s.unpauseWriter();
        assertThat(third.get(30, TimeUnit.SECONDS)).isTrue();
        s.close();
        assertThat(s.dropped()).isZero();
        AuditVerifier.Result r = AuditVerifier.verify(KEY, List.of(dir.resolve("audit.log")));
        assertThat(r.ok()).as(r.describe()).isTrue();
        assertThat(r.records()).isEqualTo(3);
    }

    @Test
    void closeWritesEverythingAccepted() throws Exception {
        AuditFileSink s = sink(AuditFileSink.WhenFull.DROP, 500);
        s.pauseWriter();
        for (int i = 0; i < 500; i++) {
            assertThat(s.offer(event(i))).isTrue();
        }
        s.close();
        assertThat(s.written()).isEqualTo(500);
        assertThat(AuditVerifier.verify(KEY, List.of(dir.resolve("audit.log"))).records()).isEqualTo(500);
        assertThat(s.offer(event(501))).isFalse();
    }

    @Test
    void rotationByAgeKeepsTheChain() throws Exception {
        Instant[] now = {Instant.parse("2026-11-22T00:00:00Z")};
        Clock clock = new Clock() {
            @Override
            public ZoneId getZone() {
                return ZoneId.of("UTC");
            }

            @Override
            public Clock withZone(ZoneId zone) {
                return this;
            }

            @Override
            public Instant instant() {
                return now[0];
            }
        };
        AuditFileSink s = new AuditFileSink(new AuditFileSink.Settings(dir.resolve("audit.log"), KEY, Duration.ZERO, 10,
                AuditFileSink.WhenFull.BLOCK, 0, Duration.ofHours(1)), clock);
        for (int i = 0; i < 8; i++) { // opened at 0; rotated before the records at 70 and 140 and 210 minutes
            s.offer(event(i));
            awaitEmpty(s);
            Thread.sleep(20);
            now[0] = now[0].plus(Duration.ofMinutes(35));
        }
        s.close();
        List<Path> files;
        try (Stream<Path> l = Files.list(dir)) {
            files = l.toList();
        }
        assertThat(files).hasSize(4);
        assertThat(s.rotations()).isEqualTo(3);
        AuditVerifier.Result r = AuditVerifier.verify(KEY, files);
        assertThat(r.ok()).as(r.describe()).isTrue();
        assertThat(r.records()).isEqualTo(8);
    }
}
