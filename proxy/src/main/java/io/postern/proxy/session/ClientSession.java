package io.postern.proxy.session;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.postern.imap.codec.Direction;
import io.postern.imap.codec.ImapDecoderError;
import io.postern.imap.codec.ImapFrame;
import io.postern.imap.codec.ImapFrameDecoder;
import io.postern.imap.codec.ImapLine;
import io.postern.imap.codec.LiteralChunk;
import io.postern.imap.parse.ArgumentReader;
import io.postern.imap.parse.CommandHead;
import io.postern.imap.parse.ImapParseException;
import io.postern.imap.parse.ResponseHead;
import io.postern.proxy.compress.Compression;
import io.postern.proxy.config.BackendConfig;
import io.postern.proxy.config.ListenerConfig;
import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.metrics.ListenerMeters;
import io.postern.proxy.metrics.PosternMetrics;
import io.postern.proxy.routing.BackendPool;
import io.postern.proxy.routing.Router;
import io.postern.proxy.server.HandlerNames;
import io.postern.proxy.server.ProxyProtocolHandler;
import io.postern.proxy.server.TlsRuntime;
import io.postern.tls.ServerTlsContexts;
import io.postern.proxy.server.Transport;
import io.netty.handler.codec.DecoderException;
import java.io.IOException;
import javax.net.ssl.SSLException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection, from greeting to close. Before login Postern answers the client itself
 * (CAPABILITY, NOOP, LOGOUT, ID, LOGIN, AUTHENTICATE PLAIN and LOGIN); LOGIN and AUTHENTICATE
 * open the backend connection on this channel's event loop and log in there with the client's
 * credentials. After that every frame is relayed as it came, with the tags of running commands
 * tracked, capabilities filtered, and synchronizing literals passed through their {@code +}
 * round trip.
 *
 * <p>Threading: the client channel and its backend channel share one event loop; every method
 * here runs on it, so the state needs no locks. Reads are explicit ({@code AUTO_READ} off on
 * both channels): one side is read only while the other can take writes.
 */
public final class ClientSession extends ChannelInboundHandlerAdapter implements PolicyGate.Host, ScannedUpload.Host,
        ScannedDownload.Host {

    private static final Logger log = LoggerFactory.getLogger(ClientSession.class);
    private static final AtomicLong SESSION_IDS = new AtomicLong();

    /** Postern's own answers that may wait behind one relayed response before the client is cut off. */
    private static final int MAX_WAITING_REPLIES = 1000;

    /** How long a closing session's last words may take to leave before the connection is cut. */
    private static final long CLOSE_GRACE_MILLIS = 1000;

    /** A pre-auth command (LOGIN with literals, ID) is held whole; this bounds it. */
    private static final int MAX_PRE_AUTH_COMMAND = 32 * 1024;

    /** Commands that exist but need a login first: a clearer answer than "unknown command". */
    private static final Set<String> AUTHENTICATED_COMMANDS = Set.of(
            "SELECT", "EXAMINE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "LIST", "LSUB",
            "NAMESPACE", "STATUS", "APPEND", "IDLE", "ENABLE", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "FETCH",
            "STORE", "COPY", "MOVE", "UID FETCH", "UID STORE", "UID COPY", "UID MOVE", "UID SEARCH",
            "UID EXPUNGE", "CHECK", "GETQUOTA", "GETQUOTAROOT", "SETQUOTA", "GETACL", "SETACL", "MYRIGHTS",
            "LISTRIGHTS", "DELETEACL", "SORT", "THREAD", "UID SORT", "UID THREAD", "NOTIFY", "COMPRESS",
            "GETMETADATA", "SETMETADATA", "ESEARCH");

    private enum State {
        /** Implicit TLS: waiting for the handshake before the greeting. */
        HANDSHAKE,
        NOT_AUTHENTICATED,
        /** STARTTLS answered: everything until the handshake completes is dropped. */
        STARTING_TLS,
        AUTHENTICATING,
        LOGGING_IN,
        RELAY,
        CLOSED
    }

    private final PosternConfig config;
    private final ListenerConfig listener;
    private final Router router;
    private final Transport transport;
    private final TlsRuntime tls;
    private final LoginThrottle throttle;
    private final BackendPool pool;
    private final SessionLimits limits;
    private final DenialLog denials;
    private final WarmConnections warmConnections;
    private final String id;
    private final java.time.Instant since = java.time.Instant.now();
    /** The routing key of the user, once routed. */
    private String routeKey;
    /** Set by {@link #endAfterCommands}: the BYE text said once the running commands have completed. */
    private String byeAfterCommands;
    private final PolicyRegistry policyRegistry;
    /** The session's policies (see {@link PolicyGate}); set when the channel is known. */
    private PolicyGate policies;
    /** The address a connection slot was taken for, or {@code null} when none was taken. */
    private java.net.InetAddress connectionSlot;
    private boolean connectionCounted;
    /** The user a session slot was taken for (from login until close), or {@code null}. */
    private String userSlot;

    private ChannelHandlerContext ctx;
    private Channel client;
    private ImapFrameDecoder decoder;
    private State state = State.NOT_AUTHENTICATED;
    private int loginFailures;
    private boolean tlsActive;
    private String clientCertificateSubject;

    // before login
    private ByteBuf assembly;
    private String saslTag;
    private String saslMechanism;
    private String saslUser;

    // while logging in at the backend
    private final ArrayDeque<ImapFrame> held = new ArrayDeque<>();
    private String loginTag;
    private String user;
    /** The mechanism of the login under way or done (LOGIN, PLAIN ...), for the policies. */
    private String loginMechanism;
    private String backendName;
    private BackendLogin login;
    private ScheduledFuture<?> loginTimer;
    private ScheduledFuture<?> preAuthDeadline;
    private Channel backend;

    // relay
    /** Commands sent to the backend and not yet completed, by tag, in the order they were sent. */
    private final Map<String, Running> running = new LinkedHashMap<>();
    /** The tag of the command whose lines are being passed on: set between its first and last line. */
    private String transmitting;
    private String idleTag;
    /** Drops the rest of a command Postern already answered with BAD. */
    private boolean dropping;
    private boolean backendSaidBye;
    /** LOGOUT went to the backend: whatever the client sends after it is dropped. */
    private boolean loggingOut;
    /** A relayed response has begun and not ended (a literal or the line after it is to come). */
    private boolean midResponse;
    /** Postern's own answers that wait for the end of the relayed response being written. */
    private final ArrayDeque<String> repliesAfterResponse = new ArrayDeque<>();

    /** An upload (APPEND) Postern holds for the content policies, or {@code null}. */
    private ScannedUpload upload;
    /** A FETCH body literal Postern holds for the content policies, or {@code null}. */
    private ScannedDownload download;
    /** Backend frames that came while {@link #download} waited for its verdict: relayed after it. */
    private final ArrayDeque<ImapFrame> backendHeld = new ArrayDeque<>();
    /** The response being relayed is an untagged FETCH: its body literals may be inspected. */
    private boolean fetchResponse;
    /** That FETCH response's message sequence number, and its UID when it names it first (else -1). */
    private long fetchNumber;
    private long fetchUid = -1;
    /** A FETCH of ranges of content made consistent with full fetches (see {@link PartialFetch}), or {@code null}. */
    private PartialFetch partial;
    /** The selected mailbox and its UIDVALIDITY, when Postern knows both: what names content for the download verdicts. */
    private record Selected(String mailbox, long uidValidity) {}
    private Selected selected;
    /** A SELECT or EXAMINE running: its tag, its mailbox ({@code null} when not known), the UIDVALIDITY it reported. */
    private String selectingTag;
    private String selectingMailbox;
    private long selectingValidity = -1;
    /** What names one message section for the download verdicts. */
    private record DownloadKey(String user, String backend, String mailbox, long uidValidity, long uid, String item) {}

    /** COMPRESS=DEFLATE on the client connection, once the client asked for it. */
    private Compression compression;

    /** @param arrivedNanos when its first line arrived; @param startNanos when it went to the backend */
    private record Running(String name, long arrivedNanos, long startNanos) {}

    private final PosternMetrics metrics;
    private final ListenerMeters meters;
    /** How the connection ended, once known; counted when it closes. */
    private PosternMetrics.SessionOutcome outcome;
    /** The connection counts in {@code postern.sessions.active}. */
    private boolean metered;
    /** The login being answered was refused by a policy (the {@code denied} result). */
    private boolean loginDenied;
    /** When the first line of the latest command arrived (for the {@code postern} stage of its latency). */
    private long commandArrived;

    /** The tag of Postern's own {@code UID SEARCH DELETED} ahead of an EXPUNGE or CLOSE (see {@link #forward}). */
    static final String DELETED_SEARCH_TAG = "postern6";
    /** The most UIDs kept from that search. */
    static final int MAX_DELETED_UIDS = 10_000;
    /** The EXPUNGE or CLOSE the search was sent ahead of, until it completes; {@code null} when none. */
    private String deletedSearchFor;
    /** The search's answer is still to come: its lines are Postern's, not the client's. */
    private boolean deletedSearchRunning;
    /** The UIDs the search found ({@code null} when it failed). */
    private List<String> deletedUids;

    public ClientSession(ListenerConfig listener, SessionServices services) {
        this.config = services.config();
        this.listener = listener;
        this.router = services.router();
        this.transport = services.transport();
        this.tls = services.tls();
        this.throttle = services.throttle();
        this.pool = services.pool();
        this.limits = services.limits();
        this.denials = services.denials();
        this.warmConnections = services.warm();
        this.policyRegistry = services.policies();
        this.metrics = services.metrics();
        this.meters = metrics.listener(listener.name());
        this.id = Long.toHexString(SESSION_IDS.incrementAndGet());
    }

    // ---------------------------------------------------------------- client events

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.client = ctx.channel();
        this.decoder = (ImapFrameDecoder) ctx.pipeline().get(HandlerNames.FRAME_DECODER);
        this.policies = new PolicyGate(policyRegistry, this, id, listener.name(), client.eventLoop(), metrics, meters);
        this.policies.connection(since, null, null);
        client.config().setRecvByteBufAllocator(new RelayReadAllocator(this::mayReadClientOn));
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        log.debug("[{}] connect from {} on {}", id, client.remoteAddress(), listener.name());
        // behind a PROXY listener the peer is the load balancer: only the total is counted there
        java.net.InetAddress peer = listener.proxyProtocol() || !(client.remoteAddress() instanceof java.net.InetSocketAddress a)
                ? null : a.getAddress();
        String refusal = limits.takeConnection(peer);
        if (refusal != null) {
            log.warn("[{}] connection from {} refused: {}", id, client.remoteAddress(), refusal);
            meters.refused(refusal.endsWith("address") ? PosternMetrics.Limit.MAX_CONNECTIONS_PER_ADDRESS
                    : PosternMetrics.Limit.MAX_CONNECTIONS);
            state = State.CLOSED;
            client.writeAndFlush(Unpooled.copiedBuffer("* BYE [LIMIT] " + capitalised(refusal) + ".\r\n",
                    StandardCharsets.US_ASCII)).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        connectionCounted = true;
        connectionSlot = peer;
        metered = true;
        meters.opened();
        // A deadline, not an idle timer: a client that trickles a byte a second is still out at the end.
        preAuthDeadline = client.eventLoop().schedule(() -> {
            preAuthDeadline = null;
            log.debug("[{}] no login within {} ms", id, config.timeouts().preAuth().toMillis());
            closeWithBye("Autologout; no login within " + seconds(config.timeouts().preAuth()) + ".");
        }, config.timeouts().preAuth().toMillis(), TimeUnit.MILLISECONDS);
        if (listener.tls().equals("implicit")) {
            state = State.HANDSHAKE; // the greeting waits for the handshake
        } else {
            greet();
        }
        client.read();
    }

    private void greet() {
        write("* OK [CAPABILITY " + Capabilities.join(preAuthCapabilities()) + "] Postern ready.");
        ctx.flush();
    }

    private List<String> preAuthCapabilities() {
        return policies.preLoginCapabilities(
                Capabilities.preAuth(listener.tls().equals("starttls") && !tlsActive, listener.requireTls() && !tlsActive),
                clientAddress(), tlsActive);
    }

    private static String capitalised(String s) {
        return Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }

    private static String seconds(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    /** The subject of the client's verified certificate (mutual TLS), or {@code null}. */
    public String clientCertificateSubject() {
        return clientCertificateSubject;
    }

    private void handshakeDone(SslHandshakeCompletionEvent event) {
        if (state != State.HANDSHAKE && state != State.STARTING_TLS) {
            return;
        }
        if (!event.isSuccess()) {
            log.debug("[{}] TLS handshake failed: {}", id, event.cause().toString());
            ended(PosternMetrics.SessionOutcome.TLS_FAILED);
            state = State.CLOSED;
            releaseSessionState();
            client.close();
            return;
        }
        tlsActive = true;
        SslHandler ssl = client.pipeline().get(SslHandler.class);
        java.security.cert.X509Certificate peer = ServerTlsContexts.peerCertificate(ssl.engine().getSession());
        clientCertificateSubject = peer == null ? null : peer.getSubjectX500Principal().getName();
        policies.connection(since, ssl.engine().getSession().getProtocol(), ssl.engine().getSession().getCipherSuite());
        log.debug("[{}] TLS {} {}{}", id, ssl.engine().getSession().getProtocol(), ssl.engine().getSession().getCipherSuite(),
                clientCertificateSubject == null ? "" : ", client certificate " + clientCertificateSubject);
        boolean implicit = state == State.HANDSHAKE;
        state = State.NOT_AUTHENTICATED;
        if (implicit) {
            greet();
        }
        client.read();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        clientFrame((ImapFrame) msg);
    }

    private void clientFrame(ImapFrame frame) {
        switch (state) {
            case NOT_AUTHENTICATED, AUTHENTICATING -> preAuthFrame(frame);
            case HANDSHAKE, STARTING_TLS -> ReferenceCountUtil.release(frame); // plain text behind STARTTLS
            case LOGGING_IN -> held.add(frame);
            case RELAY -> relayClientFrame(frame);
            case CLOSED -> ReferenceCountUtil.release(frame);
            default -> throw new IllegalStateException("state " + state);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (backend != null && state == State.RELAY) {
            backend.flush();
        }
        ctx.flush();
        readClientIfReady();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (client.isWritable()) {
            if (download != null && state == State.RELAY) {
                download.clientWritable();
            }
            if (backend != null && state == State.RELAY && !downloadBusy()) {
                backend.read();
            }
            readClientIfReady(); // reads stopped while Postern's own answers could not be written
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof SslHandshakeCompletionEvent handshake) {
            metrics.tlsHandshake(true, handshake.isSuccess(), handshake.isSuccess() ? protocolOf(client) : null);
            handshakeDone(handshake);
            return;
        }
        if (evt instanceof IdleStateEvent) {
            log.debug("[{}] idle timeout in state {}", id, state);
            closeWithBye("Autologout; idle for too long.");
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        log.debug("[{}] client closed in state {}", id, state);
        ended(loggingOut ? PosternMetrics.SessionOutcome.LOGOUT : PosternMetrics.SessionOutcome.CLIENT_CLOSED);
        if (metered) {
            metered = false;
            meters.closed(outcome);
        }
        state = State.CLOSED;
        releaseSessionState();
        policies.closed(loggingOut ? io.postern.policies.CloseReason.LOGOUT : io.postern.policies.CloseReason.CLIENT_CLOSED);
        if (connectionCounted) {
            connectionCounted = false;
            limits.giveConnection(connectionSlot);
        }
        releaseUserSlot();
        if (backend != null) {
            backend.close();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Throwable root = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        if (root instanceof SSLException) {
            // a client that cannot complete TLS: nothing can be said to it in the clear
            log.debug("[{}] TLS failed with {}: {}", id, client.remoteAddress(), root.getMessage());
            ended(PosternMetrics.SessionOutcome.TLS_FAILED);
            state = State.CLOSED;
            releaseSessionState();
            client.close();
            if (backend != null) {
                backend.close();
            }
            return;
        }
        if (root instanceof java.util.zip.DataFormatException) {
            log.debug("[{}] client sent malformed compressed data: {}", id, root.getMessage());
            closeWithBye("Malformed compressed data.");
            return;
        }
        if (cause instanceof IOException) {
            log.debug("[{}] client connection error: {}", id, cause.toString());
        } else {
            log.warn("[{}] session error", id, cause);
        }
        closeWithBye("Internal error");
    }

    private void readClientIfReady() {
        if (clientReadAllowed()) {
            client.read();
        }
    }

    private boolean clientReadAllowed() {
        if (state == State.CLOSED || state == State.LOGGING_IN || state == State.STARTING_TLS
                || decoder.awaitingLiteralDecision() || policies.pending() || uploadBusy() || partial != null
                || (upload != null && upload.backlogged())) {
            return false;
        }
        if (byeAfterCommands != null && transmitting == null && !dropping) {
            return false; // ending: the command being sent (an APPEND's literal) is read to its end, no new one
        }
        if (state == State.RELAY && (backend == null || !backend.isWritable())) {
            return false; // the backend's writability event resumes reading
        }
        // a client that does not read Postern's answers gets no more read: its writability resumes it
        return client.isWritable();
    }

    /** Whether a client read in progress may take another buffer: only while relaying, and as {@link #readClientIfReady}. */
    private boolean mayReadClientOn() {
        return state == State.RELAY && clientReadAllowed();
    }

    // ---------------------------------------------------------------- before login

    private void preAuthFrame(ImapFrame frame) {
        if (frame instanceof ImapDecoderError error) {
            decoderError(error);
            return;
        }
        if (state == State.AUTHENTICATING) {
            saslResponse(frame);
            return;
        }
        ByteBuf content = ((io.netty.buffer.ByteBufHolder) frame).content();
        try {
            if (frame instanceof ImapLine line && line.first()) {
                releaseAssembly();
                assembly = client.alloc().heapBuffer(Math.min(content.readableBytes() * 2, MAX_PRE_AUTH_COMMAND));
            }
            if (assembly == null) {
                return; // the rest of a command already refused
            }
            if (assembly.readableBytes() + content.readableBytes() > MAX_PRE_AUTH_COMMAND) {
                String tag = tagOrNull(assembly);
                releaseAssembly();
                bad(tag, "[TOOBIG] Command too long before login");
                closeWithBye("Too much input before login");
                return;
            }
            assembly.writeBytes(content);
            if (frame instanceof ImapLine line) {
                if (line.literal() != null && line.literal().synchronizing() && decoder.awaitingLiteralDecision()) {
                    write("+ Ready for literal data");
                    ctx.flush();
                    decoder.literalAccepted();
                    client.read();
                } else if (line.last()) {
                    ByteBuf command = assembly;
                    assembly = null;
                    try {
                        preAuthCommand(command);
                    } finally {
                        command.release();
                    }
                }
            }
        } finally {
            ReferenceCountUtil.release(frame);
        }
    }

    /** The tag a malformed command starts with, so its BAD is tagged; {@code null} when it has none. */
    private static String tagOf(ByteBuf line) {
        return io.postern.imap.parse.ImapChars.tag(line, line.readerIndex(), line.writerIndex());
    }

    private static String tagOrNull(ByteBuf command) {
        try {
            return CommandHead.parse(command).tag();
        } catch (ImapParseException e) {
            return null;
        }
    }

    private void preAuthCommand(ByteBuf command) {
        CommandHead head;
        try {
            head = CommandHead.parse(command);
        } catch (ImapParseException e) {
            bad(tagOf(command), e.getMessage() + ".");
            return;
        }
        byte[] wire = ByteBufUtil.getBytes(command);
        String tag = head.tag();
        try {
            ArgumentReader args = new ArgumentReader(wire, head.argumentsIndex() - command.readerIndex());
            switch (head.name()) {
                case "CAPABILITY" -> {
                    args.end();
                    write("* CAPABILITY " + Capabilities.join(preAuthCapabilities()));
                    ok(tag, "Pre-login capabilities listed, post-login capabilities have more.");
                }
                case "NOOP" -> {
                    args.end();
                    ok(tag, "NOOP completed.");
                }
                case "LOGOUT" -> {
                    args.end();
                    write("* BYE Logging out");
                    ok(tag, "Logout completed.");
                    ended(PosternMetrics.SessionOutcome.LOGOUT);
                    close();
                }
                case "ID" -> {
                    args.idParams();
                    args.end();
                    write("* ID (\"name\" \"Postern\")");
                    ok(tag, "ID completed.");
                }
                case "STARTTLS" -> {
                    args.end();
                    startTls(tag);
                }
                case "LOGIN" -> {
                    String userName = Credentials.userName(args.astringBytes());
                    if (userName == null) {
                        throw new ImapParseException("User name is not valid UTF-8");
                    }
                    args.sp();
                    byte[] password = args.astringBytes(); // the backend gets these bytes, in any charset
                    args.end();
                    if (loginAllowed(tag)) {
                        beginLogin(tag, new Credentials(userName, password, "LOGIN"));
                    }
                }
                case "AUTHENTICATE" -> {
                    String mechanism = args.atom().toUpperCase(Locale.ROOT);
                    String initial = args.optionalSp() ? args.rest() : null;
                    args.end();
                    if (loginAllowed(tag)) {
                        authenticate(tag, mechanism, initial);
                    }
                }
                default -> bad(tag, AUTHENTICATED_COMMANDS.contains(head.name())
                        ? "Log in first."
                        : "Unknown command.");
            }
        } catch (ImapParseException e) {
            bad(tag, "Invalid arguments: " + e.getMessage());
        } finally {
            Arrays.fill(wire, (byte) 0);
        }
    }

    private boolean loginAllowed(String tag) {
        if (listener.requireTls() && !tlsActive) {
            no(tag, "[PRIVACYREQUIRED] Use STARTTLS first.");
            return false;
        }
        return true;
    }

    /**
     * STARTTLS before login: answers OK in plain text, then drops everything the client sent
     * behind the command (it must wait for the OK) and puts TLS under the decoder.
     */
    private void startTls(String tag) {
        if (!listener.tls().equals("starttls") || tlsActive) {
            bad(tag, tlsActive ? "TLS is already active." : "STARTTLS is not available on this listener.");
            return;
        }
        write(tag + " OK Begin TLS negotiation now.");
        ctx.flush();
        state = State.STARTING_TLS;
        decoder.discardBufferedInput();
        client.pipeline().addBefore(HandlerNames.FRAME_DECODER, HandlerNames.TLS,
                new SniHandler(tls.forListener(listener.name()).mapping()));
        client.read();
    }

    private void authenticate(String tag, String mechanism, String initial) {
        switch (mechanism) {
            case "PLAIN", "LOGIN" -> { }
            default -> {
                no(tag, "Unsupported authentication mechanism.");
                return;
            }
        }
        saslTag = tag;
        saslMechanism = mechanism;
        saslUser = null;
        state = State.AUTHENTICATING;
        if (initial == null) {
            write(mechanism.equals("PLAIN") ? "+ " : "+ " + Sasl.encode("Username:"));
        } else {
            saslStep(initial);
        }
    }

    private void saslResponse(ImapFrame frame) {
        try {
            if (!(frame instanceof ImapLine line) || !line.first() || !line.last()) {
                endSasl();
                closeWithBye("Literal in an authentication exchange");
                return;
            }
            ByteBuf c = line.content();
            String text = c.toString(c.readerIndex(), line.textLength(), StandardCharsets.US_ASCII);
            if (text.equals("*")) {
                String tag = saslTag;
                endSasl();
                bad(tag, "Authentication aborted by client.");
                return;
            }
            saslStep(text);
        } finally {
            ReferenceCountUtil.release(frame);
        }
    }

    private void saslStep(String base64) {
        String tag = saslTag;
        byte[] data = null;
        try {
            data = Sasl.base64(base64);
            if (saslMechanism.equals("PLAIN")) {
                Credentials credentials = Sasl.plain(data);
                endSasl();
                beginLogin(tag, credentials);
            } else if (saslUser == null) {
                saslUser = Sasl.userName(data);
                write("+ " + Sasl.encode("Password:"));
            } else {
                Credentials credentials = new Credentials(saslUser, data.clone(), "LOGIN");
                endSasl();
                beginLogin(tag, credentials);
            }
        } catch (Sasl.SaslException e) {
            endSasl();
            bad(tag, e.getMessage() + ".");
        } finally {
            if (data != null) {
                Arrays.fill(data, (byte) 0);
            }
        }
    }

    private void endSasl() {
        saslTag = null;
        saslMechanism = null;
        saslUser = null;
        if (state == State.AUTHENTICATING) {
            state = State.NOT_AUTHENTICATED;
        }
    }

    // ---------------------------------------------------------------- login at the backend

    /**
     * Finds the user's backend (at once, or by an asynchronous lookup during which nothing is
     * read), then connects and logs in there.
     */
    private void beginLogin(String tag, Credentials credentials) {
        if (credentials.hasNul()) {
            bad(tag, "NUL in a user name or password."); // SASL PLAIN, to the backend, separates with NUL
            return;
        }
        loginMechanism = credentials.mechanism();
        java.util.concurrent.CompletableFuture<Router.Route> lookup = router.lookup(
                new Router.Login(credentials.user(), credentials.password(), clientAddress(), loginFailures + 1));
        if (lookup.isDone() && !lookup.isCompletedExceptionally()) {
            routed(tag, credentials, lookup.join());
            return;
        }
        state = State.LOGGING_IN; // held: the lookup's answer decides
        loginTag = tag;
        user = credentials.user();
        lookup.whenComplete((route, error) -> client.eventLoop().execute(() -> {
            if (state != State.LOGGING_IN || backend != null || !tag.equals(loginTag)) {
                return; // the session ended meanwhile
            }
            if (error == null) {
                state = State.NOT_AUTHENTICATED;
                routed(tag, credentials, route);
                if (state == State.NOT_AUTHENTICATED) {
                    releaseHeld(); // refused after all (backend down, limits): go on with what waited
                }
            } else {
                lookupFailed(error instanceof java.util.concurrent.CompletionException && error.getCause() != null
                        ? error.getCause() : error);
            }
            ctx.flush();
            readClientIfReady();
        }));
    }

    private void lookupFailed(Throwable error) {
        if (error instanceof Router.Refused refused) {
            log.info("[{}] login of {} refused by the lookup service: {}", id, user, refused.getMessage());
            String answer = "[AUTHENTICATIONFAILED] " + refused.getMessage();
            if (!refused.waitBeforeAnswer().isZero()) {
                loginTimer = client.eventLoop().schedule(() -> {
                    loginTimer = null;
                    answerLoginFailure(answer, true);
                    ctx.flush();
                }, refused.waitBeforeAnswer().toMillis(), TimeUnit.MILLISECONDS);
                return;
            }
            answerLoginFailure(answer, true);
            return;
        }
        log.warn("[{}] routing lookup for {} failed: {}", id, user, innermostMessage(error));
        answerLoginFailure("[UNAVAILABLE] Backend unavailable, try again later.", false);
    }

    private void routed(String tag, Credentials credentials, Router.Route route) {
        BackendPool.Selection selection = pool.select(route);
        if (selection.refused() || !pool.tryAcquire(selection.backend())) {
            log.warn("[{}] login of {} refused: {}", id, credentials.user(),
                    selection.refused() ? selection.reason() : "backend " + selection.backend() + " is at max_sessions");
            no(tag, "[UNAVAILABLE] Backend unavailable, try again later.");
            meters.login(credentials.mechanism(), PosternMetrics.LoginResult.UNAVAILABLE);
            if (!selection.refused()) {
                metrics.limitRefused(PosternMetrics.Limit.BACKEND_MAX_SESSIONS);
            }
            denials.record(credentials.user(), clientAddressText(), "backend unavailable: "
                    + (selection.refused() ? selection.reason() : selection.backend() + " at max_sessions"));
            return;
        }
        if (!limits.takeUser(credentials.user())) {
            pool.release(selection.backend());
            log.warn("[{}] login of {} refused: max_sessions_per_user reached", id, credentials.user());
            no(tag, "[LIMIT] Too many sessions for this user.");
            meters.login(credentials.mechanism(), PosternMetrics.LoginResult.LIMITED);
            metrics.limitRefused(PosternMetrics.Limit.MAX_SESSIONS_PER_USER);
            denials.record(credentials.user(), clientAddressText(), "max_sessions_per_user");
            return;
        }
        userSlot = credentials.user();
        routeKey = route.key();
        state = State.LOGGING_IN;
        loginTag = tag;
        user = credentials.user();
        backendName = selection.backend();
        BackendConfig target = config.backends().get(backendName);
        log.debug("[{}] login of {} ({}) via {} ({}; key {})", id, user, credentials.mechanism(), backendName,
                selection.reason(), route.key());
        WarmConnections.Warm warm = warmConnections.take(client.eventLoop(), target, tls,
                config.limits().responses(), client.config().getWriteBufferWaterMark());
        Channel ch;
        ChannelFuture connect = null;
        long connectStart = System.nanoTime();
        if (warm != null) {
            ch = warm.channel();
            ch.pipeline().replace(HandlerNames.BACKEND_HANDLER, HandlerNames.BACKEND_HANDLER, new BackendHandler(this));
        } else {
            connect = WarmConnections.bootstrap(client.eventLoop(), transport, target, client.config().getWriteBufferWaterMark())
                    .handler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(HandlerNames.BYTES, metrics.backendBytes());
                            if (!target.proxyProtocol().equals("none")) {
                                ch.pipeline().addLast(HandlerNames.PROXY_PROTOCOL, new ChannelInboundHandlerAdapter() {
                                    @Override
                                    public void channelActive(ChannelHandlerContext c) {
                                        // first on the wire, before any TLS handshake the next handler starts
                                        c.writeAndFlush(ProxyHeader.encode(c.alloc(), target.proxyProtocol(),
                                                clientSocketAddress(), (java.net.InetSocketAddress) client.localAddress()));
                                        c.pipeline().remove(this);
                                        c.fireChannelActive();
                                    }
                                });
                            }
                            if (target.tls().equals("implicit")) {
                                ch.pipeline().addLast(HandlerNames.TLS, tls.newBackendHandler(backendName, ch.alloc()));
                            }
                            ch.pipeline()
                                    .addLast(HandlerNames.FRAME_DECODER,
                                            new ImapFrameDecoder(Direction.RESPONSE, config.limits().responses()))
                                    .addLast(HandlerNames.BACKEND_HANDLER, new BackendHandler(ClientSession.this));
                        }
                    })
                    .connect(target.address().toUnresolved());
            ch = connect.channel();
        }
        backend = ch;
        ((RelayReadAllocator) ch.config().getRecvByteBufAllocator()).gate(this::mayReadBackendOn);
        String slot = backendName;
        ch.closeFuture().addListener(f -> pool.release(slot)); // the session slot taken above
        login = new BackendLogin(this, ch, credentials, target.tls().equals("starttls"),
                target.forwardClientAddress() ? clientIdParameters() : null, target.compress());
        loginTimer = client.eventLoop().schedule(
                () -> backendUnavailable("no login answer within " + target.loginTimeout().toMillis() + " ms"),
                target.loginTimeout().toMillis(), TimeUnit.MILLISECONDS);
        if (warm != null) {
            log.debug("[{}] {} takes a connection made ahead to {}", id, user, backendName);
            login.greeted(warm.capabilities());
            return;
        }
        connect.addListener((ChannelFutureListener) f -> {
            metrics.backendConnect(target.name(), System.nanoTime() - connectStart, f.isSuccess());
            if (!f.isSuccess()) {
                pool.connectFailed(target.name(), f.cause().getMessage());
                if (backend == f.channel()) {
                    backendUnavailable("connect to " + target.address() + " failed: " + f.cause().getMessage());
                }
                return;
            }
            f.channel().read();
        });
    }

    /** The ID parameters that tell a trusting backend (Dovecot) who the client really is. */
    private String clientIdParameters() {
        StringBuilder p = new StringBuilder("(\"x-session-id\" \"postern-").append(id).append('"');
        java.net.InetSocketAddress remote = clientSocketAddress();
        if (remote != null) {
            p.append(" \"x-originating-ip\" \"").append(remote.getAddress().getHostAddress())
                    .append("\" \"x-originating-port\" \"").append(remote.getPort()).append('"');
        }
        if (client.localAddress() instanceof java.net.InetSocketAddress local) {
            p.append(" \"x-connected-ip\" \"").append(local.getAddress().getHostAddress())
                    .append("\" \"x-connected-port\" \"").append(local.getPort()).append('"');
        }
        return p.append(')').toString();
    }

    /** Called by {@link BackendLogin} after the backend's OK to STARTTLS. */
    void startBackendTls() {
        // behind the byte counter, which counts what is on the wire, as for implicit TLS
        backend.pipeline().addAfter(HandlerNames.BYTES, HandlerNames.TLS, tls.newBackendHandler(backendName, backend.alloc()));
    }

    void onBackendHandshake(Channel channel, SslHandshakeCompletionEvent event) {
        metrics.tlsHandshake(false, event.isSuccess(), event.isSuccess() ? protocolOf(channel) : null);
        if (channel != backend || state != State.LOGGING_IN || login == null) {
            return;
        }
        if (login.awaitingHandshake()) {
            login.handshakeDone(event.isSuccess(), event.cause());
        } else if (!event.isSuccess()) {
            backendUnavailable("TLS handshake failed: " + innermostMessage(event.cause()));
        }
    }

    /** Called by {@link BackendLogin}: the backend accepted the credentials. */
    void loginSucceeded(List<String> backendCapabilities) {
        if (state != State.LOGGING_IN) {
            return;
        }
        endLogin();
        policies.login(user, loginMechanism, backendName, clientAddress(), tlsActive, backendCapabilities,
                () -> loginAdmitted(backendCapabilities), this::loginRefusedByPolicy);
    }

    /** A login policy refused the user the backend accepted: the backend session is closed. */
    private void loginRefusedByPolicy(io.postern.policies.engine.Outcome refusal) {
        if (state != State.LOGGING_IN) {
            return;
        }
        log.info("[{}] login of {} refused by policy {}: {}", id, user, refusal.policy(), refusal.decision());
        policies.loginAbandoned();
        Channel dead = backend;
        backend = null;
        dead.close();
        if (refusal.decision().kind() == io.postern.policies.Decision.Kind.DISCONNECT) {
            denials.record(user, clientAddressText(), "policy " + refusal.policy() + ": login: BYE " + refusal.decision().text());
            meters.login(loginMechanism, PosternMetrics.LoginResult.DENIED);
            closeWithBye(refusal.decision().text());
            return;
        }
        loginDenied = true;
        answerLoginFailure(refusal.decision().answerText(), true);
    }

    private void loginAdmitted(List<String> backendCapabilities) {
        if (state != State.LOGGING_IN) {
            return;
        }
        state = State.RELAY;
        decoder.setAuthenticated(true);
        long idle = config.timeouts().idle().toMillis();
        cancelPreAuthDeadline();
        throttle.success(clientAddress(), user);
        meters.login(loginMechanism, PosternMetrics.LoginResult.OK);
        ctx.pipeline().addFirst(HandlerNames.IDLE_TIMEOUT, new IdleStateHandler(true, 0, 0, idle, TimeUnit.MILLISECONDS));
        log.info("[{}] {} logged in from {} to {}", id, user, clientSocketAddress(), backendName);
        write(loginTag + " OK [CAPABILITY " + Capabilities.join(afterLoginCapabilities(backendCapabilities))
                + "] Logged in");
        loginTag = null;
        releaseHeld();
        backend.flush();
        ctx.flush();
        backend.read();
        readClientIfReady();
    }

    /** Called by {@link BackendLogin}: the backend refused the credentials. */
    void loginRejected(String code, String text) {
        if (state != State.LOGGING_IN) {
            return;
        }
        log.info("[{}] login of {} refused by {}: {}", id, user, backendName, code == null ? "NO" : code);
        String answer = switch (code == null ? "" : code) {
            case "UNAVAILABLE" -> "[UNAVAILABLE] Backend unavailable, try again later.";
            case "AUTHORIZATIONFAILED", "EXPIRED", "CONTACTADMIN" -> "[" + code + "] " + text;
            default -> "[AUTHENTICATIONFAILED] Authentication failed.";
        };
        loginFailed(answer, true);
    }

    /** Called when the backend cannot be reached or does not complete the login. */
    void backendUnavailable(String reason) {
        if (state != State.LOGGING_IN) {
            return;
        }
        log.warn("[{}] backend {} unavailable for {}: {}", id, backendName, user, reason);
        loginFailed("[UNAVAILABLE] Backend unavailable, try again later.", false);
    }

    private void loginFailed(String answer, boolean countsAsFailure) {
        endLogin();
        Channel dead = backend;
        backend = null;
        dead.close();
        if (countsAsFailure) {
            Duration wait = throttle.failure(clientAddress(), user);
            if (!wait.isZero()) {
                log.debug("[{}] answering the failed login of {} in {} ms", id, user, wait.toMillis());
                // still LOGGING_IN meanwhile: nothing is read, pipelined frames stay held
                loginTimer = client.eventLoop().schedule(() -> {
                    loginTimer = null;
                    answerLoginFailure(answer, true);
                }, wait.toMillis(), TimeUnit.MILLISECONDS);
                return;
            }
        }
        answerLoginFailure(answer, countsAsFailure);
    }

    private java.net.InetAddress clientAddress() {
        java.net.InetSocketAddress a = clientSocketAddress();
        return a == null ? null : a.getAddress();
    }

    /** The client as a PROXY protocol header named it, or the peer of the connection. */
    private java.net.InetSocketAddress clientSocketAddress() {
        java.net.InetSocketAddress proxied = client.attr(ProxyProtocolHandler.CLIENT).get();
        if (proxied != null) {
            return proxied;
        }
        return client.remoteAddress() instanceof java.net.InetSocketAddress a ? a : null;
    }

    private void answerLoginFailure(String answer, boolean countsAsFailure) {
        if (state != State.LOGGING_IN) {
            return; // closed while the answer waited
        }
        releaseUserSlot();
        state = State.NOT_AUTHENTICATED;
        meters.login(loginMechanism, loginDenied ? PosternMetrics.LoginResult.DENIED
                : answer.startsWith("[UNAVAILABLE]") ? PosternMetrics.LoginResult.UNAVAILABLE : PosternMetrics.LoginResult.FAILED);
        loginDenied = false;
        policies.loginFailed(user, loginMechanism, backendName, clientAddress(), tlsActive, answer);
        no(loginTag, answer);
        denials.record(user, clientAddressText(), answer);
        loginTag = null;
        if (countsAsFailure && ++loginFailures >= config.limits().maxLoginFailures()) {
            metrics.limitRefused(PosternMetrics.Limit.MAX_LOGIN_FAILURES);
            closeWithBye("Too many invalid authentication attempts.");
            return;
        }
        ctx.flush();
        releaseHeld();
        ctx.flush();
        readClientIfReady();
    }

    private void endLogin() {
        if (loginTimer != null) {
            loginTimer.cancel(false);
            loginTimer = null;
        }
        login = null;
    }

    /** Frames the client pipelined behind its LOGIN, handled now that the login is over. */
    private void releaseHeld() {
        while (!held.isEmpty() && state != State.LOGGING_IN && state != State.CLOSED && !policies.pending() && !uploadBusy()
                && partial == null) {
            clientFrame(held.poll());
        }
    }

    // ---------------------------------------------------------------- relay

    private void relayClientFrame(ImapFrame frame) {
        if (frame instanceof ImapDecoderError error) {
            if (upload != null && upload.collecting()) {
                // an upload Postern was holding breaks off: the backend saw none of it
                ScannedUpload broken = upload;
                upload = null;
                broken.close();
                running.remove(broken.tag());
                transmitting = broken.tag();
                decoderError(error);
                transmitting = null;
                return;
            }
            String gathered = policies.abandonGathering(); // a command the policies had not seen whole: it ends here
            if (gathered != null && transmitting == null) {
                transmitting = gathered;
                decoderError(error);
                transmitting = null;
            } else {
                decoderError(error);
            }
            return;
        }
        if (loggingOut) {
            ReferenceCountUtil.release(frame); // nothing after LOGOUT reaches the backend
            return;
        }
        if (policies.pending() || uploadBusy() || partial != null) {
            held.add(frame); // a policy decides about an earlier command: this one waits its turn
            return;
        }
        policies.traffic(true, ((io.netty.buffer.ByteBufHolder) frame).content().readableBytes());
        if (policies.gathering()) {
            policies.gather(frame); // the literal of a command the policies decide on once it is whole
            return;
        }
        if (upload != null && upload.collecting()) {
            upload.take(frame); // the rest of an upload Postern holds until its messages are inspected
            return;
        }
        if (dropping) {
            dropping = !(frame instanceof ImapLine line && line.last());
            if (decoder.awaitingLiteralDecision()) {
                decoder.literalRefused(); // the client waits for a '+' for a command already refused
                dropping = false;
            }
            ReferenceCountUtil.release(frame);
            return;
        }
        if (frame instanceof ImapLine line) {
            if (line.first() && !commandStarts(line)) {
                return;
            }
            if (!line.first() && !continuationValid(line)) {
                return;
            }
            if (!line.first() && line.last()) {
                transmitting = null;
            }
            backend.write(line.content());
        } else {
            backend.write(((LiteralChunk) frame).content());
        }
    }

    /**
     * Looks at the first line of a command: tracks its tag, answers what Postern must answer
     * itself. Returns {@code false} when the line was consumed here.
     */
    private boolean commandStarts(ImapLine line) {
        if (idleTag != null && line.last() && isDone(line)) {
            return true; // DONE ends IDLE: continuation data, not a command
        }
        commandArrived = System.nanoTime();
        CommandHead head;
        try {
            head = CommandHead.parse(line.content());
            io.postern.imap.parse.ImapChars.checkLineText(line.content(), line.textLength()); // not relayed: read otherwise
        } catch (ImapParseException e) {
            bad(tagOf(line.content()), e.getMessage() + ".");
            refuseRestOf(line);
            return false;
        }
        if (line.last()) {
            String refusal = switch (head.name()) {
                case "STARTTLS" -> "STARTTLS is not available after login.";
                case "LOGIN", "AUTHENTICATE" -> "Already logged in.";
                case "UNAUTHENTICATE" -> "UNAUTHENTICATE is not available through this proxy.";
                default -> null;
            };
            if (refusal != null) {
                bad(head.tag(), refusal);
                line.release();
                return false;
            }
            if (head.name().equals("COMPRESS")) {
                compress(head, line);
                line.release();
                return false;
            }
        }
        if (policies.inspectsCommands()) {
            policies.command(head, line); // forwards, answers or waits: see forward()
            return false;
        }
        if (takesPartialFetch(head.tag(), head.name(), line, line.content())) {
            return false;
        }
        noteSelect(head.tag(), head.name(), line);
        track(head.tag(), head.name(), line.last());
        if (scansUpload(head.name(), line)) {
            beginUpload(head.tag(), head.name(), line.content(), line.literal(),
                    line.first() && ScannedUpload.mailboxLiteral(head.name(), line.content(), head.argumentsIndex()));
            return false;
        }
        return true;
    }

    /** Whether this command's first line starts an upload the content policies inspect. */
    private boolean scansUpload(String name, ImapLine line) {
        return !line.last() && ScannedUpload.COMMANDS.contains(name) && policies.inspectsContent();
    }

    private boolean uploadBusy() {
        return upload != null && upload.busy();
    }

    @Override
    public void uploadDrained(ScannedUpload u) {
        if (upload == u && state == State.RELAY) {
            readClientIfReady();
        }
    }

    private void beginUpload(String tag, String name, ByteBuf firstLine, io.postern.imap.codec.LiteralAnnouncement literal,
            boolean mailbox) {
        upload = new ScannedUpload(tag, name, id, this, client.eventLoop(),
                () -> policies.inspectors(io.postern.policies.ContentDirection.UPLOAD),
                policies.backendLiteralPlus(), policies.backendLiteralMinus());
        upload.begin(firstLine, literal, mailbox);
    }

    // ---------------------------------------------------------------- ScannedUpload.Host

    @Override
    public Channel backend() {
        return backend;
    }

    @Override
    public void uploadForwarded(ScannedUpload done) {
        if (upload != done) {
            return;
        }
        upload = null;
        transmitting = null; // the whole command is at the backend
        resumed();
    }

    @Override
    public void scanned(io.postern.policies.ContentVerdict verdict, long nanos) {
        io.postern.policies.scan.ScanVerdict.Outcome outcome;
        try {
            outcome = io.postern.policies.scan.ScanVerdict.Outcome.valueOf(verdict.result().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            return; // a third-party inspector's own word: not one of the scan results counted
        }
        metrics.scanned(outcome == io.postern.policies.scan.ScanVerdict.Outcome.CLEAN
                ? io.postern.policies.scan.ScanVerdict.clean()
                : new io.postern.policies.scan.ScanVerdict(outcome, "content", verdict.result()), Duration.ofNanos(nanos));
    }

    @Override
    public void uploadRefused(ScannedUpload refused, io.postern.policies.ContentVerdict verdict) {
        if (upload != refused || state != State.RELAY) {
            return;
        }
        upload = null;
        transmitting = null;
        running.remove(refused.tag());
        String code = verdict.code() == null ? "POLICY" : verdict.code();
        String reason = verdict.reason() == null ? "Message refused." : verdict.reason();
        log.info("[{}] {} {} refused: {}", id, refused.tag(), refused.name(), reason);
        no(refused.tag(), "[" + code + "] " + reason);
        denials.record(user, clientAddressText(), "scan: " + refused.name() + ": " + reason);
        policies.completed(refused.tag(), refused.name(), "NO", code, "[" + code + "]", System.nanoTime() - refused.startNanos(),
                true, null);
        resumed();
    }

    private void track(String tag, String name, boolean wholeLine) {
        running.put(tag, new Running(name, commandArrived, System.nanoTime()));
        if (name.equals("IDLE")) {
            idleTag = tag;
        } else if (name.equals("LOGOUT") && wholeLine) {
            loggingOut = true;
        }
        transmitting = wholeLine ? null : tag;
    }

    // ---------------------------------------------------------------- PolicyGate.Host

    @Override
    public void reply(String line) {
        write(line);
    }

    @Override
    public void forward(String tag, String name, ImapLine original, ByteBuf firstLine) {
        if ((name.equals("EXPUNGE") || name.equals("CLOSE")) && original.last() && running.isEmpty() && idleTag == null
                && deletedSearchFor == null && policies.wantsDeletedUids()) {
            // Alone on the wire, so the backend's next SEARCH answer and the postern6 completion are this search's.
            deletedSearchFor = tag;
            deletedSearchRunning = true;
            deletedUids = new ArrayList<>();
            backend.write(Unpooled.copiedBuffer(DELETED_SEARCH_TAG + " UID SEARCH DELETED\r\n", StandardCharsets.US_ASCII));
        }
        if (takesPartialFetch(tag, name, original, firstLine)) {
            return;
        }
        noteSelect(tag, name, original);
        track(tag, name, original.last());
        boolean scanned = scansUpload(name, original);
        boolean mailbox = scanned && firstLine == original.content() && original.first()
                && ScannedUpload.mailboxLiteral(name, firstLine, firstLine.readerIndex() + tag.length() + 1 + name.length() + 1);
        io.postern.imap.codec.LiteralAnnouncement literal = original.literal();
        if (firstLine != original.content()) {
            original.release();
        }
        if (scanned) {
            beginUpload(tag, name, firstLine, literal, mailbox);
            return;
        }
        backend.write(firstLine);
    }

    @Override
    public void refuseRest(ImapLine line) {
        refuseRestOf(line);
    }

    @Override
    public void bye(String text) {
        closeWithBye(text);
    }

    @Override
    public void resumed() {
        if (state != State.RELAY) {
            return;
        }
        releaseHeld();
        backend.flush();
        ctx.flush();
        readClientIfReady();
    }

    @Override
    public void writeResponse(ByteBuf content) {
        client.write(content);
    }

    @Override
    public void acceptLiteral() {
        write("+ Ready for literal data");
        decoder.literalAccepted();
    }

    @Override
    public void denied(String policy, String decision) {
        denials.record(user, clientAddressText(), "policy " + policy + ": " + decision);
    }

    /** The backend's capabilities as the client sees them: filtered, plus what Postern adds itself. */
    private List<String> afterLoginCapabilities(List<String> backendCapabilities) {
        List<String> shown = Capabilities.relayable(backendCapabilities);
        shown = listener.compress() && compression == null ? Capabilities.with(shown, "COMPRESS=DEFLATE") : shown;
        return policies.capabilities(shown);
    }

    /**
     * COMPRESS (RFC 4978), answered by Postern: the client leg is compressed from the byte after
     * the tagged OK; the backend leg is not affected. Postern keeps parsing the inflated stream.
     */
    private void compress(CommandHead head, ImapLine line) {
        String mechanism;
        try {
            ArgumentReader args = new ArgumentReader(ByteBufUtil.getBytes(line.content()),
                    head.argumentsIndex() - line.content().readerIndex());
            mechanism = args.atom();
            args.end();
        } catch (ImapParseException e) {
            bad(head.tag(), "COMPRESS needs one argument, the mechanism: " + e.getMessage() + ".");
            return;
        }
        if (!listener.compress() || policies.removes("COMPRESS=DEFLATE")) {
            bad(head.tag(), "COMPRESS is not offered on this listener.");
        } else if (compression != null) {
            no(head.tag(), "[COMPRESSIONACTIVE] DEFLATE is already active.");
        } else if (!mechanism.equalsIgnoreCase("DEFLATE")) {
            bad(head.tag(), "Unknown compression mechanism; DEFLATE is the one offered.");
        } else if (!running.isEmpty() || midResponse) {
            no(head.tag(), "Commands are in progress; send COMPRESS when they have completed.");
        } else {
            ok(head.tag(), "DEFLATE active.");
            ctx.flush(); // the OK is the last thing the client gets uncompressed
            compression = Compression.install(client.pipeline(), decoder.takeBufferedInput());
            log.debug("[{}] COMPRESS=DEFLATE active on the client connection", id);
        }
    }

    /**
     * A line after a literal with a NUL or a bare CR: the command's start is at the backend
     * already and cannot be withdrawn, so the session ends rather than relay it.
     */
    private boolean continuationValid(ImapLine line) {
        try {
            io.postern.imap.parse.ImapChars.checkLineText(line.content(), line.textLength());
            return true;
        } catch (ImapParseException e) {
            line.release();
            bad(transmitting, e.getMessage() + ".");
            closeWithBye("Invalid input.");
            return false;
        }
    }

    private void refuseRestOf(ImapLine line) {
        if (line.literal() != null) {
            if (decoder.awaitingLiteralDecision()) {
                decoder.literalRefused();
            } else {
                dropping = true;
            }
        }
        line.release();
    }

    private static boolean isDone(ImapLine line) {
        ByteBuf c = line.content();
        return line.textLength() == 4 && c.toString(c.readerIndex(), 4, StandardCharsets.US_ASCII).equalsIgnoreCase("DONE");
    }

    // ---------------------------------------------------------------- backend events

    void onBackendFrame(ImapFrame frame) {
        if (state == State.LOGGING_IN && login != null) {
            login.onFrame(frame);
            return;
        }
        if (state != State.RELAY) {
            ReferenceCountUtil.release(frame);
            return;
        }
        if (frame instanceof ImapDecoderError error) {
            if (error.kind() == ImapDecoderError.Kind.TRUNCATED) {
                log.warn("[{}] backend {} closed the connection in the middle of a response", id, backendName);
                closeWithBye("Backend connection lost.");
            } else {
                log.warn("[{}] backend {} sent input Postern refuses: {}", id, backendName, error.kind());
                closeWithBye("Backend protocol error.");
            }
            return;
        }
        if (download != null && download.busy()) {
            backendHeld.add(frame); // behind a FETCH literal that waits for its verdict
            return;
        }
        if (deletedSearchRunning && frame instanceof ImapLine l && l.first() && l.last() && deletedSearchAnswer(l.content())) {
            l.release(); // Postern's own search: not the client's, not counted as the client's traffic
            return;
        }
        if (partial != null && partial.phase() == PartialFetch.Phase.LOOKING_UP && frame instanceof ImapLine l
                && l.first() && l.last() && lookupAnswer(l)) {
            return; // Postern's own UID lookup
        }
        policies.traffic(false, ((io.netty.buffer.ByteBufHolder) frame).content().readableBytes());
        if (download != null && download.collecting()) {
            download.take((LiteralChunk) frame); // a FETCH literal held for the content policies
            return;
        }
        if (policies.holdingResponse()) {
            boolean last = frame instanceof ImapLine l && l.last();
            policies.takeResponse(frame, null);
            if (last) {
                midResponse = false;
                writeWaitingReplies();
            }
            return;
        }
        if (frame instanceof ImapLine line) {
            midResponse = !line.last();
            if (line.first()) {
                relayResponseStart(line);
            } else if (!startDownload(line)) {
                client.write(line.content());
            }
            if (!midResponse) {
                writeWaitingReplies();
                if (byeAfterCommands != null) {
                    byeIfCommandsDone();
                }
            }
        } else {
            client.write(((LiteralChunk) frame).content());
        }
    }

    private void relayResponseStart(ImapLine line) {
        ResponseHead head;
        try {
            head = ResponseHead.parse(line.content());
        } catch (ImapParseException e) {
            log.debug("[{}] passing on a response Postern cannot parse: {}", id, e.getMessage());
            client.write(line.content());
            return;
        }
        if (upload != null && upload.awaitingContinuation()) {
            if (head.isContinuation()) {
                line.release(); // the backend's + for an upload's literal: Postern said its own to the client
                upload.continuation();
                return;
            }
            if (head.isTagged() && head.tag().equals(upload.tag())) {
                upload.answeredEarly(); // e.g. NO [TRYCREATE] instead of +: the rest is not sent
                upload = null;
            }
        }
        if (policies.filters(head)) {
            policies.takeResponse(line, head); // an untagged LIST, STATUS ... a policy may drop
            return;
        }
        policies.untagged(head, line.content());
        String codeText = head.isTagged() && head.codeStart() >= 0 ? line.content().toString(head.codeStart(),
                head.codeEnd() - head.codeStart(), java.nio.charset.StandardCharsets.US_ASCII) : null;
        boolean capabilities = "CAPABILITY".equals(head.code())
                || (head.isUntagged() && !head.status() && "CAPABILITY".equals(head.keyword()));
        if (capabilities) {
            ByteBuf rewritten = rewriteCapabilities(line.content(), head);
            line.release();
            client.write(rewritten);
        } else {
            fetchResponse = head.isUntagged() && "FETCH".equals(head.keyword());
            if (fetchResponse && policies.inspectsContent()) {
                fetchNumber = head.number();
                fetchUid = PartialFetch.leadingUid(line.content());
            }
            if (head.isUntagged() && selectingTag != null && "UIDVALIDITY".equals(head.code())) {
                selectingValidity = codeNumber(line.content(), head);
            }
            if (partial != null && head.isUntagged() && ("EXPUNGE".equals(head.keyword()) || "VANISHED".equals(head.keyword()))) {
                partial.forgetNumbers();
            }
            if (!startDownload(line)) {
                client.write(line.content());
            }
        }
        if (head.isTagged()) {
            Running command = running.remove(head.tag());
            if (command != null) {
                long now = System.nanoTime();
                if (log.isDebugEnabled()) {
                    log.debug("[{}] {} {} {} in {} us", id, head.tag(), command.name(), head.keyword(),
                            (now - command.startNanos()) / 1000);
                }
                meters.commandCompleted(command.name(), head.keyword(), command.startNanos() - command.arrivedNanos(),
                        now - command.startNanos());
                List<String> deleted = null;
                if (head.tag().equals(deletedSearchFor)) {
                    deleted = deletedUids;
                    deletedSearchFor = null;
                    deletedUids = null;
                }
                policies.completed(head.tag(), command.name(), head.keyword(), head.code(), codeText,
                        now - command.startNanos(), false, null, deleted);
                selectionCompleted(head.tag(), command.name(), head.keyword());
            }
            if (head.tag().equals(idleTag)) {
                idleTag = null;
            }
            partialCompleted(head.tag());
            if (head.tag().equals(transmitting)) {
                transmitting = null;
                if (decoder.awaitingLiteralDecision()) {
                    decoder.literalRefused(); // e.g. APPEND to a missing mailbox: NO instead of '+'
                }
            }
        } else if (head.isContinuation()) {
            if (decoder.awaitingLiteralDecision()) {
                decoder.literalAccepted();
            }
        } else if ("BYE".equals(head.keyword())) {
            backendSaidBye = true;
        }
    }

    /**
     * Takes a line of the answer to Postern's {@code UID SEARCH DELETED}: {@code * SEARCH 4 7},
     * {@code * ESEARCH (TAG "postern6") UID ALL 4,7} (IMAP4rev2), or its {@code postern6} completion.
     * Returns {@code false} for any other line (unsolicited data that goes to the client).
     */
    private boolean deletedSearchAnswer(ByteBuf line) {
        String text = line.toString(line.readerIndex(), CommandHead.textEnd(line) - line.readerIndex(), StandardCharsets.US_ASCII);
        String upper = text.toUpperCase(java.util.Locale.ROOT);
        if (upper.startsWith(DELETED_SEARCH_TAG.toUpperCase(java.util.Locale.ROOT) + " ")) {
            deletedSearchRunning = false;
            if (!upper.startsWith(DELETED_SEARCH_TAG.toUpperCase(java.util.Locale.ROOT) + " OK")) {
                log.debug("[{}] the search for deleted messages failed: {}", id, text);
                deletedUids = null;
            }
            return true;
        }
        String numbers;
        if (upper.equals("* SEARCH") || upper.startsWith("* SEARCH ")) {
            numbers = text.substring(8).trim().replace(' ', ',');
        } else if (upper.startsWith("* ESEARCH (TAG \"" + DELETED_SEARCH_TAG.toUpperCase(java.util.Locale.ROOT) + "\")")) {
            int all = upper.indexOf(" ALL ");
            numbers = all < 0 ? "" : text.substring(all + 5).trim().split(" ")[0];
        } else {
            return false;
        }
        if (deletedUids != null) {
            for (String range : numbers.split(",")) {
                if (range.isEmpty()) {
                    continue;
                }
                int colon = range.indexOf(':');
                try {
                    long from = Long.parseLong(colon < 0 ? range : range.substring(0, colon));
                    long to = colon < 0 ? from : Long.parseLong(range.substring(colon + 1));
                    for (long u = Math.min(from, to); u <= Math.max(from, to) && deletedUids.size() < MAX_DELETED_UIDS; u++) {
                        deletedUids.add(Long.toString(u));
                    }
                } catch (NumberFormatException e) {
                    log.debug("[{}] the search for deleted messages gave {}", id, text);
                    deletedUids = null;
                    break;
                }
            }
        }
        return true;
    }

    /**
     * Holds a FETCH response's body literal for the content policies when they want it: the
     * line is taken (not written) and {@link #download} gets the literal.
     */
    private boolean startDownload(ImapLine line) {
        if (!fetchResponse || line.literal() == null || !policies.inspectsContent()) {
            return false;
        }
        ScannedDownload.Item item = ScannedDownload.item(line.content());
        if (item == null || item.kind() == ScannedDownload.Kind.NONE) {
            return false;
        }
        if (!line.first()) {
            long leading = PartialFetch.leadingUid(line.content());
            fetchUid = leading >= 0 ? leading : fetchUid;
        }
        ScannedDownload.Slice slice = null;
        Object key = null;
        io.postern.policies.ContentVerdict known = null;
        if (partial != null && partial.phase() == PartialFetch.Phase.RUNNING) {
            key = downloadKey(partial.uidOf(fetchNumber, fetchUid), item.key());
            io.postern.policies.engine.PolicyChain.KnownDownload k = key == null ? null : policies.knownDownload(key);
            known = k == null ? null : k.verdict();
            PartialFetch.Range r = partial.rangeFor(item.key());
            if (r != null && r.mode() == PartialFetch.Mode.WHOLE && item.origin() < 0) {
                slice = ScannedDownload.Slice.of(r.origin(), r.count()); // widened: the range is cut out of the whole
            } else if (r != null && r.mode() == PartialFetch.Mode.WINDOW && item.origin() == r.windowOrigin()) {
                // the original bytes the range of the replaced message needs
                known = r.known().verdict();
                slice = new ScannedDownload.Slice(r.origin(), r.count(), r.windowOrigin(), r.known().size());
            } else if (item.origin() >= 0 && known != null) {
                if (known.kind() == io.postern.policies.ContentVerdict.Kind.PASS) {
                    return false; // a range of content scanned whole before and found clean: it streams
                }
                if (known.kind() == io.postern.policies.ContentVerdict.Kind.REPLACE) {
                    known = null; // not expected (such a range is widened or windowed): checked as the range it is
                    key = null;
                }
            }
        } else if (item.origin() < 0) {
            key = downloadKey(fetchUid >= 0 ? fetchUid : null, item.key()); // a full fetch's verdict serves later ranges
        }
        List<io.postern.policies.ContentInspector> inspectors = policies.inspectors(item.kind() == ScannedDownload.Kind.MESSAGE
                ? io.postern.policies.ContentDirection.DOWNLOAD
                : io.postern.policies.ContentDirection.DOWNLOAD_SECTION);
        if (inspectors.isEmpty()) {
            return false;
        }
        Object remembered = key;
        download = new ScannedDownload(this, client.eventLoop(), id, inspectors, line.content(), line.literal(), known,
                remembered == null || known != null ? null : (v, size) -> policies.rememberDownload(remembered, v, size),
                slice, SpillIo.serial());
        return true;
    }

    /** The key of one message section's download verdict, or {@code null} when the message cannot be named. */
    private Object downloadKey(Long uid, String item) {
        if (uid == null || uid < 0 || selected == null) {
            return null;
        }
        return new DownloadKey(user, backendName, selected.mailbox(), selected.uidValidity(), uid, item);
    }

    /**
     * Takes a FETCH that asks for ranges of content when the session scans downloads (see
     * {@link PartialFetch}): it waits until it can run alone, then Postern looks up the UIDs
     * and sends it on. Returns {@code false} when it goes on as any other command. Takes
     * {@code firstLine} when it returns {@code true} ({@code original} is released then too).
     */
    private boolean takesPartialFetch(String tag, String name, ImapLine original, ByteBuf firstLine) {
        if (!PartialFetch.COMMANDS.contains(name) || !original.first() || !original.last() || !policies.inspectsContent()) {
            return false;
        }
        List<io.postern.policies.ContentInspector> probe = policies.inspectors(io.postern.policies.ContentDirection.DOWNLOAD);
        boolean scansDownloads = !probe.isEmpty();
        ScannedUpload.closeAll(probe, id);
        if (!scansDownloads) {
            return false;
        }
        PartialFetch p = PartialFetch.parse(tag, name, firstLine, commandArrived);
        if (p == null) {
            return false;
        }
        if (firstLine != original.content()) {
            original.release();
        }
        p.hold(firstLine);
        partial = p;
        if (running.isEmpty() && idleTag == null && deletedSearchFor == null) {
            lookUp();
        }
        return true;
    }

    /** The partial fetch runs alone now: its UIDs are looked up, or it goes at once when it names them. */
    private void lookUp() {
        if (partial.needsNoLookup()) {
            sendPartial();
            return;
        }
        backend.write(Unpooled.copiedBuffer(partial.lookupCommand(), StandardCharsets.US_ASCII));
        backend.flush();
    }

    /** Sends the partial fetch, widened unless every verdict it needs is known and none replaces a part. */
    private void sendPartial() {
        commandArrived = partial.arrivedNanos();
        ByteBuf line = partial.send((uid, item) -> {
            Object key = downloadKey(uid, item);
            return key == null ? null : policies.knownDownload(key);
        }, backend.alloc());
        log.debug("[{}] {} {} of ranges {}", id, partial.tag(), partial.name(),
                partial.widened() ? "widened to whole sections" : "as sent: every verdict is known");
        track(partial.tag(), partial.name(), true);
        backend.write(line);
        backend.flush();
    }

    /** Takes a line of the answer to Postern's UID lookup; {@code false} for any other line. */
    private boolean lookupAnswer(ImapLine l) {
        ByteBuf c = l.content();
        String text = c.toString(c.readerIndex(), CommandHead.textEnd(c) - c.readerIndex(), StandardCharsets.ISO_8859_1);
        PartialFetch.LookupLine what = partial.lookupLine(text);
        if (what == PartialFetch.LookupLine.OTHER) {
            if (!text.equals(PartialFetch.withoutUid(text))) {
                // the backend's news about a message merged into the lookup's answer: the news goes on, not the UID
                l.release();
                client.write(Unpooled.copiedBuffer(PartialFetch.withoutUid(text) + "\r\n", StandardCharsets.ISO_8859_1));
                return true;
            }
            return false;
        }
        l.release();
        if (what == PartialFetch.LookupLine.DONE) {
            sendPartial();
        }
        return true;
    }

    /** A tagged completion: the partial fetch that waited for it may start, or the one that ran is over. */
    private void partialCompleted(String tag) {
        if (partial == null) {
            return;
        }
        if (partial.phase() == PartialFetch.Phase.RUNNING && tag.equals(partial.tag())) {
            partial = null;
            client.eventLoop().execute(this::resumed); // after this response is written
        } else if (partial.phase() == PartialFetch.Phase.WAITING && running.isEmpty() && idleTag == null
                && deletedSearchFor == null) {
            lookUp();
        }
    }

    /** A SELECT or EXAMINE goes to the backend: what it selects is noted, and nothing is selected until it succeeds. */
    private void noteSelect(String tag, String name, ImapLine line) {
        if (!name.equals("SELECT") && !name.equals("EXAMINE")) {
            return;
        }
        selected = null;
        selectingTag = tag;
        selectingValidity = -1;
        selectingMailbox = line.first() && line.last() ? mailboxArgument(line.content()) : null;
    }

    private void selectionCompleted(String tag, String name, String status) {
        if (tag.equals(selectingTag)) {
            selected = "OK".equals(status) && selectingMailbox != null && selectingValidity >= 0
                    ? new Selected(selectingMailbox, selectingValidity) : null;
            selectingTag = null;
        } else if ((name.equals("CLOSE") || name.equals("UNSELECT")) && "OK".equals(status)) {
            selected = null;
        }
    }

    /** The mailbox of a one-line SELECT or EXAMINE (an atom or a quoted string), or {@code null}. */
    private static String mailboxArgument(ByteBuf line) {
        CommandHead head;
        try {
            head = CommandHead.parse(line);
        } catch (ImapParseException e) {
            return null;
        }
        try {
            ArgumentReader args = new ArgumentReader(ByteBufUtil.getBytes(line), head.argumentsIndex() - line.readerIndex());
            byte[] name = args.astringBytes();
            String mailbox = new String(name, StandardCharsets.UTF_8);
            return mailbox.equalsIgnoreCase("INBOX") ? "INBOX" : mailbox;
        } catch (ImapParseException | RuntimeException e) {
            return null; // a literal name: not known
        }
    }

    /** The number in a response code such as {@code [UIDVALIDITY 3857529045]}, or -1. */
    private static long codeNumber(ByteBuf line, ResponseHead head) {
        if (head.codeStart() < 0) {
            return -1;
        }
        String code = line.toString(head.codeStart(), head.codeEnd() - head.codeStart(), StandardCharsets.US_ASCII);
        int sp = code.indexOf(' ');
        try {
            return sp < 0 ? -1 : Long.parseLong(code.substring(sp + 1).trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Whether a backend read in progress may take another buffer: what {@link #onBackendReadComplete} would ask. */
    private boolean mayReadBackendOn() {
        return state == State.RELAY && client.isWritable() && !downloadBusy();
    }

    /** A held FETCH literal waits for its verdict or its writing, or for its file work to catch up: the backend is not read. */
    private boolean downloadBusy() {
        return download != null && (download.busy() || download.backlogged());
    }

    @Override
    public void downloadDrained(ScannedDownload d) {
        if (download == d && state == State.RELAY && client.isWritable() && !downloadBusy()) {
            backend.read();
        }
    }

    @Override
    public Channel client() {
        return client;
    }

    @Override
    public void downloadWritten(ScannedDownload done) {
        if (download != done || state != State.RELAY) {
            return;
        }
        download = null;
        ImapFrame frame;
        while ((download == null || !download.busy()) && (frame = backendHeld.poll()) != null) {
            onBackendFrame(frame);
            if (state != State.RELAY) {
                return;
            }
        }
        ctx.flush();
        if (!downloadBusy() && client.isWritable()) {
            backend.read();
        }
    }

    private ByteBuf rewriteCapabilities(ByteBuf line, ResponseHead head) {
        String filtered = Capabilities.join(afterLoginCapabilities(head.capabilities(line)));
        int start = line.readerIndex();
        int prefixEnd;
        int suffixStart;
        if ("CAPABILITY".equals(head.code())) {
            prefixEnd = head.codeStart() + "CAPABILITY".length();
            suffixStart = head.codeEnd();
        } else {
            prefixEnd = head.dataIndex() > 0 && line.getByte(head.dataIndex() - 1) == ' '
                    ? head.dataIndex() - 1
                    : head.dataIndex();
            suffixStart = CommandHead.textEnd(line);
        }
        ByteBuf out = client.alloc().buffer(line.readableBytes() + 16);
        out.writeBytes(line, start, prefixEnd - start);
        out.writeByte(' ');
        out.writeCharSequence(filtered, StandardCharsets.US_ASCII);
        out.writeBytes(line, suffixStart, line.writerIndex() - suffixStart);
        return out;
    }

    void onBackendReadComplete() {
        if (state == State.CLOSED) {
            return;
        }
        ctx.flush();
        if (state == State.RELAY) {
            if (client.isWritable() && !downloadBusy()) {
                backend.read();
            }
            readClientIfReady();
        } else if (state == State.LOGGING_IN && backend != null && login != null) {
            backend.read(); // not while a login policy decides: the relay has not begun
        }
    }

    void onBackendWritabilityChanged(boolean writable) {
        if (writable && state == State.RELAY && upload != null) {
            upload.backendWritable();
        }
        if (writable && state == State.RELAY) {
            readClientIfReady();
        }
    }

    void onBackendClosed(Channel channel) {
        if (channel != backend) {
            return; // a backend connection of an earlier, failed login
        }
        if (state == State.LOGGING_IN) {
            backendUnavailable("connection closed during login");
        } else if (state == State.RELAY) {
            log.debug("[{}] backend {} closed the connection", id, backendName);
            ended(loggingOut ? PosternMetrics.SessionOutcome.LOGOUT : PosternMetrics.SessionOutcome.BACKEND_CLOSED);
            if (backendSaidBye) {
                close();
            } else {
                closeWithBye("Backend connection lost.");
            }
        }
    }

    void onBackendException(Channel channel, Throwable cause) {
        if (channel != backend) {
            channel.close();
            return;
        }
        if (backendSaidBye && state == State.RELAY) {
            // e.g. a reset right after LOGOUT's answer: the client has the backend's BYE already
            log.debug("[{}] backend {} connection error after its BYE: {}", id, backendName, innermostMessage(cause));
            close();
            return;
        }
        log.warn("[{}] backend {} connection error: {}", id, backendName, innermostMessage(cause));
        if (state == State.LOGGING_IN) {
            backendUnavailable(innermostMessage(cause));
        } else {
            ended(loggingOut ? PosternMetrics.SessionOutcome.LOGOUT : PosternMetrics.SessionOutcome.BACKEND_CLOSED);
            closeWithBye("Backend connection lost.");
        }
    }

    // ---------------------------------------------------------------- errors, answers, close

    /**
     * The most specific explanation in a chain of causes: for a failed TLS handshake that is the
     * trust manager's reason (an unknown CA, a name that does not match, an expired certificate),
     * not the engine's "General OpenSslEngine problem".
     */
    static String innermostMessage(Throwable t) {
        String message = t.toString();
        for (Throwable c = t; c != null && c.getCause() != c; c = c.getCause()) {
            if (c.getMessage() != null) {
                message = c.getMessage();
            }
        }
        return message;
    }

    private void decoderError(ImapDecoderError error) {
        String tag = error.tag() != null ? error.tag() : transmitting;
        switch (error.kind()) {
            case LITERAL_TOO_LARGE -> {
                String limit = "[TOOBIG] Literal too large (at most "
                        + config.limits().commands().maxLiteralSize(state == State.RELAY) + " bytes).";
                if (error.recoverable()) {
                    no(tag, limit);
                } else {
                    bad(tag, limit);
                    closeWithBye("Too much input.");
                }
            }
            case LINE_TOO_LONG -> {
                bad(tag, "[TOOBIG] Line too long (at most " + config.limits().commands().maxLineLength() + " bytes).");
                closeWithBye("Too much input.");
            }
            case TOO_MANY_LITERALS -> {
                bad(tag, "[LIMIT] Too many literals in one command.");
                closeWithBye("Too much input.");
            }
            case TRUNCATED -> log.debug("[{}] client closed in the middle of a command", id);
            default -> throw new IllegalStateException("kind " + error.kind());
        }
    }

    private void ok(String tag, String text) {
        write(tag + " OK " + text);
    }

    private void no(String tag, String text) {
        write((tag == null ? "*" : tag) + " NO " + text);
    }

    private void bad(String tag, String text) {
        write((tag == null ? "*" : tag) + " BAD " + text);
    }

    /**
     * Writes a line of Postern's own. While a relayed backend response is half written (inside a
     * FETCH literal, say) it waits for the end of that response: written now it would land in
     * the middle of the message data.
     */
    private void write(String line) {
        if (!client.isActive()) {
            return;
        }
        if (midResponse && state == State.RELAY) {
            if (repliesAfterResponse.size() >= MAX_WAITING_REPLIES) {
                log.debug("[{}] {} answers of Postern's own wait behind one response", id, MAX_WAITING_REPLIES);
                closeWithBye("Too many commands.");
                return;
            }
            repliesAfterResponse.add(line);
            return;
        }
        writeNow(line);
    }

    private void writeWaitingReplies() {
        String line;
        while ((line = repliesAfterResponse.poll()) != null) {
            writeNow(line);
        }
    }

    private void writeNow(String line) {
        ByteBuf buf = client.alloc().buffer(line.length() + 2);
        buf.writeCharSequence(line, StandardCharsets.UTF_8);
        buf.writeByte('\r').writeByte('\n');
        client.write(buf);
    }

    /**
     * Ends the session with an untagged BYE; without one inside a relayed response, where the
     * client would take it for the rest of a literal or of the response's line.
     */
    private void closeWithBye(String text) {
        if (state == State.CLOSED) {
            return;
        }
        if (midResponse) {
            log.debug("[{}] closing inside a response, without BYE: {}", id, text);
        } else {
            write("* BYE " + text);
        }
        close();
    }

    private void close() {
        ended(loggingOut ? PosternMetrics.SessionOutcome.LOGOUT
                : backendSaidBye ? PosternMetrics.SessionOutcome.BACKEND_CLOSED : PosternMetrics.SessionOutcome.POSTERN_CLOSED);
        state = State.CLOSED;
        releaseSessionState();
        policies.closed(loggingOut ? io.postern.policies.CloseReason.LOGOUT
                : backendSaidBye ? io.postern.policies.CloseReason.BACKEND_CLOSED : io.postern.policies.CloseReason.POSTERN);
        client.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        // a client that reads nothing would keep the close waiting behind its unwritten data forever
        client.eventLoop().schedule(() -> {
            client.close();
        }, CLOSE_GRACE_MILLIS, TimeUnit.MILLISECONDS);
        if (backend != null) {
            backend.close();
        }
    }

    /** Notes how the connection ends, unless that is known already; counted when it closes. */
    private void ended(PosternMetrics.SessionOutcome how) {
        if (outcome == null) {
            outcome = how;
        }
    }

    /** The TLS protocol a channel's handshake agreed on, or {@code null}. */
    private static String protocolOf(Channel channel) {
        SslHandler ssl = channel.pipeline().get(SslHandler.class);
        return ssl == null ? null : ssl.engine().getSession().getProtocol();
    }

    private void releaseUserSlot() {
        if (userSlot != null) {
            limits.giveUser(userSlot);
            userSlot = null;
        }
    }

    private void cancelPreAuthDeadline() {
        if (preAuthDeadline != null) {
            preAuthDeadline.cancel(false);
            preAuthDeadline = null;
        }
    }

    private void releaseSessionState() {
        releaseAssembly();
        if (upload != null) {
            upload.close(); // a client gone mid-literal leaves no temporary file
            upload = null;
        }
        if (download != null) {
            download.close();
            download = null;
        }
        if (partial != null) {
            partial.close();
            partial = null;
        }
        ImapFrame waiting;
        while ((waiting = backendHeld.poll()) != null) {
            ReferenceCountUtil.release(waiting);
        }
        cancelPreAuthDeadline();
        endLogin();
        ImapFrame frame;
        while ((frame = held.poll()) != null) {
            ReferenceCountUtil.release(frame);
        }
    }

    private void releaseAssembly() {
        if (assembly != null) {
            assembly.setZero(0, assembly.capacity());
            assembly.release();
            assembly = null;
        }
    }

    private String clientAddressText() {
        java.net.InetSocketAddress a = clientSocketAddress();
        return a == null ? null : a.getAddress().getHostAddress() + ":" + a.getPort();
    }

    // ---------------------------------------------------------------- admin

    /** What the admin API shows of this session; call on the session's event loop. */
    public SessionView view() {
        String stateName = switch (state) {
            case LOGGING_IN -> "logging-in";
            case RELAY -> "relay";
            case CLOSED -> "closed";
            default -> "connected";
        };
        boolean loggedIn = state == State.LOGGING_IN || state == State.RELAY; // not what a failed login left
        return new SessionView(id, listener.name(), clientAddressText(), loggedIn ? user : null, loggedIn ? routeKey : null,
                loggedIn ? backendName : null, stateName, since);
    }

    /**
     * Ends the session with {@code * BYE byeText} once the commands running now have completed
     * (IDLE excepted: it is ended at once): no new command is read meanwhile, while a command
     * being sent (an APPEND's literal) is read to its end. Before login the BYE comes at once.
     * After {@code grace} the connection is cut whatever runs. Call on the session's event loop.
     */
    public void endAfterCommands(String byeText, Duration grace) {
        if (state == State.CLOSED || byeAfterCommands != null) {
            return;
        }
        if (state != State.RELAY) {
            log.info("[{}] ending the session: {}", id, byeText);
            closeWithBye(byeText);
            ctx.flush();
            return;
        }
        log.info("[{}] ending the session of {} after its running commands: {}", id, user, byeText);
        byeAfterCommands = byeText;
        client.eventLoop().schedule(() -> {
            if (state != State.CLOSED) {
                log.info("[{}] commands still running after {} ms: closing", id, grace.toMillis());
                closeWithBye(byeText);
                ctx.flush();
            }
        }, grace.toMillis(), TimeUnit.MILLISECONDS);
        byeIfCommandsDone();
    }

    private void byeIfCommandsDone() {
        if (state != State.RELAY || midResponse || transmitting != null || dropping) {
            return;
        }
        if (running.isEmpty() || (running.size() == 1 && idleTag != null && running.containsKey(idleTag))) {
            closeWithBye(byeAfterCommands);
            ctx.flush();
        }
    }

    @Override
    public String toString() {
        return "ClientSession(" + id + ", " + state + ")";
    }
}
