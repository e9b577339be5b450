package io.postern.tls;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.DomainWildcardMappingBuilder;
import io.netty.util.Mapping;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * The certificates of one listener as Netty {@link SslContext}s, chosen by SNI, and reloadable.
 *
 * <p>Each {@link CertificateSource} becomes one {@code SslContext}; the first is the default, used
 * when the client sends no server name or one no source lists. Put {@link #mapping()} in a
 * {@link SniHandler}:
 *
 * <pre>{@code
 * pipeline.addLast(HandlerNames.TLS, new SniHandler(contexts.mapping()));
 * }</pre>
 *
 * <p>Thread-safety: the contexts are an immutable snapshot held in a volatile field. {@link
 * #reload()} and {@link #reloadIfChanged()} may be called from any thread (they are serialised on
 * an internal lock) and swap the whole snapshot at once; {@link #mapping()}, {@link
 * #defaultContext()} and {@link #keyPairs()} never block and always see a complete snapshot. A
 * connection keeps the {@code SSLEngine} it was given, so a reload only affects later handshakes.
 */
public final class ServerTlsContexts {

    /** How many TLS sessions each context keeps for resumption. */
    public static final long SESSION_CACHE_SIZE = 20_480;

    /** How long a TLS session (or session ticket) may be resumed. */
    public static final Duration SESSION_TIMEOUT = Duration.ofHours(1);

    /**
     * One certificate of a listener.
     *
     * @param cert PEM certificate chain, the server's own first
     * @param key PEM private key
     * @param keyPasswordFile password of an encrypted key, or {@code null}
     * @param serverNames host names (wildcards like {@code *.example.com} allowed) for which SNI
     *     selects this certificate; empty or {@code null} means the certificate's own {@link
     *     PemKeyPair#dnsNames()}
     */
    public record CertificateSource(Path cert, Path key, Path keyPasswordFile, List<String> serverNames) {

        /** @throws NullPointerException when {@code cert} or {@code key} is missing */
        public CertificateSource {
            Objects.requireNonNull(cert, "cert");
            Objects.requireNonNull(key, "key");
            serverNames = serverNames == null ? List.of() : List.copyOf(serverNames);
        }

        /** A certificate selected by its own names. */
        public static CertificateSource of(Path cert, Path key) {
            return new CertificateSource(cert, key, null, null);
        }

        private List<Path> files() {
            List<Path> files = new ArrayList<>(List.of(cert, key));
            if (keyPasswordFile != null) {
                files.add(keyPasswordFile);
            }
            return files;
        }
    }

    /** Everything one load produced; replaced whole, never changed. */
    private record Snapshot(List<PemKeyPair> keyPairs, SslContext defaultContext, Mapping<String, SslContext> byName) {}

    /** What a file looked like when it was read, cheap to compare. */
    private record FileStamp(Path file, FileTime modified, long size, Object fileKey) {}

    private final List<CertificateSource> sources;
    private final ServerTlsSettings settings;
    private final SslProvider sslProvider;
    private final Object reloadLock = new Object();
    private final Mapping<String, SslContext> mapping = this::select;

    private volatile Snapshot snapshot;

    /** Guarded by reloadLock: the files as they were at the last load attempt, good or bad. */
    private List<FileStamp> lastSeen;

    private ServerTlsContexts(List<CertificateSource> sources, ServerTlsSettings settings, SslProvider sslProvider) {
        this.sources = sources;
        this.settings = settings;
        this.sslProvider = sslProvider;
    }

    /**
     * Loads every certificate and builds its context.
     *
     * @param sources the listener's certificates; the first is the default
     * @throws TlsConfigException naming the first file that cannot be used
     * @throws IllegalArgumentException when {@code sources} is empty
     */
    public static ServerTlsContexts create(List<CertificateSource> sources, ServerTlsSettings settings)
            throws TlsConfigException {
        if (sources.isEmpty()) {
            throw new IllegalArgumentException("certificates: empty (expected: at least one certificate and key)");
        }
        SslProvider sslProvider = settings.provider().resolve();
        Provider.checkCiphers(sslProvider, settings.ciphers());
        ServerTlsContexts contexts = new ServerTlsContexts(List.copyOf(sources), settings, sslProvider);
        contexts.reload();
        return contexts;
    }

    /**
     * The SNI host name to context mapping for {@link SniHandler}. Names match case-insensitively,
     * {@code *.example.com} matches one label in front of {@code example.com}, and a missing or
     * unknown name gets the {@linkplain #defaultContext() default}. It always answers from the
     * current snapshot, so it stays valid across reloads.
     */
    public Mapping<String, SslContext> mapping() {
        return mapping;
    }

    /** The context of the first certificate source, as of the current snapshot. */
    public SslContext defaultContext() {
        return snapshot.defaultContext();
    }

    /** {@code "OpenSSL"} or {@code "JDK"}: the provider in use. */
    public String providerName() {
        return Provider.displayName(sslProvider);
    }

    /** The loaded key pairs, in the order of the sources (for expiry gauges). */
    public List<PemKeyPair> keyPairs() {
        return snapshot.keyPairs();
    }

    /**
     * Re-reads every file and swaps in new contexts. On any error the current contexts stay.
     *
     * @throws TlsConfigException naming the first file that cannot be used
     */
    public void reload() throws TlsConfigException {
        synchronized (reloadLock) {
            List<FileStamp> stamps = stamps();
            lastSeen = stamps;
            snapshot = load();
        }
    }

    /**
     * Reloads when any file's modification time, size or identity changed since the last load
     * attempt. This costs a {@code stat} per file, cheap enough for a timer every few seconds. A
     * broken set of files is reported once: the next call returns {@code false} until a file
     * changes again, and the current contexts stay in use.
     *
     * @return whether the contexts were replaced
     * @throws TlsConfigException when files changed and the new ones cannot be used
     */
    public boolean reloadIfChanged() throws TlsConfigException {
        synchronized (reloadLock) {
            List<FileStamp> stamps = stamps();
            if (stamps.equals(lastSeen)) {
                return false;
            }
            lastSeen = stamps;
            snapshot = load();
            return true;
        }
    }

    /**
     * The client's certificate of a handshaken session, verified against the listener's {@code
     * clientCa}, or {@code null} when the client presented none.
     */
    public static X509Certificate peerCertificate(SSLSession session) {
        Certificate[] certificates;
        try {
            certificates = session.getPeerCertificates();
        } catch (SSLPeerUnverifiedException e) {
            // The JSSE way of saying "the peer presented no certificate".
            return null;
        }
        if (certificates.length > 0 && certificates[0] instanceof X509Certificate) {
            return (X509Certificate) certificates[0];
        }
        return null;
    }

    private SslContext select(String hostname) {
        return snapshot.byName().map(hostname);
    }

    private Snapshot load() throws TlsConfigException {
        List<X509Certificate> clientCa =
                settings.clientCa() == null ? null : PemKeyPair.loadCertificates(settings.clientCa());
        List<PemKeyPair> keyPairs = new ArrayList<>();
        List<SslContext> contexts = new ArrayList<>();
        for (CertificateSource source : sources) {
            PemKeyPair keyPair = PemKeyPair.load(source.cert(), source.key(), source.keyPasswordFile());
            keyPairs.add(keyPair);
            contexts.add(build(source, keyPair, clientCa));
        }
        DomainWildcardMappingBuilder<SslContext> byName = new DomainWildcardMappingBuilder<>(contexts.get(0));
        Set<String> taken = new HashSet<>();
        for (int i = 0; i < sources.size(); i++) {
            CertificateSource source = sources.get(i);
            List<String> names =
                    source.serverNames().isEmpty() ? keyPairs.get(i).dnsNames() : source.serverNames();
            // The first source listing a name wins; Netty's builder would let the last one win.
            for (String name : new LinkedHashSet<>(names)) {
                if (taken.add(name.toLowerCase(Locale.ROOT))) {
                    addName(byName, source, name, contexts.get(i));
                }
            }
        }
        return new Snapshot(List.copyOf(keyPairs), contexts.get(0), byName.build());
    }

    private static void addName(
            DomainWildcardMappingBuilder<SslContext> byName, CertificateSource source, String name, SslContext context)
            throws TlsConfigException {
        try {
            byName.add(name, context);
        } catch (IllegalArgumentException e) {
            throw new TlsConfigException(source.cert(),
                    "server name '" + name + "' cannot be used for SNI (expected a host name or *.domain): "
                            + e.getMessage(), e);
        }
    }

    private SslContext build(CertificateSource source, PemKeyPair keyPair, List<X509Certificate> clientCa)
            throws TlsConfigException {
        SslContextBuilder builder = SslContextBuilder.forServer(keyPair.privateKey(), keyPair.chain())
                .sslProvider(sslProvider)
                .protocols(settings.protocols())
                .sessionCacheSize(SESSION_CACHE_SIZE)
                .sessionTimeout(SESSION_TIMEOUT.toSeconds());
        if (!settings.ciphers().isEmpty()) {
            builder.ciphers(settings.ciphers());
        }
        if (clientCa != null) {
            builder.trustManager(clientCa).clientAuth(nettyClientAuth(settings.clientAuth()));
        }
        SslContext context;
        try {
            context = builder.build();
        } catch (SSLException e) {
            throw new TlsConfigException(source.cert(), "cannot build a TLS context with this certificate and key ("
                    + providerName() + ", protocols " + settings.protocols() + ", ciphers " + settings.ciphers()
                    + "): " + e.getMessage(), e);
        }
        checkEngine(source, context);
        return context;
    }

    /**
     * Creates one engine now, so a setting the provider refuses only when an engine is made (the JDK
     * checks cipher names there) fails the load instead of every handshake.
     */
    private void checkEngine(CertificateSource source, SslContext context) throws TlsConfigException {
        SSLEngine engine;
        try {
            engine = context.newEngine(ByteBufAllocator.DEFAULT);
        } catch (IllegalArgumentException e) {
            throw new TlsConfigException(source.cert(), "the " + providerName()
                    + " provider refuses these settings (ciphers " + settings.ciphers() + "): " + e.getMessage(), e);
        }
        ReferenceCountUtil.release(engine);
    }

    private static io.netty.handler.ssl.ClientAuth nettyClientAuth(ServerTlsSettings.ClientAuth clientAuth) {
        switch (clientAuth) {
            case NONE:
                return io.netty.handler.ssl.ClientAuth.NONE;
            case OPTIONAL:
                return io.netty.handler.ssl.ClientAuth.OPTIONAL;
            case REQUIRE:
                return io.netty.handler.ssl.ClientAuth.REQUIRE;
            default:
                throw new AssertionError(clientAuth);
        }
    }

    private List<FileStamp> stamps() throws TlsConfigException {
        List<FileStamp> stamps = new ArrayList<>();
        if (settings.clientCa() != null) {
            stamps.add(stamp(settings.clientCa()));
        }
        for (CertificateSource source : sources) {
            for (Path file : source.files()) {
                stamps.add(stamp(file));
            }
        }
        return stamps;
    }

    private static FileStamp stamp(Path file) throws TlsConfigException {
        try {
            BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
            return new FileStamp(file, attributes.lastModifiedTime(), attributes.size(), attributes.fileKey());
        } catch (NoSuchFileException e) {
            // A missing file is a state too: it changes when the file comes back, and load() reports it.
            return new FileStamp(file, null, -1, null);
        } catch (IOException e) {
            throw new TlsConfigException(file, "cannot read file attributes: " + e, e);
        }
    }
}
