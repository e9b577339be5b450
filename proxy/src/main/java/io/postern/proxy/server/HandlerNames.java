package io.postern.proxy.server;

/** Names of the handlers in Postern's pipelines, client and backend. */
public final class HandlerNames {

    public static final String TRAFFIC = "traffic";
    /** First in a backend pipeline: counts its bytes for the metrics. */
    public static final String BYTES = "bytes";
    public static final String IDLE_TIMEOUT = "idle-timeout";
    public static final String TLS = "tls";
    public static final String PROXY_PROTOCOL_GUARD = "proxy-protocol-guard";
    public static final String PROXY_PROTOCOL_DECODER = "proxy-protocol-decoder";
    public static final String PROXY_PROTOCOL = "proxy-protocol";
    public static final String INFLATE = "inflate";
    public static final String DEFLATE = "deflate";
    public static final String FRAME_DECODER = "frame-decoder";
    public static final String CLIENT_SESSION = "client-session";
    public static final String BACKEND_HANDLER = "backend-handler";

    private HandlerNames() {}
}
