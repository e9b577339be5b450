package io.postern.tls;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SelfSignedCertificatesTest {

    @TempDir
    Path dir;

    @Test
    void writesALoadableEcCertificateWithDnsAndIpNames() throws Exception {
        SelfSignedCertificates.Generated generated = SelfSignedCertificates.generate(
                "mail.test", List.of("mail.test", "imap.test", "127.0.0.1", "::1"), dir, Duration.ofDays(30));

        assertThat(generated.cert()).isEqualTo(dir.resolve("server.crt"));
        assertThat(generated.key()).isEqualTo(dir.resolve("server.key"));
        assertThat(Files.readString(generated.key())).startsWith("-----BEGIN PRIVATE KEY-----");
        PemKeyPair pair = PemKeyPair.load(generated.cert(), generated.key(), null);
        assertThat(pair.privateKey().getAlgorithm()).isEqualTo("EC");
        assertThat(pair.leaf().getSubjectX500Principal().getName()).isEqualTo("CN=mail.test");
        assertThat(pair.leaf().getIssuerX500Principal()).isEqualTo(pair.leaf().getSubjectX500Principal());
        assertThat(pair.dnsNames()).containsExactly("mail.test", "imap.test");
        assertThat(pair.leaf().getSubjectAlternativeNames())
                .contains(List.of(7, "127.0.0.1"), List.of(7, "0:0:0:0:0:0:0:1"));
        assertThat(pair.notAfter()).isBetween(
                Instant.now().plus(Duration.ofDays(30)).minusSeconds(60), Instant.now().plus(Duration.ofDays(30)));
    }

    @Test
    void keyIsForTheOwnerOnlyAndFilesAreReplaced() throws Exception {
        SelfSignedCertificates.Generated first =
                SelfSignedCertificates.generate("a.test", List.of("a.test"), dir, Duration.ofDays(1));
        String firstFingerprint = PemKeyPair.load(first.cert(), first.key(), null).sha256Fingerprint();

        SelfSignedCertificates.Generated second =
                SelfSignedCertificates.generate("a.test", List.of("a.test"), dir, Duration.ofDays(1));

        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(second.key()))).isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(second.cert()))).isEqualTo("rw-r--r--");
        assertThat(PemKeyPair.load(second.cert(), second.key(), null).sha256Fingerprint()).isNotEqualTo(firstFingerprint);
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("server.crt", "server.key");
        }
    }
}
