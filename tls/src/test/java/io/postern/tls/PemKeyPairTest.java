package io.postern.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.postern.tls.testing.TestCertificates;
import io.postern.tls.testing.TestCertificates.Issued;
import io.postern.tls.testing.TestCertificates.KeyFormat;
import io.postern.tls.testing.TestCertificates.KeyType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PemKeyPairTest {

    @TempDir
    Path dir;

    private TestCertificates ca;

    @BeforeEach
    void newCa() {
        ca = TestCertificates.newCa(dir);
    }

    @Test
    void chainOfLeafAndIntermediate() throws Exception {
        Issued issued = ca.intermediate("Postern Test Intermediate").server("mail.test", "*.mail.test").issue();

        PemKeyPair pair = load(issued);

        assertThat(pair.chain()).hasSize(2);
        assertThat(pair.leaf()).isEqualTo(issued.certificate());
        assertThat(pair.chain().get(1).getSubjectX500Principal().getName()).isEqualTo("CN=Postern Test Intermediate");
        assertThat(pair.privateKey().getEncoded()).isEqualTo(issued.privateKey().getEncoded());
        assertThat(pair.dnsNames()).containsExactly("mail.test", "*.mail.test");
        assertThat(pair.notAfter()).isEqualTo(issued.certificate().getNotAfter().toInstant());
        byte[] digest = MessageDigest.getInstance("SHA-256").digest(issued.certificate().getEncoded());
        assertThat(pair.sha256Fingerprint()).isEqualTo(HexFormat.of().formatHex(digest)).hasSize(64);
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
        "RSA, TRADITIONAL, -----BEGIN RSA PRIVATE KEY-----",
        "RSA, PKCS8, -----BEGIN PRIVATE KEY-----",
        "EC, TRADITIONAL, -----BEGIN EC PRIVATE KEY-----",
        "EC, PKCS8, -----BEGIN PRIVATE KEY-----",
    })
    void unencryptedKeyForms(KeyType type, KeyFormat format, String firstLine) throws Exception {
        Issued issued = ca.server("key.test").keyType(type).keyFormat(format).issue();
        assertThat(Files.readString(issued.key())).startsWith(firstLine);

        PemKeyPair pair = load(issued);

        // load() proved the key signs what the certificate verifies; the encodings may differ (SEC1).
        assertThat(pair.privateKey().getAlgorithm()).isEqualTo(type.name());
    }

    @Test
    void encryptedPkcs8WithPasswordFile() throws Exception {
        Issued issued = ca.server("locked.test").keyType(KeyType.RSA).password("s3cret pass").issue();
        assertThat(Files.readString(issued.key())).startsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----");
        assertThat(Files.readString(issued.keyPasswordFile())).isEqualTo("s3cret pass\n");

        assertThat(load(issued).privateKey().getEncoded()).isEqualTo(issued.privateKey().getEncoded());
    }

    @Test
    void encryptedPkcs8PasswordFileWithCrlf() throws Exception {
        Issued issued = ca.server("locked.test").password("s3cret").issue();
        Files.writeString(issued.keyPasswordFile(), "s3cret\r\n");

        assertThat(load(issued).leaf()).isEqualTo(issued.certificate());
    }

    @Test
    void encryptedPkcs8WrongPassword() {
        Issued issued = ca.server("locked.test").password("s3cret").issue();
        write(issued.keyPasswordFile(), "guess\n");

        assertThatThrownBy(() -> load(issued))
                .isInstanceOf(TlsConfigException.class)
                .hasMessage(issued.key() + ": wrong password for encrypted private key (password from "
                        + issued.keyPasswordFile() + ")");
    }

    @Test
    void encryptedPkcs8WithoutPasswordFile() {
        Issued issued = ca.server("locked.test").password("s3cret").issue();

        assertThatThrownBy(() -> PemKeyPair.load(issued.cert(), issued.key(), null))
                .hasMessage(issued.key() + ": encrypted private key needs a password file (key_password_file)");
    }

    @Test
    void keyOfAnotherCertificate() {
        Issued one = ca.server("one.test").issue();
        Issued other = ca.server("other.test").issue();

        TlsConfigException e = loadFails(one.cert(), other.key());

        assertThat(e).hasMessage(other.key() + ": the private key does not match the certificate in " + one.cert());
        assertThat(e.file()).isEqualTo(other.key());
    }

    @Test
    void rsaKeyForEcCertificate() {
        Issued ec = ca.server("ec.test").issue();
        Issued rsa = ca.server("rsa.test").keyType(KeyType.RSA).issue();

        assertThat(loadFails(ec.cert(), rsa.key()))
                .hasMessage(rsa.key() + ": the private key does not match the certificate in " + ec.cert());
    }

    @Test
    void chainInWrongOrderIsExplained() {
        Issued issued = ca.intermediate("Intermediate").server("mail.test").issue();
        List<java.security.cert.X509Certificate> chain = load(issued.cert());
        TestCertificates.writePem(issued.cert(), List.of(chain.get(1), chain.get(0)));

        assertThat(loadFails(issued.cert(), issued.key()))
                .hasMessage(issued.key() + ": the private key does not match the certificate in " + issued.cert()
                        + "; it matches certificate 2 (subject CN=mail.test):"
                        + " the server's own certificate must come first in the file");
    }

    @Test
    void expired() {
        Issued issued = ca.server("old.test").expired().issue();

        assertThat(loadFails(issued.cert(), issued.key()))
                .hasMessage(issued.cert() + ": certificate expired on " + issued.certificate().getNotAfter().toInstant()
                        + " (subject CN=old.test)");
    }

    @Test
    void notYetValid() {
        Issued issued = ca.server("new.test").notYetValid().issue();

        assertThat(loadFails(issued.cert(), issued.key()))
                .hasMessage(issued.cert() + ": certificate not yet valid until "
                        + issued.certificate().getNotBefore().toInstant() + " (subject CN=new.test)");
    }

    @Test
    void clockDecidesValidity() throws Exception {
        Issued issued = ca.server("mail.test").issue();
        Clock afterExpiry = Clock.fixed(issued.certificate().getNotAfter().toInstant().plus(Duration.ofSeconds(1)),
                ZoneOffset.UTC);

        assertThatThrownBy(() -> PemKeyPair.load(issued.cert(), issued.key(), null, afterExpiry))
                .hasMessageContaining("certificate expired on");
    }

    @Test
    void missingFiles() {
        Issued issued = ca.server("mail.test").issue();
        Path nowhere = dir.resolve("nowhere.pem");

        assertThat(loadFails(nowhere, issued.key())).hasMessage(nowhere + ": file not found");
        assertThat(loadFails(issued.cert(), nowhere)).hasMessage(nowhere + ": file not found");
    }

    @Test
    void passwordFileMissing() {
        Issued issued = ca.server("locked.test").password("pw").issue();
        Path nowhere = dir.resolve("pw.txt");

        assertThatThrownBy(() -> PemKeyPair.load(issued.cert(), issued.key(), nowhere))
                .hasMessage(nowhere + ": file not found");
    }

    @Test
    void garbageFiles() throws Exception {
        Issued issued = ca.server("mail.test").issue();
        byte[] noise = new byte[3000];
        new Random(7).nextBytes(noise);
        Path garbage = dir.resolve("garbage.pem");
        Files.write(garbage, noise);

        assertThat(loadFails(garbage, issued.key()))
                .hasMessage(garbage + ": no certificate found (expected PEM text with -----BEGIN CERTIFICATE-----)");
        assertThat(loadFails(issued.cert(), garbage))
                .hasMessage(garbage + ": no private key found (expected PEM text such as -----BEGIN PRIVATE KEY-----)");
    }

    @Test
    void derCertificateIsNotPem() throws Exception {
        Issued issued = ca.server("mail.test").issue();
        Path der = dir.resolve("server.der");
        Files.write(der, issued.certificate().getEncoded());

        assertThat(loadFails(der, issued.key())).hasMessageStartingWith(der + ": no certificate found");
    }

    @Test
    void brokenPemBlock() {
        Issued issued = ca.server("mail.test").issue();
        Path broken = dir.resolve("broken.pem");
        write(broken, "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n");

        assertThat(loadFails(broken, issued.key())).hasMessageStartingWith(broken + ": not a valid PEM file: ");
    }

    @Test
    void keyInCertificateFile() throws Exception {
        Issued issued = ca.server("mail.test").issue();
        Path both = dir.resolve("both.pem");
        Files.writeString(both, Files.readString(issued.key()) + Files.readString(issued.cert()));

        assertThat(loadFails(both, issued.key())).hasMessage(both + ": unsupported PEM object PRIVATE KEY"
                + " (expected only CERTIFICATE blocks; the private key goes in its own file)");
    }

    @Test
    void certificateAndKeyInKeyFileIsFine() throws Exception {
        Issued issued = ca.server("mail.test").issue();
        Path both = dir.resolve("both.pem");
        Files.writeString(both, Files.readString(issued.cert()) + Files.readString(issued.key()));

        assertThat(PemKeyPair.load(issued.cert(), both, null).leaf()).isEqualTo(issued.certificate());
    }

    @Test
    void twoKeysInKeyFile() throws Exception {
        Issued issued = ca.server("mail.test").issue();
        Path two = dir.resolve("two.key");
        Files.writeString(two, Files.readString(issued.key()) + Files.readString(issued.key()));

        assertThat(loadFails(issued.cert(), two)).hasMessage(two + ": more than one private key found (keep one key per file)");
    }

    @Test
    void publicKeyInsteadOfPrivateKey() throws Exception {
        Issued issued = ca.server("mail.test").issue();
        Path publicKey = dir.resolve("public.pem");
        try (var out = new org.bouncycastle.openssl.jcajce.JcaPEMWriter(Files.newBufferedWriter(publicKey))) {
            out.writeObject(issued.certificate().getPublicKey());
        }

        assertThat(loadFails(issued.cert(), publicKey))
                .hasMessage(publicKey + ": unsupported PEM object PUBLIC KEY (expected a private key)");
    }

    @Test
    void dnsNamesFallBackToCommonName() throws Exception {
        SelfSignedCertificates.Generated generated =
                SelfSignedCertificates.generate("only-cn.test", List.of(), dir, Duration.ofDays(1));

        assertThat(PemKeyPair.load(generated.cert(), generated.key(), null).dnsNames()).containsExactly("only-cn.test");
    }

    @Test
    void caBundle() throws Exception {
        TestCertificates other = TestCertificates.newCa(dir, "Other CA", KeyType.RSA);
        Path bundle = dir.resolve("bundle.pem");
        TestCertificates.writePem(bundle, List.of(ca.caCertificate(), other.caCertificate()));

        assertThat(PemKeyPair.loadCertificates(bundle)).containsExactly(ca.caCertificate(), other.caCertificate());
    }

    private static PemKeyPair load(Issued issued) throws TlsConfigException {
        return PemKeyPair.load(issued.cert(), issued.key(), issued.keyPasswordFile());
    }

    private static List<java.security.cert.X509Certificate> load(Path certificates) {
        try {
            return PemKeyPair.loadCertificates(certificates);
        } catch (TlsConfigException e) {
            throw new AssertionError(e);
        }
    }

    private static TlsConfigException loadFails(Path cert, Path key) {
        try {
            PemKeyPair pair = PemKeyPair.load(cert, key, null);
            throw new AssertionError("loaded " + pair);
        } catch (TlsConfigException e) {
            return e;
        }
    }

    private static void write(Path file, String text) {
        try {
            Files.writeString(file, text, StandardCharsets.US_ASCII);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
