package io.postern.proxy.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class StatusPageTest {

    @Test
    void escapesMarkupQuotesAndControlCharacters() {
        assertThat(StatusPage.esc("<script>alert('x')</script>")).isEqualTo("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
        assertThat(StatusPage.esc("a\"b&c")).isEqualTo("a&quot;b&amp;c");
        assertThat(StatusPage.esc("a\r\nb\u0000")).isEqualTo("a&#xFFFD;&#xFFFD;b&#xFFFD;");
        assertThat(StatusPage.esc(null)).isEmpty();
        assertThat(StatusPage.esc("Jürgen")).isEqualTo("Jürgen");
    }

    @Test
    void durationsReadLikeAnOperatorWouldSayThem() {
        assertThat(StatusPage.duration(Duration.ofSeconds(42))).isEqualTo("42 s");
        assertThat(StatusPage.duration(Duration.ofSeconds(61))).isEqualTo("1 min 1 s");
        assertThat(StatusPage.duration(Duration.ofMinutes(125))).isEqualTo("2 h 5 min");
        assertThat(StatusPage.duration(Duration.ofSeconds(-3))).isEqualTo("0 s");
    }
}
