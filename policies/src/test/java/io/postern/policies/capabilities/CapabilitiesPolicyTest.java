package io.postern.policies.capabilities;

import static org.assertj.core.api.Assertions.assertThat;

import io.postern.policies.engine.Glob;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CapabilitiesPolicyTest {

    @Test
    void removeReplaceAndAdd() {
        List<String> out = CapabilitiesPolicyFactory.rewrite(
                List.of("IMAP4rev1", "QUOTA", "THREAD=REFERENCES", "THREAD=REFS", "IDLE", "SORT"),
                List.of(new Glob("quota"), new Glob("THREAD=*")), Map.of("SORT", "SORT=DISPLAY"), List.of("X-A", "idle"));
        assertThat(out).containsExactly("IMAP4rev1", "IDLE", "SORT=DISPLAY", "X-A");
    }
}
