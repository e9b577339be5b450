package io.postern.tls;

import io.netty.util.NetUtil;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Set;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Makes a self-signed server certificate, for a first start or a demo without a CA. Stateless;
 * safe from any thread.
 */
public final class SelfSignedCertificates {

    /** How far back {@code notBefore} is set, so a client whose clock is a little behind accepts it. */
    private static final Duration BACKDATE = Duration.ofHours(1);

    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> WORLD_READABLE = PosixFilePermissions.fromString("rw-r--r--");

    /**
     * The files written.
     *
     * @param cert the PEM certificate, {@code server.crt}
     * @param key the PKCS#8 PEM private key, {@code server.key}
     */
    public record Generated(Path cert, Path key) {}

    private SelfSignedCertificates() {}

    /**
     * Writes an EC P-256 self-signed certificate and its key to {@code outDir/server.crt} and
     * {@code outDir/server.key}, replacing each atomically. The key file is readable by its owner
     * only (mode 0600) where the file system has POSIX permissions.
     *
     * @param commonName the subject CN
     * @param dnsNames subjectAltName entries; IP literals such as {@code 127.0.0.1} become IP
     *     entries, everything else a dNSName
     * @param outDir an existing directory
     * @param validity how long from now the certificate is valid
     * @throws IOException when the files cannot be written
     */
    public static Generated generate(String commonName, List<String> dnsNames, Path outDir, Duration validity)
            throws IOException {
        KeyPair keyPair = newEcKeyPair();
        X500Name subject = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, commonName).build();
        Instant now = Instant.now();
        JcaX509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(
                subject,
                new BigInteger(159, new SecureRandom()),
                Date.from(now.minus(BACKDATE)),
                Date.from(now.plus(validity)),
                subject,
                keyPair.getPublic());
        X509Certificate certificate;
        try {
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            builder.addExtension(
                    Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
            if (!dnsNames.isEmpty()) {
                builder.addExtension(Extension.subjectAlternativeName, false, subjectAltNames(dnsNames));
            }
            certificate = new JcaX509CertificateConverter()
                    .getCertificate(builder.build(
                            new JcaContentSignerBuilder("SHA256withECDSA").build(keyPair.getPrivate())));
        } catch (OperatorCreationException | GeneralSecurityException e) {
            throw new IllegalStateException("EC P-256 with SHA-256 is in every JDK", e);
        }
        Generated generated = new Generated(outDir.resolve("server.crt"), outDir.resolve("server.key"));
        writeAtomically(generated.key(), pem(new JcaPKCS8Generator(keyPair.getPrivate(), null).generate()), true);
        writeAtomically(generated.cert(), pem(certificate), false);
        return generated;
    }

    /** SAN entries: an IP literal becomes an iPAddress, anything else a dNSName. */
    static GeneralNames subjectAltNames(List<String> names) {
        List<GeneralName> generalNames = new ArrayList<>();
        for (String name : names) {
            boolean ip = NetUtil.isValidIpV4Address(name) || NetUtil.isValidIpV6Address(name);
            generalNames.add(new GeneralName(ip ? GeneralName.iPAddress : GeneralName.dNSName, name));
        }
        return new GeneralNames(generalNames.toArray(new GeneralName[0]));
    }

    private static KeyPair newEcKeyPair() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("EC P-256 is in every JDK", e);
        }
    }

    private static String pem(Object object) {
        StringWriter text = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
            writer.writeObject(object);
        } catch (IOException e) {
            throw new UncheckedIOException("writing PEM to a string", e);
        }
        return text.toString();
    }

    /** Writes a temporary file next to {@code file} and renames it over {@code file}. */
    private static void writeAtomically(Path file, String text, boolean ownerOnly) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        boolean posix = file.getFileSystem().supportedFileAttributeViews().contains("posix");
        FileAttribute<?>[] attributes = ownerOnly && posix
                ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(OWNER_ONLY)}
                : new FileAttribute<?>[0];
        Path temporary = Files.createTempFile(dir, "." + file.getFileName(), ".tmp", attributes);
        try {
            Files.writeString(temporary, text, StandardCharsets.US_ASCII);
            if (!ownerOnly && posix) {
                // createTempFile makes 0600 files; a certificate is public.
                Files.setPosixFilePermissions(temporary, WORLD_READABLE);
            }
            Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(temporary);
        }
    }
}
