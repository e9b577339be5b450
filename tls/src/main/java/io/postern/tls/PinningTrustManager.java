package io.postern.tls;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Trusts a server exactly when its own certificate has one of the pinned SHA-256 fingerprints.
 * Neither the chain, the host name nor the validity dates are checked: the pin names the very
 * certificate, which is what a self-signed backend needs. Being an {@link X509ExtendedTrustManager},
 * the JDK does not wrap it with its own host name check. Immutable; safe from any thread.
 */
final class PinningTrustManager extends X509ExtendedTrustManager {

    private static final X509Certificate[] NO_ISSUERS = new X509Certificate[0];

    private final Set<String> pins;

    /** @param pins fingerprints as {@link BackendTlsSettings#pinnedSha256()} holds them */
    PinningTrustManager(List<String> pins) {
        this.pins = Set.copyOf(pins);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        check(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        check(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        check(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("pinned certificates are for backends, not for clients");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        checkClientTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        checkClientTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return NO_ISSUERS;
    }

    private void check(X509Certificate[] chain) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw new CertificateException("the backend sent no certificate");
        }
        String fingerprint = PemKeyPair.sha256Hex(chain[0]);
        if (!pins.contains(fingerprint)) {
            throw new CertificateException("the backend's certificate (subject " + PemKeyPair.subject(chain[0])
                    + ", SHA-256 " + fingerprint + ") matches none of the pinned fingerprints");
        }
    }
}
