package io.postern.proxy.testing;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.postern.proxy.testing.SlapdFixture.Availability;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/** A missing slapd skips a test, unless CI requires the real servers: then it fails. */
class SlapdFixtureAvailabilityTest {

    private static final Availability MISSING = new Availability(false, "no slapd binary");

    @Test
    void missingSlapdSkipsByDefaultAndFailsWhenRequired() {
        assertThatThrownBy(() -> SlapdFixture.assumeAvailable(MISSING, false))
                .isInstanceOf(TestAbortedException.class)
                .hasMessageContaining("no slapd binary");
        assertThatThrownBy(() -> SlapdFixture.assumeAvailable(MISSING, true))
                .isInstanceOf(AssertionFailedError.class)
                .hasMessageContaining(DovecotFixture.REQUIRE_ENV + "=1")
                .hasMessageContaining("no slapd binary");
        assertThatCode(() -> SlapdFixture.assumeAvailable(new Availability(true, "slapd at /usr/sbin/slapd"), true))
                .doesNotThrowAnyException();
    }
}
