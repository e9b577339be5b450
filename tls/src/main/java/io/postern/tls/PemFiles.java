package io.postern.tls;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.Security;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.cms.ContentInfo;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x9.X9ECParameters;
import org.bouncycastle.cert.X509CRLHolder;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8DecryptorProviderBuilder;
import org.bouncycastle.openssl.jcajce.JcePEMDecryptorProviderBuilder;
import org.bouncycastle.operator.InputDecryptorProvider;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;
import org.bouncycastle.pkcs.PKCSException;

/**
 * Reads PEM files with Bouncy Castle and turns every failure into a {@link TlsConfigException} that
 * names the file. Stateless; safe from any thread.
 */
final class PemFiles {

    /** A PEM file larger than this is surely the wrong file. */
    static final int MAX_PEM_BYTES = 1024 * 1024;

    /**
     * Bouncy Castle as a private provider instance for decrypting keys: it is never registered with
     * {@link Security}, so the rest of the JVM keeps its own providers. Keys and certificates
     * themselves are converted with the JDK's providers, which both TLS engines accept.
     */
    private static final class Bc {
        static final BouncyCastleProvider PROVIDER = new BouncyCastleProvider();
    }

    private PemFiles() {}

    /** Every PEM object in {@code file}, in order; non-PEM text between them is skipped. */
    static List<Object> readObjects(Path file) throws TlsConfigException {
        String text = readText(file);
        List<Object> objects = new ArrayList<>();
        try (PEMParser parser = new PEMParser(new StringReader(text))) {
            for (Object object = parser.readObject(); object != null; object = parser.readObject()) {
                objects.add(object);
            }
        } catch (IOException e) {
            throw new TlsConfigException(file, "not a valid PEM file: " + e.getMessage(), e);
        }
        return objects;
    }

    /**
     * The one private key in {@code keyFile}, in any of the forms OpenSSL writes: PKCS#1 RSA, SEC1 EC,
     * PKCS#8, encrypted PKCS#8 and legacy encrypted PKCS#1/SEC1. Certificates and EC parameters in the
     * same file are skipped.
     */
    static PrivateKey readPrivateKey(Path keyFile, Path passwordFile) throws TlsConfigException {
        PrivateKeyInfo found = null;
        for (Object object : readObjects(keyFile)) {
            PrivateKeyInfo info;
            if (object instanceof PEMKeyPair) {
                info = ((PEMKeyPair) object).getPrivateKeyInfo();
            } else if (object instanceof PrivateKeyInfo) {
                info = (PrivateKeyInfo) object;
            } else if (object instanceof PKCS8EncryptedPrivateKeyInfo) {
                info = decrypt((PKCS8EncryptedPrivateKeyInfo) object, keyFile, passwordFile);
            } else if (object instanceof PEMEncryptedKeyPair) {
                info = decrypt((PEMEncryptedKeyPair) object, keyFile, passwordFile);
            } else if (object instanceof X509CertificateHolder
                    || object instanceof ASN1ObjectIdentifier
                    || object instanceof X9ECParameters) {
                continue;
            } else {
                throw new TlsConfigException(
                        keyFile, "unsupported PEM object " + describe(object) + " (expected a private key)");
            }
            if (found != null) {
                throw new TlsConfigException(keyFile, "more than one private key found (keep one key per file)");
            }
            found = info;
        }
        if (found == null) {
            throw new TlsConfigException(
                    keyFile, "no private key found (expected PEM text such as -----BEGIN PRIVATE KEY-----)");
        }
        try {
            return new JcaPEMKeyConverter().getPrivateKey(found);
        } catch (IOException e) {
            throw new TlsConfigException(keyFile, "unusable private key: " + e.getMessage(), e);
        }
    }

    private static PrivateKeyInfo decrypt(PKCS8EncryptedPrivateKeyInfo encrypted, Path keyFile, Path passwordFile)
            throws TlsConfigException {
        char[] password = readPassword(keyFile, passwordFile);
        try {
            InputDecryptorProvider decryptor = new JceOpenSSLPKCS8DecryptorProviderBuilder()
                    .setProvider(Bc.PROVIDER)
                    .build(password);
            return encrypted.decryptPrivateKeyInfo(decryptor);
        } catch (PKCSException e) {
            throw wrongPassword(keyFile, passwordFile, e);
        } catch (OperatorCreationException e) {
            throw new TlsConfigException(
                    keyFile, "unsupported encryption of the private key: " + e.getMessage(), e);
        } finally {
            Arrays.fill(password, '\0');
        }
    }

    private static PrivateKeyInfo decrypt(PEMEncryptedKeyPair encrypted, Path keyFile, Path passwordFile)
            throws TlsConfigException {
        char[] password = readPassword(keyFile, passwordFile);
        try {
            return encrypted
                    .decryptKeyPair(new JcePEMDecryptorProviderBuilder().setProvider(Bc.PROVIDER).build(password))
                    .getPrivateKeyInfo();
        } catch (IOException e) {
            throw wrongPassword(keyFile, passwordFile, e);
        } finally {
            Arrays.fill(password, '\0');
        }
    }

    private static TlsConfigException wrongPassword(Path keyFile, Path passwordFile, Exception cause) {
        return new TlsConfigException(
                keyFile, "wrong password for encrypted private key (password from " + passwordFile + ")", cause);
    }

    /** The password in {@code passwordFile}, without the line ending(s) an editor leaves at the end. */
    private static char[] readPassword(Path keyFile, Path passwordFile) throws TlsConfigException {
        if (passwordFile == null) {
            throw new TlsConfigException(keyFile, "encrypted private key needs a password file (key_password_file)");
        }
        String text = new String(readBytes(passwordFile), StandardCharsets.UTF_8);
        int end = text.length();
        while (end > 0 && (text.charAt(end - 1) == '\n' || text.charAt(end - 1) == '\r')) {
            end--;
        }
        char[] password = new char[end];
        text.getChars(0, end, password, 0);
        return password;
    }

    /** The file as text; ISO-8859-1 maps every byte, so a binary file reads as "no PEM found". */
    private static String readText(Path file) throws TlsConfigException {
        return new String(readBytes(file), StandardCharsets.ISO_8859_1);
    }

    private static byte[] readBytes(Path file) throws TlsConfigException {
        try {
            long size = Files.size(file);
            if (size > MAX_PEM_BYTES) {
                throw new TlsConfigException(
                        file, "too large for a PEM file (" + size + " bytes, expected at most " + MAX_PEM_BYTES + ")");
            }
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new TlsConfigException(file, "file not found", e);
        } catch (AccessDeniedException e) {
            throw new TlsConfigException(file, "permission denied", e);
        } catch (IOException e) {
            throw new TlsConfigException(file, "cannot read: " + e, e);
        }
    }

    /** The PEM label a person would recognise for an object Bouncy Castle parsed. */
    static String describe(Object object) {
        if (object instanceof X509CertificateHolder) {
            return "CERTIFICATE";
        } else if (object instanceof PEMKeyPair
                || object instanceof PrivateKeyInfo
                || object instanceof PKCS8EncryptedPrivateKeyInfo
                || object instanceof PEMEncryptedKeyPair) {
            return "PRIVATE KEY";
        } else if (object instanceof SubjectPublicKeyInfo) {
            return "PUBLIC KEY";
        } else if (object instanceof PKCS10CertificationRequest) {
            return "CERTIFICATE REQUEST";
        } else if (object instanceof X509CRLHolder) {
            return "X509 CRL";
        } else if (object instanceof ContentInfo) {
            return "PKCS7";
        } else if (object instanceof ASN1ObjectIdentifier || object instanceof X9ECParameters) {
            return "EC PARAMETERS";
        }
        return object.getClass().getSimpleName();
    }
}
