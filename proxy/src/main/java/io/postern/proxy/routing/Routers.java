package io.postern.proxy.routing;

import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.config.RoutingConfig;

/** Builds the router a {@code routing} section describes. */
public final class Routers {

    private Routers() {}

    public static Router of(PosternConfig posternConfig) {
        RoutingConfig config = posternConfig.routing();
        Router base = switch (config.strategy()) {
            case "hash" -> new HashRing(config.ring());
            case "http" -> new HttpRouter(config.http(), posternConfig.backends());
            case "static" -> key -> new Router.Route(config.defaultBackend(), "default", key);
            default -> throw new IllegalArgumentException("strategy " + config.strategy());
        };
        return new StaticRouter(config, base);
    }
}
