package io.postern.proxy.session;

import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.metrics.PosternMetrics;
import io.postern.proxy.routing.BackendPool;
import io.postern.proxy.routing.Router;
import io.postern.proxy.server.TlsRuntime;
import io.postern.proxy.server.Transport;

/**
 * What every session of one Postern shares: the configuration and the server-wide parts built
 * from it. Each part is thread-safe, since sessions on every event loop use them.
 *
 * @param denials where refused logins are noted for the status page
 * @param metrics the server's meters (kept across reloads)
 * @param warm backend connections made ahead of logins
 */
public record SessionServices(
        PosternConfig config,
        Router router,
        Transport transport,
        TlsRuntime tls,
        LoginThrottle throttle,
        BackendPool pool,
        SessionLimits limits,
        DenialLog denials,
        PolicyRegistry policies,
        PosternMetrics metrics,
        WarmConnections warm) {}
