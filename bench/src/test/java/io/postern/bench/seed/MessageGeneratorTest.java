package io.postern.bench.seed;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class MessageGeneratorTest {

    @Test
    void sameSeedSameBytesExactSizeAndOnlyCrlfLineEnds() {
        MessageGenerator a = new MessageGenerator(42);
        MessageGenerator b = new MessageGenerator(42);
        for (int i = 0; i < 300; i++) {
            byte[] m = a.message(i);
            assertThat(m).hasSize(a.size(i));
            assertThat(Arrays.equals(m, b.message(i))).isTrue();
            for (int j = 0; j < m.length; j++) {
                if (m[j] == '\n') {
                    assertThat(j).as("bare LF in message %d at %d", i, j).isPositive();
                    assertThat(m[j - 1]).as("bare LF in message %d at %d", i, j).isEqualTo((byte) '\r');
                }
                if (m[j] == '\r') {
                    assertThat(j + 1 < m.length && m[j + 1] == '\n').as("bare CR in message %d at %d", i, j).isTrue();
                }
            }
            assertThat(new String(m, 0, 12, java.nio.charset.StandardCharsets.US_ASCII)).startsWith("Return-Path:");
        }
        assertThat(Arrays.equals(new MessageGenerator(43).message(5), a.message(5))).isFalse();
    }

    @Test
    void sizesSpreadBetweenTheBoundsAroundTheMedian() {
        MessageGenerator g = new MessageGenerator(1);
        int[] sizes = new int[4000];
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = g.size(i);
        }
        Arrays.sort(sizes);
        assertThat(sizes[0]).isGreaterThanOrEqualTo(MessageGenerator.MIN_SIZE);
        assertThat(sizes[sizes.length - 1]).isLessThanOrEqualTo(MessageGenerator.MAX_SIZE);
        int median = sizes[sizes.length / 2];
        assertThat(median).isBetween(MessageGenerator.MEDIAN_SIZE * 8 / 10, MessageGenerator.MEDIAN_SIZE * 12 / 10);
        assertThat(sizes[sizes.length * 99 / 100]).isGreaterThan(200 * 1024);
    }

    @Test
    void bigMessagesOfAnyExactSize() {
        MessageGenerator g = new MessageGenerator(42);
        for (int size : new int[] {2048, 12 * 1024 + 1, 100_003, 3 * 1024 * 1024}) {
            assertThat(g.message(7, size)).hasSize(size);
        }
    }
}
