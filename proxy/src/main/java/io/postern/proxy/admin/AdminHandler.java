package io.postern.proxy.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.ReadTimeoutException;
import io.postern.proxy.server.PosternServer;
import io.postern.proxy.server.SessionRegistry.LiveSession;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One admin connection: checks the token, then answers one request and closes. Runs on the admin
 * event loop; answers that wait for sessions (their event loops) or for a reload (the admin's
 * blocking thread) are written when their future completes.
 *
 * <pre>
 * GET  /healthz                     200 while the process runs (no token needed)
 * GET  /readyz                      200 when ready, else 503 (no token needed)
 * GET  /                            the status page (HTML)
 * GET  /sessions                    live sessions (JSON)
 * POST /sessions/kick?user=U        BYE to U's sessions
 * GET  /backends                    backends (JSON)
 * POST /backends/NAME/drain         no new sessions to NAME; its sessions get BYE
 * POST /backends/NAME/undrain
 * GET  /overrides                   runtime route overrides (JSON)
 * POST /users/U/move?backend=B      route U to B from now on; U's sessions elsewhere get BYE
 * DELETE /users/U/move              forget U's override
 * POST /reload                      re-read the configuration file
 * </pre>
 */
final class AdminHandler extends SimpleChannelInboundHandler<FullHttpRequest> {

    private static final Logger log = LoggerFactory.getLogger(AdminHandler.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final PosternServer server;
    private final AdminServer admin;
    private final byte[] token;

    AdminHandler(PosternServer server, AdminServer admin, byte[] token) {
        this.server = server;
        this.admin = admin;
        this.token = token;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        if (!request.decoderResult().isSuccess()) {
            reply(ctx, AdminServer.Reply.text(400, "bad request\n"));
            return;
        }
        QueryStringDecoder uri = new QueryStringDecoder(request.uri());
        List<String> path = new ArrayList<>();
        for (String segment : uri.rawPath().split("/")) {
            if (!segment.isEmpty()) {
                path.add(QueryStringDecoder.decodeComponent(segment));
            }
        }
        String first = path.isEmpty() ? "" : path.get(0);
        boolean open = path.size() == 1 && (first.equals("healthz") || first.equals("readyz"));
        if (!open && !authorized(request)) {
            log.warn("admin: {} {} from {} without a valid token", request.method(), uri.rawPath(), ctx.channel().remoteAddress());
            AdminServer.Reply r = AdminServer.Reply.text(401, "a bearer token is required (Authorization: Bearer TOKEN)\n");
            FullHttpResponse response = response(r);
            response.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"postern\"");
            send(ctx, response);
            return;
        }
        try {
            route(ctx, request, path, uri.parameters());
        } catch (RuntimeException e) {
            log.warn("admin: {} {} failed", request.method(), uri.rawPath(), e);
            reply(ctx, AdminServer.Reply.text(500, "internal error: " + e.getMessage() + "\n"));
        }
    }

    private boolean authorized(FullHttpRequest request) {
        if (token == null) {
            return true;
        }
        String header = request.headers().get(HttpHeaderNames.AUTHORIZATION);
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return false;
        }
        byte[] given = header.substring(7).strip().getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(given, token); // time independent of where the bytes differ
    }

    private void route(ChannelHandlerContext ctx, FullHttpRequest request, List<String> path, Map<String, List<String>> query) {
        HttpMethod method = request.method();
        String p = "/" + String.join("/", path);
        boolean get = method.equals(HttpMethod.GET) || method.equals(HttpMethod.HEAD);
        boolean post = method.equals(HttpMethod.POST);
        if (path.isEmpty() || p.equals("/index.html")) {
            if (!get) {
                notAllowed(ctx, "GET");
                return;
            }
            later(ctx, server.sessions().snapshot(ctx.executor()).thenApply(sessions -> new AdminServer.Reply(200, "text/html; charset=utf-8",
                    StatusPage.render(server, sessions).getBytes(StandardCharsets.UTF_8))));
            return;
        }
        if (p.equals("/healthz")) {
            reply(ctx, AdminServer.Reply.text(200, "ok\n"));
            return;
        }
        if (p.equals("/readyz")) {
            reply(ctx, server.ready() ? AdminServer.Reply.text(200, "ready\n") : AdminServer.Reply.text(503, notReadyReason()));
            return;
        }
        if (p.equals("/sessions")) {
            if (!get) {
                notAllowed(ctx, "GET");
                return;
            }
            later(ctx, server.sessions().snapshot(ctx.executor()).thenApply(s -> json(200, sessionsJson(s))));
            return;
        }
        if (p.equals("/sessions/kick")) {
            String user = single(query, "user");
            if (!post || user == null) {
                badUse(ctx, post, "POST /sessions/kick?user=USER");
                return;
            }
            later(ctx, server.kick(user).thenApply(n -> json(200, map("user", user, "key", server.routingKey(user), "sessions", n))));
            return;
        }
        if (p.equals("/backends")) {
            if (!get) {
                notAllowed(ctx, "GET");
                return;
            }
            reply(ctx, json(200, backendsJson()));
            return;
        }
        if (path.size() == 3 && first(path).equals("backends") && (path.get(2).equals("drain") || path.get(2).equals("undrain"))) {
            if (!post) {
                notAllowed(ctx, "POST");
                return;
            }
            boolean drain = path.get(2).equals("drain");
            CompletableFuture<Integer> ended = server.drain(path.get(1), drain);
            if (ended == null) {
                reply(ctx, json(404, map("error", "no backend named " + path.get(1))));
                return;
            }
            later(ctx, ended.thenApply(n -> json(200, map("backend", path.get(1), "drained", drain, "sessions", n))));
            return;
        }
        if (p.equals("/overrides")) {
            reply(ctx, json(200, server.overrides()));
            return;
        }
        if (path.size() == 3 && first(path).equals("users") && path.get(2).equals("move")) {
            moveUser(ctx, method, path.get(1), query);
            return;
        }
        if (p.equals("/reload")) {
            if (!post) {
                notAllowed(ctx, "POST");
                return;
            }
            later(ctx, CompletableFuture.supplyAsync(() -> {
                try {
                    return json(200, map("result", server.reload()));
                } catch (PosternServer.ReloadRefused e) {
                    return json(400, map("error", e.getMessage()));
                }
            }, admin.blocking()));
            return;
        }
        AdminServer.Endpoint extra = admin.endpoint(p);
        if (extra != null && get) {
            reply(ctx, extra.get(new AdminServer.Request(p, query, request.headers())));
            return;
        }
        reply(ctx, AdminServer.Reply.text(404, "no such endpoint: " + p + "\n"));
    }

    private void moveUser(ChannelHandlerContext ctx, HttpMethod method, String user, Map<String, List<String>> query) {
        if (method.equals(HttpMethod.DELETE)) {
            String previous = server.unmove(user);
            reply(ctx, json(previous == null ? 404 : 200, map("user", user, "key", server.routingKey(user), "removed", previous)));
            return;
        }
        String backend = single(query, "backend");
        if (!method.equals(HttpMethod.POST) || backend == null) {
            badUse(ctx, method.equals(HttpMethod.POST), "POST /users/USER/move?backend=BACKEND, or DELETE /users/USER/move");
            return;
        }
        CompletableFuture<Integer> ended = server.move(user, backend);
        if (ended == null) {
            reply(ctx, json(404, map("error", "no backend named " + backend)));
            return;
        }
        later(ctx, ended.thenApply(n -> json(200, map("user", user, "key", server.routingKey(user), "backend", backend,
                "sessions", n, "note", "runtime override, lost on restart: change the configured route too"))));
    }

    private String notReadyReason() {
        if (server.shuttingDown()) {
            return "not ready: shutting down\n";
        }
        return "not ready: no backend is up\n";
    }

    private List<Map<String, Object>> sessionsJson(List<LiveSession> sessions) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (LiveSession s : sessions) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", s.view().id());
            m.put("user", s.view().user());
            m.put("client", s.view().client());
            m.put("listener", s.view().listener());
            m.put("backend", s.view().backend());
            m.put("state", s.view().state());
            m.put("since", s.view().since().toString());
            m.put("bytes_in", s.bytesIn());
            m.put("bytes_out", s.bytesOut());
            out.add(m);
        }
        return out;
    }

    private List<Map<String, Object>> backendsJson() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (String name : server.pool().names()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", name);
            m.put("configured", server.config().backends().containsKey(name));
            m.put("up", server.pool().isUp(name));
            m.put("drained", server.pool().isDrained(name));
            m.put("sessions", server.pool().sessions(name));
            out.add(m);
        }
        return out;
    }

    private static String first(List<String> path) {
        return path.get(0);
    }

    private static String single(Map<String, List<String>> query, String name) {
        List<String> values = query.get(name);
        return values == null || values.isEmpty() || values.get(0).isBlank() ? null : values.get(0);
    }

    private static Map<String, Object> map(Object... keysAndValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            m.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return m;
    }

    private static AdminServer.Reply json(int status, Object value) {
        try {
            byte[] body = (JSON.writerWithDefaultPrettyPrinter().writeValueAsString(value) + "\n").getBytes(StandardCharsets.UTF_8);
            return new AdminServer.Reply(status, "application/json", body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write JSON", e);
        }
    }

    private static void notAllowed(ChannelHandlerContext ctx, String allowed) {
        FullHttpResponse r = response(AdminServer.Reply.text(405, "method not allowed (use " + allowed + ")\n"));
        r.headers().set(HttpHeaderNames.ALLOW, allowed);
        send(ctx, r);
    }

    private static void badUse(ChannelHandlerContext ctx, boolean rightMethod, String usage) {
        reply(ctx, AdminServer.Reply.text(rightMethod ? 400 : 405, "usage: " + usage + "\n"));
    }

    private static void later(ChannelHandlerContext ctx, CompletableFuture<AdminServer.Reply> reply) {
        reply.whenComplete((r, e) -> {
            if (e != null) {
                Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                log.warn("admin request failed", cause);
                reply(ctx, AdminServer.Reply.text(500, "internal error: " + cause.getMessage() + "\n"));
            } else {
                reply(ctx, r);
            }
        });
    }

    static void reply(ChannelHandlerContext ctx, AdminServer.Reply r) {
        send(ctx, response(r));
    }

    private static FullHttpResponse response(AdminServer.Reply r) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(r.status()),
                Unpooled.wrappedBuffer(r.body()));
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, r.contentType())
                .setInt(HttpHeaderNames.CONTENT_LENGTH, r.body().length)
                .set(HttpHeaderNames.CACHE_CONTROL, "no-store")
                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        return response;
    }

    private static void send(ChannelHandlerContext ctx, FullHttpResponse response) {
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof ReadTimeoutException || cause instanceof IOException) {
            log.debug("admin connection from {}: {}", ctx.channel().remoteAddress(), cause.toString());
        } else {
            log.warn("admin connection from {} failed", ctx.channel().remoteAddress(), cause);
        }
        ctx.close();
    }
}
