package io.postern.tls;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLException;

/**
 * Client-side {@link SslContext}s for connecting to backends.
 *
 * <p>Create each connection's handler with {@link #newHandler}, not {@code SslContext.newHandler}.
 * Netty 4.2 verifies host names by default (endpoint identification {@code "HTTPS"}), against the
 * name sent in SNI or else the handler's peer host, and its two providers pick the SNI name
 * differently when a handler's peer host differs from the context's: the JDK sends the context's
 * name, OpenSSL the peer host. {@link #newHandler} passes {@code serverName} as the peer host, so
 * both send and verify {@code serverName}; an IP-literal {@code serverName} (no SNI) is only known
 * to the engine that way.
 *
 * <p>Stateless; the returned context is immutable and may be shared by all connections to the
 * backend from any thread.
 */
public final class BackendTlsContexts {

    private BackendTlsContexts() {}

    /**
     * Builds the context for one backend.
     *
     * @throws TlsConfigException when the {@code ca} file cannot be used, or the provider refuses
     *     the settings
     */
    public static SslContext create(BackendTlsSettings settings) throws TlsConfigException {
        SslProvider provider = settings.provider().resolve();
        SslContextBuilder builder = SslContextBuilder.forClient()
                .sslProvider(provider)
                .protocols(settings.protocols());
        // Netty 4.2 checks host names unless told not to; pins and insecure replace that check.
        if (settings.insecure()) {
            builder.trustManager(InsecureTrustManagerFactory.INSTANCE).endpointIdentificationAlgorithm(null);
        } else if (!settings.pinnedSha256().isEmpty()) {
            builder.trustManager(new PinningTrustManager(settings.pinnedSha256())).endpointIdentificationAlgorithm(null);
        } else {
            if (settings.ca() != null) {
                builder.trustManager(PemKeyPair.loadCertificates(settings.ca()));
            }
            // Netty 4.2's default for clients too, but set here so the system property
            // io.netty.handler.ssl.defaultEndpointVerificationAlgorithm=NONE cannot turn it off.
            builder.endpointIdentificationAlgorithm("HTTPS");
        }
        if (settings.serverNameIsHostName()) {
            builder.serverName(new SNIHostName(settings.serverName()));
        }
        try {
            return builder.build();
        } catch (SSLException e) {
            throw new TlsConfigException(settings.ca(), "cannot build the backend TLS context ("
                    + Provider.displayName(provider) + "): " + e.getMessage(), e);
        }
    }

    /**
     * A handler for one backend connection that sends {@code settings.serverName()} in SNI and
     * verifies the certificate against it (unless pinned or insecure).
     *
     * @param context from {@link #create(BackendTlsSettings)} with the same {@code settings}
     * @param host the address connected to, used as the peer name only when {@code serverName} is
     *     unset (insecure mode)
     * @param port the port connected to; with the peer name it keys the client session cache
     */
    public static SslHandler newHandler(
            SslContext context, ByteBufAllocator alloc, BackendTlsSettings settings, String host, int port) {
        String peer = settings.serverName() != null ? settings.serverName() : host;
        return context.newHandler(alloc, peer, port);
    }
}
