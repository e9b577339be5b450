package io.postern.imap.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.util.UUID;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/** Proves that {@link LeakDetectionExtension} sees a leak, without letting the leak fail the build. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LeakDetectionExtensionTest {

    private static int callsBeforeFirstTest;

    @Test
    @Order(1)
    void firstTest() {
        callsBeforeFirstTest = LeakDetectionExtension.afterEachCalls();
        assertThat(callsBeforeFirstTest).isNotNegative();
    }

    @Test
    @Order(2)
    void extensionIsAutoDetectedAndRanAfterTheFirstTest() {
        assertThat(LeakDetectionExtension.afterEachCalls()).isGreaterThan(callsBeforeFirstTest);
    }

    @Test
    void reportsABufferDroppedWithoutRelease() {
        String hint = "deliberate leak " + UUID.randomUUID();
        leak(hint);

        assertThat(LeakDetectionExtension.collectLeaks())
                .anySatisfy(report -> assertThat(report).contains("ByteBuf").contains(hint));
    }

    @Test
    void failsTheCheckThatRunsAfterEachTest() {
        String hint = "deliberate leak " + UUID.randomUUID();
        leak(hint);

        assertThatThrownBy(() -> LeakDetectionExtension.assertNoLeaks("this test"))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("leak(s) reported by Netty during or before this test")
                .hasMessageContaining(hint);
    }

    @Test
    void reportsNothingForAReleasedBuffer() {
        String hint = "released " + UUID.randomUUID();
        ByteBuf buf = ByteBufAllocator.DEFAULT.buffer(16).writeLong(42).touch(hint);
        buf.release();

        assertThat(LeakDetectionExtension.collectLeaks()).noneMatch(report -> report.contains(hint));
    }

    /** Allocates a tracked buffer and drops it; the hint ends up in the leak report. */
    private static void leak(String hint) {
        ByteBufAllocator.DEFAULT.buffer(16).writeLong(42).touch(hint);
    }
}
