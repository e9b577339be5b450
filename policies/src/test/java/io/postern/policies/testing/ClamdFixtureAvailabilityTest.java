package io.postern.policies.testing;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.postern.policies.testing.ClamdFixture.Availability;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/** A missing clamd skips a test, unless CI requires the real servers: then it fails. */
class ClamdFixtureAvailabilityTest {

    private static final Availability MISSING = new Availability(false, "no clamd binary");

    @Test
    void missingClamdSkipsByDefaultAndFailsWhenRequired() {
        assertThatThrownBy(() -> ClamdFixture.assumeAvailable(MISSING, false))
                .isInstanceOf(TestAbortedException.class)
                .hasMessageContaining("no clamd binary");
        assertThatThrownBy(() -> ClamdFixture.assumeAvailable(MISSING, true))
                .isInstanceOf(AssertionFailedError.class)
                .hasMessageContaining(ClamdFixture.REQUIRE_ENV + "=1")
                .hasMessageContaining("no clamd binary");
        assertThatCode(() -> ClamdFixture.assumeAvailable(new Availability(true, "clamd at /usr/sbin/clamd"), true))
                .doesNotThrowAnyException();
    }
}
