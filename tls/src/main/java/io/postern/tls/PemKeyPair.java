package io.postern.tls;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.SignatureException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x500.style.IETFUtils;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;

/**
 * A certificate chain and its private key, read from PEM files and checked at load: the key
 * signs a probe that the leaf certificate's public key verifies, and the leaf is valid now.
 *
 * <p>Accepted forms: the certificate file holds one or more {@code CERTIFICATE} blocks, the
 * server's own certificate first, then the intermediates. The key file holds one key as
 * {@code RSA PRIVATE KEY} (PKCS#1), {@code EC PRIVATE KEY} (SEC1), {@code PRIVATE KEY} (PKCS#8) or
 * {@code ENCRYPTED PRIVATE KEY} (PKCS#8, password from a file whose trailing newline is ignored);
 * OpenSSL's legacy encrypted PKCS#1/SEC1 ({@code Proc-Type: 4,ENCRYPTED}) works too. Certificates
 * and {@code EC PARAMETERS} blocks in the key file are skipped.
 *
 * <p>Immutable and safe to share between threads.
 */
public final class PemKeyPair {

    private static final byte[] PROBE = "postern key pair probe".getBytes(StandardCharsets.US_ASCII);
    private static final int SAN_DNS_NAME = 2;

    private final List<X509Certificate> chain;
    private final PrivateKey privateKey;
    private final List<String> dnsNames;
    private final String sha256Fingerprint;

    private PemKeyPair(List<X509Certificate> chain, PrivateKey privateKey, List<String> dnsNames) {
        this.chain = List.copyOf(chain);
        this.privateKey = privateKey;
        this.dnsNames = List.copyOf(dnsNames);
        this.sha256Fingerprint = sha256Hex(leaf());
    }

    /**
     * Loads and checks a key pair against the system clock.
     *
     * @param certFile PEM certificates, the server's own first
     * @param keyFile the PEM private key of the first certificate
     * @param keyPasswordFile the file holding the password of an encrypted key, or {@code null}
     * @throws TlsConfigException when a file is missing or unreadable, the key does not match the
     *     certificate, or the certificate is expired or not yet valid
     */
    public static PemKeyPair load(Path certFile, Path keyFile, Path keyPasswordFile) throws TlsConfigException {
        return load(certFile, keyFile, keyPasswordFile, Clock.systemUTC());
    }

    /**
     * Loads and checks a key pair; {@code clock} decides what "now" is for the validity check.
     *
     * @see #load(Path, Path, Path)
     */
    public static PemKeyPair load(Path certFile, Path keyFile, Path keyPasswordFile, Clock clock)
            throws TlsConfigException {
        List<X509Certificate> chain = loadCertificates(certFile);
        PrivateKey key = PemFiles.readPrivateKey(keyFile, keyPasswordFile);
        X509Certificate leaf = chain.get(0);
        checkKeyMatches(certFile, keyFile, chain, key);
        checkValidity(certFile, leaf, clock.instant());
        return new PemKeyPair(chain, key, dnsNames(certFile, leaf));
    }

    /**
     * All certificates in a PEM file, in file order: a chain or a CA bundle. Validity is not checked.
     *
     * @throws TlsConfigException when the file is missing or unreadable, holds no certificate, or
     *     holds anything other than certificates
     */
    public static List<X509Certificate> loadCertificates(Path pemFile) throws TlsConfigException {
        JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
        List<X509Certificate> certificates = new ArrayList<>();
        for (Object object : PemFiles.readObjects(pemFile)) {
            if (!(object instanceof X509CertificateHolder)) {
                throw new TlsConfigException(
                        pemFile,
                        "unsupported PEM object " + PemFiles.describe(object)
                                + " (expected only CERTIFICATE blocks; the private key goes in its own file)");
            }
            try {
                certificates.add(converter.getCertificate((X509CertificateHolder) object));
            } catch (CertificateException e) {
                throw new TlsConfigException(
                        pemFile, "certificate " + (certificates.size() + 1) + " is unusable: " + e.getMessage(), e);
            }
        }
        if (certificates.isEmpty()) {
            throw new TlsConfigException(
                    pemFile, "no certificate found (expected PEM text with -----BEGIN CERTIFICATE-----)");
        }
        return List.copyOf(certificates);
    }

    /** The certificates as loaded, the server's own first. */
    public List<X509Certificate> chain() {
        return chain;
    }

    /** The private key of {@link #leaf()}. */
    public PrivateKey privateKey() {
        return privateKey;
    }

    /** The server's own certificate: the first of {@link #chain()}. */
    public X509Certificate leaf() {
        return chain.get(0);
    }

    /**
     * The host names the leaf certificate is for: its subjectAltName dNSName entries (wildcards
     * such as {@code *.example.com} kept as they are), or its subject CN when it has none.
     */
    public List<String> dnsNames() {
        return dnsNames;
    }

    /** When the leaf certificate expires. */
    public Instant notAfter() {
        return leaf().getNotAfter().toInstant();
    }

    /** SHA-256 of the leaf certificate's DER encoding: 64 lowercase hex digits, no colons. */
    public String sha256Fingerprint() {
        return sha256Fingerprint;
    }

    @Override
    public String toString() {
        return "PemKeyPair[" + subject(leaf()) + ", notAfter=" + notAfter() + ", sha256=" + sha256Fingerprint + "]";
    }

    static String sha256Hex(X509Certificate certificate) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded()));
        } catch (NoSuchAlgorithmException | CertificateEncodingException e) {
            throw new IllegalStateException("SHA-256 of a parsed certificate", e);
        }
    }

    static String subject(X509Certificate certificate) {
        return certificate.getSubjectX500Principal().getName(X500Principal.RFC2253);
    }

    private static void checkKeyMatches(Path certFile, Path keyFile, List<X509Certificate> chain, PrivateKey key)
            throws TlsConfigException {
        if (matches(keyFile, chain.get(0), key)) {
            return;
        }
        String problem = "the private key does not match the certificate in " + certFile;
        for (int i = 1; i < chain.size(); i++) {
            if (matches(keyFile, chain.get(i), key)) {
                problem += "; it matches certificate " + (i + 1) + " (subject " + subject(chain.get(i))
                        + "): the server's own certificate must come first in the file";
                break;
            }
        }
        throw new TlsConfigException(keyFile, problem);
    }

    /** Signs {@link #PROBE} with {@code key} and verifies it with the certificate's public key. */
    private static boolean matches(Path keyFile, X509Certificate certificate, PrivateKey key)
            throws TlsConfigException {
        if (!key.getAlgorithm().equals(certificate.getPublicKey().getAlgorithm())) {
            return false;
        }
        String algorithm;
        switch (key.getAlgorithm()) {
            case "RSA":
                algorithm = "SHA256withRSA";
                break;
            case "EC":
                algorithm = "SHA256withECDSA";
                break;
            default:
                throw new TlsConfigException(
                        keyFile, "unsupported key algorithm " + key.getAlgorithm() + " (expected RSA or EC)");
        }
        try {
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(PROBE);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(certificate.getPublicKey());
            verifier.update(PROBE);
            return verifier.verify(signature);
        } catch (InvalidKeyException | SignatureException e) {
            // A key of another curve or size fails here rather than in verify(): it does not match.
            return false;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(algorithm + " is in every JDK", e);
        }
    }

    private static void checkValidity(Path certFile, X509Certificate leaf, Instant now) throws TlsConfigException {
        Instant notBefore = leaf.getNotBefore().toInstant();
        Instant notAfter = leaf.getNotAfter().toInstant();
        if (now.isAfter(notAfter)) {
            throw new TlsConfigException(
                    certFile, "certificate expired on " + notAfter + " (subject " + subject(leaf) + ")");
        }
        if (now.isBefore(notBefore)) {
            throw new TlsConfigException(
                    certFile, "certificate not yet valid until " + notBefore + " (subject " + subject(leaf) + ")");
        }
    }

    private static List<String> dnsNames(Path certFile, X509Certificate leaf) throws TlsConfigException {
        List<String> names = new ArrayList<>();
        try {
            Collection<List<?>> alternativeNames = leaf.getSubjectAlternativeNames();
            if (alternativeNames != null) {
                for (List<?> entry : alternativeNames) {
                    if (((Integer) entry.get(0)) == SAN_DNS_NAME) {
                        names.add((String) entry.get(1));
                    }
                }
            }
        } catch (CertificateParsingException e) {
            throw new TlsConfigException(certFile, "unreadable subjectAltName extension: " + e.getMessage(), e);
        }
        if (names.isEmpty()) {
            X500Name subject = X500Name.getInstance(leaf.getSubjectX500Principal().getEncoded());
            for (RDN rdn : subject.getRDNs(BCStyle.CN)) {
                names.add(IETFUtils.valueToString(rdn.getFirst().getValue()));
            }
        }
        return names;
    }
}
