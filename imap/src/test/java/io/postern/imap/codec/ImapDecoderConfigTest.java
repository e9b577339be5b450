package io.postern.imap.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ImapDecoderConfigTest {

    @Test
    void commandDefaults() {
        ImapDecoderConfig config = ImapDecoderConfig.commands();

        assertThat(config.maxLineLength()).isEqualTo(65_536);
        assertThat(config.maxLiteralSizeBeforeAuth()).isEqualTo(8_192);
        assertThat(config.maxLiteralSizeAfterAuth()).isEqualTo(67_108_864);
        assertThat(config.maxLiteralSize(false)).isEqualTo(8_192);
        assertThat(config.maxLiteralSize(true)).isEqualTo(67_108_864);
        assertThat(config.maxLiteralsPerCommand()).isEqualTo(1_000);
        assertThat(config.maxChunkSize()).isEqualTo(65_536);
    }

    @Test
    void responseDefaults() {
        ImapDecoderConfig config = ImapDecoderConfig.responses();

        assertThat(config.maxLineLength()).isEqualTo(4_194_304);
        assertThat(config.maxLiteralSize(false)).isEqualTo(Long.MAX_VALUE);
        assertThat(config.maxLiteralSize(true)).isEqualTo(Long.MAX_VALUE);
        assertThat(config.maxLiteralsPerCommand()).isEqualTo(Integer.MAX_VALUE);
        assertThat(config.maxChunkSize()).isEqualTo(65_536);
    }

    @Test
    void toBuilderKeepsEveryValue() {
        ImapDecoderConfig config = ImapDecoderConfig.builder()
                .maxLineLength(100)
                .maxLiteralSizeBeforeAuth(1)
                .maxLiteralSizeAfterAuth(2)
                .maxLiteralsPerCommand(3)
                .maxChunkSize(4)
                .build();

        assertThat(config.toBuilder().build()).hasToString(config.toString());
        assertThat(config).hasToString("ImapDecoderConfig(maxLineLength=100, maxLiteralSizeBeforeAuth=1, "
                + "maxLiteralSizeAfterAuth=2, maxLiteralsPerCommand=3, maxChunkSize=4)");
    }

    @Test
    void theSmallestValuesAreAccepted() {
        ImapDecoderConfig config = ImapDecoderConfig.builder()
                .maxLineLength(ImapDecoderConfig.MIN_LINE_LENGTH)
                .maxLiteralSizeBeforeAuth(0)
                .maxLiteralSizeAfterAuth(0)
                .maxLiteralsPerCommand(1)
                .maxChunkSize(1)
                .build();

        assertThat(config.maxLineLength()).isEqualTo(64);
        assertThat(config.maxLiteralSize(true)).isZero();
    }

    static Stream<Arguments> invalidValues() {
        return Stream.of(
                invalid(b -> b.maxLineLength(63), "maxLineLength: 63 (expected: >= 64)"),
                invalid(b -> b.maxLineLength(-1), "maxLineLength: -1 (expected: >= 64)"),
                invalid(b -> b.maxLiteralSizeBeforeAuth(-1), "maxLiteralSizeBeforeAuth: -1 (expected: >= 0)"),
                invalid(b -> b.maxLiteralSizeAfterAuth(Long.MIN_VALUE),
                        "maxLiteralSizeAfterAuth: -9223372036854775808 (expected: >= 0)"),
                invalid(b -> b.maxLiteralsPerCommand(0), "maxLiteralsPerCommand: 0 (expected: >= 1)"),
                invalid(b -> b.maxChunkSize(0), "maxChunkSize: 0 (expected: >= 1)"));
    }

    @ParameterizedTest
    @MethodSource("invalidValues")
    void aValueOutOfRangeIsNamedInTheError(Consumer<ImapDecoderConfig.Builder> change, String message) {
        ImapDecoderConfig.Builder builder = ImapDecoderConfig.builder();
        change.accept(builder);

        assertThatThrownBy(builder::build).isInstanceOf(IllegalArgumentException.class).hasMessage(message);
    }

    private static Arguments invalid(Consumer<ImapDecoderConfig.Builder> change, String message) {
        return Arguments.of(change, message);
    }
}
