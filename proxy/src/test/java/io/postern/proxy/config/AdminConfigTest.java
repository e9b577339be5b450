package io.postern.proxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The token rule of {@code admin}: loopback may go without a token, anything else may not. */
class AdminConfigTest {

    @TempDir
    Path dir;

    private static final String BASE = """
            listeners: [{name: imap, bind: "127.0.0.1:0"}]
            backends: [{name: a, address: "127.0.0.1:10143"}]
            routing: {strategy: static, default: a}
            """;

    private PosternConfig parse(String admin) throws ConfigException {
        return PosternConfig.parse(BASE + admin, dir);
    }

    @Test
    void noAdminSectionMeansNoAdminListener() throws Exception {
        assertThat(parse("").admin()).isNull();
    }

    @Test
    void loopbackNeedsNoToken() throws Exception {
        assertThat(parse("admin: {bind: \"127.0.0.1:9143\"}").admin().requiresToken()).isFalse();
        assertThat(parse("admin: {bind: \"[::1]:9143\"}").admin().requiresToken()).isFalse();
        assertThat(parse("admin: {bind: \"localhost:9143\"}").admin().requiresToken()).isFalse();
    }

    @Test
    void anyOtherAddressNeedsATokenFile() {
        assertThatThrownBy(() -> parse("admin: {bind: \"0.0.0.0:9143\"}"))
                .hasMessage("admin.token_file: required when admin.bind is not a loopback address (0.0.0.0:9143)");
        assertThatThrownBy(() -> parse("admin: {bind: \"192.0.2.10:9143\"}"))
                .hasMessageStartingWith("admin.token_file: required");
    }

    @Test
    void aTokenFileIsEnforcedWhereverItIsSet() throws Exception {
        Files.writeString(dir.resolve("token"), "s3cret-token\nignored second line\n");
        AdminConfig a = parse("admin: {bind: \"0.0.0.0:9143\", token_file: token}").admin();
        assertThat(a.requiresToken()).isTrue();
        assertThat(AdminConfig.readToken(a.tokenFile())).isEqualTo("s3cret-token");
        assertThat(parse("admin: {bind: \"127.0.0.1:9143\", token_file: token}").admin().requiresToken()).isTrue();
    }

    @Test
    void anEmptyOrMissingTokenFileIsRefused() throws Exception {
        Files.writeString(dir.resolve("empty"), "\n");
        assertThatThrownBy(() -> parse("admin: {bind: \"0.0.0.0:9143\", token_file: empty}"))
                .hasMessageStartingWith("admin.token_file: the file ").hasMessageEndingWith("is empty (expected: the token on its first line)");
        assertThatThrownBy(() -> parse("admin: {bind: \"0.0.0.0:9143\", token_file: nope}"))
                .hasMessageStartingWith("admin.token_file: cannot read file");
    }

    @Test
    void shutdownGraceIsADuration() throws Exception {
        assertThat(parse("").timeouts().shutdownGrace()).hasSeconds(30);
        assertThat(parse("timeouts: {shutdown_grace: 5s}").timeouts().shutdownGrace()).hasSeconds(5);
        assertThatThrownBy(() -> parse("timeouts: {shutdown_grace: soon}")).hasMessageStartingWith("timeouts.shutdown_grace: expected a duration");
    }
}
