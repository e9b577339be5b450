package io.postern.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Key and certificate files as the {@code openssl} tool writes them (see
 * {@code src/test/resources/openssl/generate.sh}), not as Bouncy Castle writes them.
 */
class OpenSslFixturesTest {

    @ParameterizedTest(name = "{0} + {1}")
    @CsvSource({
        "rsa.crt, rsa.pkcs1.key, false, RSA",
        "rsa.crt, rsa.pkcs8.key, false, RSA",
        "rsa.crt, rsa.encrypted-pkcs8.key, true, RSA",
        "rsa.crt, rsa.encrypted-pkcs1.key, true, RSA",
        "ec.crt, ec.sec1.key, false, EC",
        "ec.crt, ec.sec1-with-params.key, false, EC",
        "ec.crt, ec.pkcs8.key, false, EC",
        "ec.crt, ec.encrypted-pkcs8.key, true, EC",
        "ec.fullchain.crt, ec.sec1.key, false, EC",
    })
    void everyKeyForm(String cert, String key, boolean encrypted, String algorithm) throws Exception {
        PemKeyPair pair = PemKeyPair.load(fixture(cert), fixture(key), encrypted ? fixture("fixture.password") : null);

        assertThat(pair.privateKey().getAlgorithm()).isEqualTo(algorithm);
        assertThat(pair.dnsNames()).containsExactly(cert.startsWith("rsa") ? "rsa.fixture.test" : "ec.fixture.test");
    }

    @Test
    void fullChainHasTheCaSecond() throws Exception {
        PemKeyPair pair = PemKeyPair.load(fixture("ec.fullchain.crt"), fixture("ec.pkcs8.key"), null);

        assertThat(pair.chain()).hasSize(2);
        assertThat(pair.chain().get(1)).isEqualTo(PemKeyPair.loadCertificates(fixture("ca.crt")).get(0));
    }

    @Test
    void fingerprintIsOpenSslsWithoutColons() throws Exception {
        PemKeyPair pair = PemKeyPair.load(fixture("ec.crt"), fixture("ec.pkcs8.key"), null);

        // openssl x509 -in ec.crt -noout -fingerprint -sha256
        assertThat(pair.sha256Fingerprint()).isEqualTo(
                "33:60:BB:8F:B2:15:85:7F:42:35:7E:FB:F2:9A:3F:31:96:50:69:05:B6:DB:5E:F7:D9:DF:DB:FA:4C:1D:3A:11"
                        .replace(":", "").toLowerCase(java.util.Locale.ROOT));
    }

    @Test
    void legacyEncryptedKeyWithWrongPassword(@TempDir Path dir) throws Exception {
        Path password = Files.writeString(dir.resolve("wrong.password"), "nope\n");

        assertThatThrownBy(() -> PemKeyPair.load(fixture("rsa.crt"), fixture("rsa.encrypted-pkcs1.key"), password))
                .hasMessageEndingWith("rsa.encrypted-pkcs1.key: wrong password for encrypted private key (password from "
                        + password + ")");
    }

    @Test
    void ecKeyForRsaCertificate() {
        assertThatThrownBy(() -> PemKeyPair.load(fixture("rsa.crt"), fixture("ec.sec1.key"), null))
                .hasMessageContaining("ec.sec1.key: the private key does not match the certificate in ");
    }

    private static Path fixture(String name) throws URISyntaxException {
        return Path.of(OpenSslFixturesTest.class.getResource("/openssl/" + name).toURI());
    }
}
