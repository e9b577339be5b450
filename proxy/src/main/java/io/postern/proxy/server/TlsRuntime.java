package io.postern.proxy.server;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.postern.proxy.config.BackendConfig;
import io.postern.proxy.config.ListenerConfig;
import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.config.TlsConfig;
import io.postern.tls.BackendTlsContexts;
import io.postern.tls.BackendTlsSettings;
import io.postern.tls.Provider;
import io.postern.tls.ServerTlsContexts;
import io.postern.tls.ServerTlsSettings;
import io.postern.tls.TlsConfigException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TLS state of a running Postern: the certificates of each TLS listener (reloadable), and
 * one client context per TLS backend. Built once at start, where every certificate, key and CA
 * is loaded and checked, so a bad file stops the start with a message naming it. Reloads read
 * files on their own thread, never on an event loop.
 */
public final class TlsRuntime implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(TlsRuntime.class);

    private record Backend(SslContext context, BackendTlsSettings settings, BackendConfig config) {}

    private final Map<String, ServerTlsContexts> listeners;
    private final Map<String, Backend> backends;
    private final ScheduledExecutorService reloader;

    private TlsRuntime(Map<String, ServerTlsContexts> listeners, Map<String, Backend> backends, TlsConfig tls) {
        this.listeners = listeners;
        this.backends = backends;
        if (tls != null && !listeners.isEmpty() && !tls.reloadInterval().isZero()) {
            reloader = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "postern-tls-reload");
                t.setDaemon(true);
                return t;
            });
            long every = tls.reloadInterval().toMillis();
            reloader.scheduleWithFixedDelay(this::reloadIfChanged, every, every, TimeUnit.MILLISECONDS);
        } else {
            reloader = null;
        }
    }

    /** Loads and checks every certificate, key and CA the configuration names. */
    public static TlsRuntime create(PosternConfig config) throws TlsConfigException {
        Map<String, ServerTlsContexts> listeners = new LinkedHashMap<>();
        TlsConfig tls = config.tls();
        for (ListenerConfig listener : config.listeners()) {
            if (!listener.usesTls()) {
                continue;
            }
            List<ServerTlsContexts.CertificateSource> sources = tls.certificates().stream()
                    .map(c -> new ServerTlsContexts.CertificateSource(c.cert(), c.key(), c.keyPasswordFile(), c.serverNames()))
                    .toList();
            ServerTlsSettings settings = serverSettings(listener, tls);
            ServerTlsContexts contexts = ServerTlsContexts.create(sources, settings);
            listeners.put(listener.name(), contexts);
            log.info("listener {}: TLS ({}) with {} certificate(s), {}", listener.name(), contexts.providerName(),
                    sources.size(), String.join(", ", tls.protocols()));
        }
        Map<String, Backend> backends = new LinkedHashMap<>();
        for (BackendConfig b : config.backends().values()) {
            if (!b.usesTls()) {
                continue;
            }
            BackendTlsSettings settings;
            try {
                settings = new BackendTlsSettings(
                        b.ca(), b.serverName(), b.pinSha256(), b.insecure(), TlsConfig.defaultProtocols(config.tls()),
                        Provider.valueOf(config.tls() == null ? "AUTO" : config.tls().provider().toUpperCase(Locale.ROOT)));
            } catch (IllegalArgumentException e) {
                throw new TlsConfigException(null, "backend " + b.name() + ": " + e.getMessage());
            }
            if (b.insecure()) {
                log.warn("backend {}: insecure: true, the backend's certificate is NOT verified", b.name());
            }
            backends.put(b.name(), new Backend(BackendTlsContexts.create(settings), settings, b));
        }
        return new TlsRuntime(listeners, backends, tls);
    }

    private static ServerTlsSettings serverSettings(ListenerConfig listener, TlsConfig tls) throws TlsConfigException {
        ServerTlsSettings.ClientAuth clientAuth = switch (listener.clientAuth()) {
            case "required" -> ServerTlsSettings.ClientAuth.REQUIRE;
            case "optional" -> ServerTlsSettings.ClientAuth.OPTIONAL;
            default -> ServerTlsSettings.ClientAuth.NONE;
        };
        try {
            return new ServerTlsSettings(tls.protocols(), tls.ciphers(), clientAuth, listener.clientCa(),
                    Provider.valueOf(tls.provider().toUpperCase(Locale.ROOT)));
        } catch (IllegalArgumentException e) {
            throw new TlsConfigException(null, "listener " + listener.name() + ": " + e.getMessage());
        }
    }

    public ServerTlsContexts forListener(String listener) {
        ServerTlsContexts c = listeners.get(listener);
        if (c == null) {
            throw new IllegalArgumentException("listener " + listener + " has no TLS");
        }
        return c;
    }

    /** A handler for a new connection to a TLS backend: SNI and name verification for its server name. */
    public SslHandler newBackendHandler(String backend, ByteBufAllocator alloc) {
        Backend b = backends.get(backend);
        if (b == null) {
            throw new IllegalArgumentException("backend " + backend + " has no TLS");
        }
        return BackendTlsContexts.newHandler(b.context(), alloc, b.settings(), b.config().address().host(),
                b.config().address().port());
    }

    /** Re-reads every listener's certificate files now (SIGHUP). A failure keeps the old ones. */
    public void reloadNow() {
        listeners.forEach((name, contexts) -> {
            try {
                contexts.reload();
                log.info("listener {}: certificates reloaded", name);
            } catch (TlsConfigException e) {
                log.error("listener {}: certificates NOT reloaded, the previous ones stay in use: {}", name, e.getMessage());
            }
        });
    }

    private void reloadIfChanged() {
        listeners.forEach((name, contexts) -> {
            try {
                if (contexts.reloadIfChanged()) {
                    log.info("listener {}: certificate files changed, reloaded", name);
                }
            } catch (TlsConfigException e) {
                log.error("listener {}: certificate files changed but NOT reloaded, the previous ones stay in use: {}",
                        name, e.getMessage());
            }
        });
    }

    @Override
    public void close() {
        if (reloader != null) {
            reloader.shutdownNow();
        }
    }
}
