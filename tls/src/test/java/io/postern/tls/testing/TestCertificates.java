package io.postern.tls.testing;

import io.netty.util.NetUtil;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
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
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PKCS8Generator;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8EncryptorBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.OutputEncryptor;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.io.pem.PemGenerationException;

/**
 * A throw-away certificate authority for tests: it issues server (and client) certificates for
 * given names, with any validity window, RSA or EC keys, and writes them as PEM in every key format
 * Postern reads.
 *
 * <pre>{@code
 * TestCertificates ca = TestCertificates.newCa(tempDir);
 * Issued mail = ca.server("mail.test").issue();                       // EC, PKCS#8, valid for a day
 * Issued old = ca.server("old.test").expired().issue();
 * Issued rsa = ca.server("rsa.test").keyType(KeyType.RSA).keyFormat(KeyFormat.TRADITIONAL).issue();
 * Issued locked = ca.server("k.test").password("secret").issue();      // encrypted PKCS#8 + password file
 * }</pre>
 *
 * <p>Every issued certificate has the serverAuth and clientAuth extended key usages, so it can serve
 * either side. An instance is not thread-safe; use one per test class or test.
 */
public final class TestCertificates {

    /** The key algorithm of a certificate. */
    public enum KeyType {
        /** EC on P-256, signed with SHA256withECDSA. */
        EC,
        /** RSA 2048, signed with SHA256withRSA. */
        RSA
    }

    /** How the private key file is written. */
    public enum KeyFormat {
        /** {@code RSA PRIVATE KEY} (PKCS#1) or {@code EC PRIVATE KEY} (SEC1), as older OpenSSL writes. */
        TRADITIONAL,
        /** {@code PRIVATE KEY} (PKCS#8). */
        PKCS8,
        /** {@code ENCRYPTED PRIVATE KEY} (PKCS#8, AES-256-CBC, PBKDF2 with HMAC-SHA256), plus a password file. */
        ENCRYPTED_PKCS8
    }

    /**
     * What {@link Request#issue()} wrote.
     *
     * @param cert the PEM certificate file: the certificate, then the intermediates above it
     * @param key the PEM private key file
     * @param keyPasswordFile the password file (password plus a newline), or {@code null} when the key
     *     is not encrypted
     * @param certificate the issued certificate
     * @param privateKey its private key
     */
    public record Issued(
            Path cert, Path key, Path keyPasswordFile, X509Certificate certificate, PrivateKey privateKey) {}

    private static final BouncyCastleProvider BC = new BouncyCastleProvider();
    private static final Duration DEFAULT_VALIDITY = Duration.ofDays(1);
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Path dir;
    private final String name;
    private final KeyPair keyPair;
    private final X509Certificate certificate;
    /** The intermediates from this CA up to (not including) the root, this one first. */
    private final List<X509Certificate> intermediates;
    private final Path caFile;
    private final AtomicInteger issued = new AtomicInteger();

    private TestCertificates(
            Path dir, String name, KeyPair keyPair, X509Certificate certificate, List<X509Certificate> intermediates)
            throws IOException {
        this.dir = dir;
        this.name = name;
        this.keyPair = keyPair;
        this.certificate = certificate;
        this.intermediates = List.copyOf(intermediates);
        this.caFile = dir.resolve(fileName(name) + "-ca.crt");
        writePem(caFile, List.of(certificate));
    }

    /** A root CA named {@code Postern Test CA} with an EC key, writing its files into {@code dir}. */
    public static TestCertificates newCa(Path dir) {
        return newCa(dir, "Postern Test CA", KeyType.EC);
    }

    /** A root CA with the given subject CN and key type, writing its files into {@code dir}. */
    public static TestCertificates newCa(Path dir, String name, KeyType keyType) {
        KeyPair keyPair = newKeyPair(keyType);
        X500Name subject = cn(name);
        Instant now = Instant.now();
        X509Certificate certificate = sign(
                subject, keyPair.getPublic(), subject, keyPair, now.minus(Duration.ofHours(1)),
                now.plus(Duration.ofDays(3650)), null, true);
        try {
            return new TestCertificates(dir, name, keyPair, certificate, List.of());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** An intermediate CA signed by this one; certificates it issues carry it in their chain. */
    public TestCertificates intermediate(String intermediateName) {
        KeyPair intermediateKeys = newKeyPair(KeyType.EC);
        Instant now = Instant.now();
        X509Certificate intermediateCertificate = sign(
                cn(intermediateName), intermediateKeys.getPublic(), cn(name), keyPair,
                now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(3650)), null, true);
        List<X509Certificate> chain = new ArrayList<>();
        chain.add(intermediateCertificate);
        chain.addAll(intermediates);
        try {
            return new TestCertificates(dir, intermediateName, intermediateKeys, intermediateCertificate, chain);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** This CA's certificate. */
    public X509Certificate caCertificate() {
        return certificate;
    }

    /** A PEM file holding only this CA's certificate, for trust settings. */
    public Path caFile() {
        return caFile;
    }

    /**
     * A JDK client {@link SSLContext} that trusts this CA only and presents {@code clientCertificate}
     * when it is not {@code null}; e.g. for {@code SSLSocket}s or a mail client's socket factory.
     */
    public SSLContext jdkClientContext(Issued clientCertificate) {
        try {
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            trust.setCertificateEntry("ca", certificate);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            KeyManagerFactory kmf = null;
            if (clientCertificate != null) {
                char[] password = new char[0];
                KeyStore keys = KeyStore.getInstance("PKCS12");
                keys.load(null, null);
                keys.setKeyEntry("client", clientCertificate.privateKey(), password,
                        new Certificate[] {clientCertificate.certificate()});
                kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(keys, password);
            }
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
            return context;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Starts a certificate for {@code names} (subjectAltName entries; the first is also the CN). */
    public Request server(String... names) {
        return new Request(List.of(names));
    }

    /** Writes {@code key} to {@code file} in {@code format}; {@code password} only for encrypted PKCS#8. */
    public static void writeKey(Path file, PrivateKey key, KeyFormat format, String password) {
        Object pem;
        try {
            switch (format) {
                case TRADITIONAL:
                    pem = withCurveInside(key);
                    break;
                case PKCS8:
                    pem = new JcaPKCS8Generator(key, null);
                    break;
                case ENCRYPTED_PKCS8:
                    pem = new JcaPKCS8Generator(key, encryptor(password));
                    break;
                default:
                    throw new AssertionError(format);
            }
        } catch (PemGenerationException e) {
            throw new UncheckedIOException(e);
        }
        writePemObjects(file, List.of(pem));
    }

    /**
     * OpenSSL's SEC1 {@code EC PRIVATE KEY} names its curve inside; the JDK's encoding keeps the curve
     * only in the PKCS#8 wrapper, which the traditional form drops. Bouncy Castle's encoding has both.
     */
    private static PrivateKey withCurveInside(PrivateKey key) {
        if (!key.getAlgorithm().equals("EC")) {
            return key;
        }
        try {
            return KeyFactory.getInstance("EC", BC).generatePrivate(new PKCS8EncodedKeySpec(key.getEncoded()));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes certificates to {@code file} as consecutive PEM blocks. */
    public static void writePem(Path file, List<X509Certificate> certificates) {
        writePemObjects(file, List.copyOf(certificates));
    }

    private static void writePemObjects(Path file, List<Object> objects) {
        try (Writer out = Files.newBufferedWriter(file, StandardCharsets.US_ASCII);
                JcaPEMWriter pem = new JcaPEMWriter(out)) {
            for (Object object : objects) {
                pem.writeObject(object);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A certificate about to be issued; every setter returns {@code this}. */
    public final class Request {
        private final List<String> names;
        private KeyType keyType = KeyType.EC;
        private KeyFormat keyFormat = KeyFormat.PKCS8;
        private String password;
        private Instant notBefore = Instant.now().minus(Duration.ofHours(1));
        private Instant notAfter = Instant.now().plus(DEFAULT_VALIDITY);
        private boolean includeRoot;
        private Path certFile;
        private Path keyFile;

        private Request(List<String> names) {
            if (names.isEmpty()) {
                throw new IllegalArgumentException("names: at least one");
            }
            this.names = names;
        }

        /** EC (default) or RSA. */
        public Request keyType(KeyType type) {
            this.keyType = type;
            return this;
        }

        /** PKCS#8 by default. */
        public Request keyFormat(KeyFormat format) {
            this.keyFormat = format;
            return this;
        }

        /** Encrypts the key as PKCS#8 with {@code password}, written to a password file with a newline. */
        public Request password(String keyPassword) {
            this.password = keyPassword;
            this.keyFormat = KeyFormat.ENCRYPTED_PKCS8;
            return this;
        }

        /** The validity window; by default from an hour ago to a day from now. */
        public Request validity(Instant from, Instant until) {
            this.notBefore = from;
            this.notAfter = until;
            return this;
        }

        /** Valid for a day until a day ago. */
        public Request expired() {
            Instant now = Instant.now();
            return validity(now.minus(Duration.ofDays(2)), now.minus(Duration.ofDays(1)));
        }

        /** Valid from tomorrow on. */
        public Request notYetValid() {
            Instant now = Instant.now();
            return validity(now.plus(Duration.ofDays(1)), now.plus(Duration.ofDays(2)));
        }

        /** Also writes the root CA certificate at the end of the certificate file. */
        public Request includeRoot() {
            this.includeRoot = true;
            return this;
        }

        /** Where to write; by default {@code <first name>-<n>.crt} and {@code .key} in the CA's directory. */
        public Request files(Path cert, Path key) {
            this.certFile = cert;
            this.keyFile = key;
            return this;
        }

        /** Signs the certificate and writes its files. */
        public Issued issue() {
            KeyPair leafKeys = newKeyPair(keyType);
            X509Certificate leaf = sign(cn(names.get(0)), leafKeys.getPublic(), cn(name), keyPair, notBefore,
                    notAfter, names, false);
            String base = fileName(names.get(0)) + "-" + issued.incrementAndGet();
            Path cert = certFile != null ? certFile : dir.resolve(base + ".crt");
            Path key = keyFile != null ? keyFile : dir.resolve(base + ".key");
            List<X509Certificate> chain = new ArrayList<>();
            chain.add(leaf);
            chain.addAll(intermediates);
            if (includeRoot) {
                chain.add(rootOf());
            }
            writePem(cert, chain);
            writeKey(key, leafKeys.getPrivate(), keyFormat, password);
            Path passwordFile = null;
            if (keyFormat == KeyFormat.ENCRYPTED_PKCS8) {
                passwordFile = key.resolveSibling(key.getFileName() + ".password");
                try {
                    Files.writeString(passwordFile, password + "\n", StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
            return new Issued(cert, key, passwordFile, leaf, leafKeys.getPrivate());
        }

        private X509Certificate rootOf() {
            return intermediates.isEmpty() ? certificate : intermediates.get(intermediates.size() - 1);
        }
    }

    private static OutputEncryptor encryptor(String password) {
        if (password == null) {
            throw new IllegalArgumentException("password: required for ENCRYPTED_PKCS8");
        }
        try {
            return new JceOpenSSLPKCS8EncryptorBuilder(PKCS8Generator.AES_256_CBC)
                    .setProvider(BC)
                    .setPRF(PKCS8Generator.PRF_HMACSHA256)
                    .setIterationCount(2048)
                    .setPassword(password.toCharArray())
                    .build();
        } catch (OperatorCreationException e) {
            throw new IllegalStateException(e);
        }
    }

    private static X509Certificate sign(
            X500Name subject, PublicKey subjectKey, X500Name issuer, KeyPair issuerKeys, Instant notBefore,
            Instant notAfter, List<String> sanNames, boolean ca) {
        try {
            JcaX509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(
                    issuer, new BigInteger(159, RANDOM), Date.from(notBefore), Date.from(notAfter), subject, subjectKey);
            JcaX509ExtensionUtils extensions = new JcaX509ExtensionUtils();
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
            builder.addExtension(Extension.subjectKeyIdentifier, false, extensions.createSubjectKeyIdentifier(subjectKey));
            builder.addExtension(Extension.authorityKeyIdentifier, false,
                    extensions.createAuthorityKeyIdentifier(issuerKeys.getPublic()));
            if (ca) {
                builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            } else {
                builder.addExtension(Extension.keyUsage, true,
                        new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
                builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
                        new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
                builder.addExtension(Extension.subjectAlternativeName, false, subjectAltNames(sanNames));
            }
            String algorithm = issuerKeys.getPrivate().getAlgorithm().equals("RSA") ? "SHA256withRSA" : "SHA256withECDSA";
            return new JcaX509CertificateConverter()
                    .getCertificate(builder.build(new JcaContentSignerBuilder(algorithm).build(issuerKeys.getPrivate())));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException(e);
        }
    }

    private static GeneralNames subjectAltNames(List<String> names) {
        GeneralName[] entries = new GeneralName[names.size()];
        for (int i = 0; i < entries.length; i++) {
            String n = names.get(i);
            boolean ip = NetUtil.isValidIpV4Address(n) || NetUtil.isValidIpV6Address(n);
            entries[i] = new GeneralName(ip ? GeneralName.iPAddress : GeneralName.dNSName, n);
        }
        return new GeneralNames(entries);
    }

    private static KeyPair newKeyPair(KeyType type) {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance(type.name());
            if (type == KeyType.EC) {
                generator.initialize(new ECGenParameterSpec("secp256r1"));
            } else {
                generator.initialize(2048);
            }
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static X500Name cn(String commonName) {
        return new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, commonName).build();
    }

    private static String fileName(String text) {
        return text.replaceAll("[^A-Za-z0-9.-]", "_");
    }
}
