package io.postern.tls;

import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslProvider;
import java.security.GeneralSecurityException;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import javax.net.ssl.SSLContext;

/** Which TLS implementation a listener or backend connection uses. */
public enum Provider {
    /** OpenSSL (BoringSSL, from netty-tcnative) when it loads on this machine, else the JDK's. */
    AUTO,
    /** OpenSSL (BoringSSL, from netty-tcnative); refused where it does not load. */
    OPENSSL,
    /** The JDK's own {@code SSLEngine}. */
    JDK;

    /**
     * The Netty provider this choice stands for on this machine.
     *
     * @throws TlsConfigException when {@link #OPENSSL} is asked for but netty-tcnative does not load
     */
    SslProvider resolve() throws TlsConfigException {
        switch (this) {
            case AUTO:
                return OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;
            case OPENSSL:
                if (!OpenSsl.isAvailable()) {
                    throw new TlsConfigException(
                            null,
                            "provider OPENSSL: netty-tcnative does not load on this machine"
                                    + " (use AUTO or JDK): " + OpenSsl.unavailabilityCause(),
                            OpenSsl.unavailabilityCause());
                }
                return SslProvider.OPENSSL;
            case JDK:
                return SslProvider.JDK;
            default:
                throw new AssertionError(this);
        }
    }

    /**
     * Checks cipher suite names against what {@code provider} supports here, so a typo is reported
     * as such rather than as a certificate that cannot be used.
     *
     * @throws TlsConfigException naming the first unsupported cipher suite
     */
    static void checkCiphers(SslProvider provider, List<String> ciphers) throws TlsConfigException {
        Set<String> supported = provider == SslProvider.JDK ? jdkCipherSuites() : OpenSsl.availableJavaCipherSuites();
        for (String cipher : ciphers) {
            boolean available = provider == SslProvider.JDK
                    ? supported.contains(cipher)
                    : OpenSsl.isCipherSuiteAvailable(cipher);
            if (!available) {
                throw new TlsConfigException(null, "ciphers: " + cipher + " is not supported by the "
                        + displayName(provider) + " provider (supported here: " + new TreeSet<>(supported) + ")");
            }
        }
    }

    private static Set<String> jdkCipherSuites() throws TlsConfigException {
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, null, null);
            return Set.of(context.getSupportedSSLParameters().getCipherSuites());
        } catch (GeneralSecurityException e) {
            throw new TlsConfigException(null, "the JDK's TLS implementation is not usable: " + e, e);
        }
    }

    /** {@code "OpenSSL"} or {@code "JDK"}: how logs and metrics name a resolved provider. */
    static String displayName(SslProvider provider) {
        return provider == SslProvider.JDK ? "JDK" : "OpenSSL";
    }
}
