package io.postern.proxy.session;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.util.ReferenceCountUtil;
import io.postern.imap.codec.ImapDecoderError;
import io.postern.imap.codec.ImapFrame;
import io.postern.imap.codec.ImapFrameDecoder;
import io.postern.imap.codec.ImapLine;
import io.postern.imap.parse.ImapParseException;
import io.postern.imap.parse.ResponseHead;
import io.postern.proxy.compress.Compression;
import io.postern.proxy.server.HandlerNames;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logs in at the backend with the client's credentials: greeting, CAPABILITY when the greeting
 * has none, then AUTHENTICATE PLAIN (with SASL-IR when offered) or LOGIN (quoted strings, or
 * literals for names and passwords that a quoted string cannot carry), then the post-login
 * capabilities, and COMPRESS when configured and offered. Runs on the session's event loop; reports exactly once to the session.
 */
final class BackendLogin {

    private static final Logger log = LoggerFactory.getLogger(BackendLogin.class);

    private enum Step {
        GREETING,
        STARTTLS,
        HANDSHAKE,
        CAPABILITY,
        ID,
        LOGIN,
        POST_CAPABILITY,
        COMPRESS,
        DONE
    }

    private static final String STARTTLS_TAG = "postern0";
    private static final String CAPABILITY_TAG = "postern1";
    private static final String LOGIN_TAG = "postern2";
    private static final String POST_CAPABILITY_TAG = "postern3";
    private static final String ID_TAG = "postern4";
    private static final String COMPRESS_TAG = "postern5";

    private final ClientSession session;
    private final Channel backend;
    private final boolean startTls;
    private final boolean compress;
    /** An {@code ID} command that tells the backend who the client is, or {@code null}. */
    private final String clientId;
    private Credentials credentials;
    private Step step = Step.GREETING;
    private List<String> capabilities = List.of();
    private List<String> loginCapabilities = List.of();
    /** What to send after each '+' of the login exchange. */
    private final ArrayDeque<byte[]> afterContinuation = new ArrayDeque<>();
    private Compression compression;

    /**
     * @param startTls the backend is configured with {@code tls: starttls}
     * @param clientId the parameter list of an {@code ID} to send before the login, or {@code null}
     * @param compress ask for COMPRESS=DEFLATE after login when the backend offers it
     */
    BackendLogin(ClientSession session, Channel backend, Credentials credentials, boolean startTls, String clientId,
            boolean compress) {
        this.session = session;
        this.compress = compress;
        this.backend = backend;
        this.credentials = credentials;
        this.startTls = startTls;
        this.clientId = clientId;
    }

    /** The TLS handshake that STARTTLS began is over. */
    void handshakeDone(boolean success, Throwable cause) {
        if (step != Step.HANDSHAKE) {
            return;
        }
        if (!success) {
            fail("TLS handshake failed: " + ClientSession.innermostMessage(cause));
            return;
        }
        // capabilities from before TLS must not be trusted (RFC 9051 section 6.2.1)
        capabilities = List.of();
        step = Step.CAPABILITY;
        send(CAPABILITY_TAG + " CAPABILITY\r\n");
    }

    boolean done() {
        return step == Step.DONE;
    }

    boolean awaitingHandshake() {
        return step == Step.HANDSHAKE;
    }

    /** Takes ownership of {@code frame}. */
    void onFrame(ImapFrame frame) {
        try {
            if (step != Step.DONE && frame instanceof ImapDecoderError error) {
                // the decoder discards the rest of the stream: no answer can come any more
                fail(error.kind() == ImapDecoderError.Kind.TRUNCATED
                        ? "connection closed in the middle of a response"
                        : "response refused: " + error.kind());
                return;
            }
            if (step == Step.DONE || !(frame instanceof ImapLine line) || !line.first()) {
                return; // literal data of an untagged response during login: not needed
            }
            ResponseHead head;
            try {
                head = ResponseHead.parse(line.content());
            } catch (ImapParseException e) {
                fail("unparseable response during login: " + e.getMessage());
                return;
            }
            onResponse(head, line.content());
        } finally {
            ReferenceCountUtil.release(frame);
        }
    }

    private void onResponse(ResponseHead head, ByteBuf line) {
        switch (step) {
            case GREETING -> {
                if (!head.isUntagged() || !"OK".equals(head.keyword())) {
                    fail("greeting is not OK: " + head.keyword());
                    return;
                }
                afterGreeting(head.capabilities(line));
            }
            case STARTTLS -> {
                if (head.isTagged() && STARTTLS_TAG.equals(head.tag())) {
                    if (!"OK".equals(head.keyword())) {
                        fail("STARTTLS refused: " + head.keyword() + " " + head.text(line));
                        return;
                    }
                    step = Step.HANDSHAKE;
                    session.startBackendTls();
                }
            }
            case HANDSHAKE -> fail("response before the TLS handshake completed");
            case ID -> {
                if (head.isTagged() && ID_TAG.equals(head.tag())) {
                    sendLogin(); // whatever the answer: the ID is advice, the login decides
                }
            }
            case CAPABILITY -> {
                if (head.isUntagged() && "CAPABILITY".equals(head.keyword())) {
                    capabilities = head.capabilities(line);
                } else if (head.isTagged() && CAPABILITY_TAG.equals(head.tag())) {
                    sendLogin();
                }
            }
            case LOGIN -> {
                if (head.isContinuation()) {
                    byte[] next = afterContinuation.poll();
                    if (next == null) {
                        fail("unexpected continuation during login");
                        return;
                    }
                    send(next);
                } else if (head.isUntagged() && "CAPABILITY".equals(head.keyword())) {
                    loginCapabilities = head.capabilities(line);
                } else if (head.isTagged() && LOGIN_TAG.equals(head.tag())) {
                    credentials = null;
                    afterContinuation.clear();
                    if (!"OK".equals(head.keyword())) {
                        step = Step.DONE;
                        session.loginRejected(head.code(), head.text(line));
                        return;
                    }
                    if ("CAPABILITY".equals(head.code())) {
                        loginCapabilities = head.capabilities(line);
                    }
                    if (loginCapabilities.isEmpty()) {
                        step = Step.POST_CAPABILITY;
                        send(POST_CAPABILITY_TAG + " CAPABILITY\r\n");
                    } else {
                        succeed();
                    }
                }
            }
            case POST_CAPABILITY -> {
                if (head.isUntagged() && "CAPABILITY".equals(head.keyword())) {
                    loginCapabilities = head.capabilities(line);
                } else if (head.isTagged() && POST_CAPABILITY_TAG.equals(head.tag())) {
                    succeed();
                }
            }
            case COMPRESS -> {
                if (head.isTagged() && COMPRESS_TAG.equals(head.tag())) {
                    if ("OK".equals(head.keyword())) {
                        // everything after this line is compressed, including what was read with it
                        ImapFrameDecoder decoder = (ImapFrameDecoder) backend.pipeline().get(HandlerNames.FRAME_DECODER);
                        compression = Compression.install(backend.pipeline(), decoder.takeBufferedInput());
                    } else {
                        log.warn("backend refused COMPRESS ({} {}); relaying uncompressed", head.keyword(), head.text(line));
                    }
                    finish();
                }
            }
            case DONE -> { }
            default -> throw new IllegalStateException("step " + step);
        }
        if (head.isUntagged() && "BYE".equals(head.keyword()) && step != Step.DONE) {
            fail("backend said BYE during login: " + head.text(line));
        }
    }

    /**
     * A connection made ahead ({@link WarmConnections}) whose greeting, OK with these
     * capabilities, was read before this login: the login goes on from there.
     */
    void greeted(List<String> greetingCapabilities) {
        if (step == Step.GREETING) {
            afterGreeting(greetingCapabilities);
        }
    }

    private void afterGreeting(List<String> greetingCapabilities) {
        capabilities = greetingCapabilities;
        if (startTls) {
            // sent whatever the greeting lists: a backend that cannot do it says NO, and
            // Postern never falls back to plain text
            step = Step.STARTTLS;
            send(STARTTLS_TAG + " STARTTLS\r\n");
        } else if (capabilities.isEmpty()) {
            step = Step.CAPABILITY;
            send(CAPABILITY_TAG + " CAPABILITY\r\n");
        } else {
            sendLogin();
        }
    }

    private void sendLogin() {
        if (clientId != null && step != Step.ID && Capabilities.has(capabilities, "ID")) {
            step = Step.ID;
            send(ID_TAG + " ID " + clientId + "\r\n");
            return;
        }
        step = Step.LOGIN;
        String user = credentials.user();
        byte[] password = credentials.password(); // as the client sent it, never re-encoded
        if (Capabilities.has(capabilities, "AUTH=PLAIN")) {
            String message = Sasl.encode(Sasl.plainMessage(user, password));
            if (Capabilities.has(capabilities, "SASL-IR")) {
                send(LOGIN_TAG + " AUTHENTICATE PLAIN " + message + "\r\n");
            } else {
                afterContinuation.add(ascii(message + "\r\n"));
                send(LOGIN_TAG + " AUTHENTICATE PLAIN\r\n");
            }
            return;
        }
        if (Capabilities.has(capabilities, "LOGINDISABLED")) {
            fail("backend offers neither AUTH=PLAIN nor LOGIN");
            return;
        }
        String latin1Password = new String(password, StandardCharsets.ISO_8859_1); // one char a byte
        if (quotable(user) && quotable(latin1Password)) {
            send(LOGIN_TAG + " LOGIN " + quoted(user) + " " + quoted(latin1Password) + "\r\n");
            return;
        }
        // Synchronizing literals: each part waits for the backend's '+'.
        byte[] u = user.getBytes(StandardCharsets.UTF_8);
        afterContinuation.add(concat(u, ascii(" {" + password.length + "}\r\n")));
        afterContinuation.add(concat(password, ascii("\r\n")));
        send(LOGIN_TAG + " LOGIN {" + u.length + "}\r\n");
    }

    private static byte[] ascii(String text) {
        return text.getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] both = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, both, a.length, b.length);
        return both;
    }

    private void succeed() {
        if (compress && Capabilities.has(loginCapabilities.isEmpty() ? capabilities : loginCapabilities, "COMPRESS=DEFLATE")) {
            step = Step.COMPRESS;
            send(COMPRESS_TAG + " COMPRESS DEFLATE\r\n");
            return;
        }
        finish();
    }

    private void finish() {
        step = Step.DONE;
        session.loginSucceeded(loginCapabilities.isEmpty() ? capabilities : loginCapabilities);
    }

    /** COMPRESS=DEFLATE on the backend connection, or {@code null}. */
    Compression compression() {
        return compression;
    }

    private void fail(String reason) {
        step = Step.DONE;
        credentials = null;
        afterContinuation.clear();
        session.backendUnavailable(reason);
    }

    /** Postern's own command text: quoted strings in it are ASCII (see {@link #quotable}). */
    private void send(String text) {
        send(text.getBytes(StandardCharsets.UTF_8));
    }

    private void send(byte[] data) {
        backend.writeAndFlush(backend.alloc().buffer(data.length).writeBytes(data));
    }

    static boolean quotable(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == 0 || c == '\r' || c == '\n' || c > 0x7e) {
                return false;
            }
        }
        return true;
    }

    static String quoted(String s) {
        return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    @Override
    public String toString() {
        return "BackendLogin(" + step.name().toLowerCase(Locale.ROOT) + ")";
    }
}
