package io.postern.proxy.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.postern.proxy.testing.DovecotFixture.Availability;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/** A missing Dovecot skips a test, unless CI requires Dovecot: then it fails. */
class DovecotFixtureAvailabilityTest {

    private static final Availability MISSING = new Availability(false, "no dovecot binary");

    @Test
    void missingDovecotSkipsByDefault() {
        assertThatThrownBy(() -> DovecotFixture.assumeAvailable(MISSING, false))
                .isInstanceOf(TestAbortedException.class)
                .hasMessageContaining("no dovecot binary");
    }

    @Test
    void missingDovecotFailsWhenRequired() {
        assertThatThrownBy(() -> DovecotFixture.assumeAvailable(MISSING, true))
                .isInstanceOf(AssertionFailedError.class)
                .hasMessageContaining(DovecotFixture.REQUIRE_ENV + "=1")
                .hasMessageContaining("no dovecot binary");
    }

    @Test
    void availableDovecotPassesEitherWay() {
        Availability present = new Availability(true, "dovecot at /usr/sbin/dovecot");
        assertThatCode(() -> DovecotFixture.assumeAvailable(present, true)).doesNotThrowAnyException();
        assertThatCode(() -> DovecotFixture.assumeAvailable(present, false)).doesNotThrowAnyException();
    }

    @Test
    void availabilityAlwaysGivesAReason() {
        assertThat(DovecotFixture.availability().reason()).isNotBlank();
    }
}
