package io.postern.proxy.session;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import io.postern.imap.codec.ImapFrame;
import io.postern.imap.codec.ImapLine;
import io.postern.imap.codec.LiteralChunk;
import io.postern.imap.parse.CommandHead;
import io.postern.imap.parse.ResponseHead;
import io.postern.policies.CloseReason;
import io.postern.policies.Command;
import io.postern.policies.CommandCompletion;
import io.postern.policies.Decision;
import io.postern.policies.Response;
import io.postern.policies.SessionInfo;
import io.postern.policies.engine.Outcome;
import io.postern.policies.engine.PolicyChain;
import io.postern.policies.engine.PolicySet;
import io.postern.policies.engine.SessionThread;
import io.postern.proxy.metrics.ListenerMeters;
import io.postern.proxy.metrics.PosternMetrics;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where a session meets its policies: the chain chosen at login, asked about the login, each
 * command, the untagged responses it filters and the capabilities the client is shown. The
 * session calls it at a few points and it calls back through {@link Host}; a session without
 * policies pays one boolean check per command.
 *
 * <p>Threading: every method runs on the session's event loop; asynchronous verdicts are hopped
 * back onto it ({@link SessionThread} over the channel's {@link EventLoop}).
 */
final class PolicyGate {

    private static final Logger log = LoggerFactory.getLogger(PolicyGate.class);

    /** The most of an untagged response held to decide on it (a LIST line with a literal name). */
    static final int MAX_HELD_RESPONSE = 16 * 1024;

    /** What the gate needs of its session. */
    interface Host {
        /** Writes one of Postern's own lines (without CRLF) toward the client, after any half-written response. */
        void reply(String line);

        /** Sends an admitted command's first line to the backend and tracks its tag. */
        void forward(String tag, String name, ImapLine original, ByteBuf firstLine);

        /** Refuses the rest of a command already answered (its literal, its further lines). */
        void refuseRest(ImapLine line);

        /** Ends the session with {@code * BYE text}. */
        void bye(String text);

        /** A decision that kept the session waiting is carried out: flush, go on with held frames, read. */
        void resumed();

        /** Writes a backend response Postern held toward the client. */
        void writeResponse(ByteBuf content);

        /**
         * Answers the client's synchronizing literal with {@code +} in Postern's name, so the
         * rest of a command can be gathered before it is decided.
         */
        void acceptLiteral();

        /** A policy refused a command or ended the session: noted for the status page's recent refusals. */
        void denied(String policy, String decision);
    }

    /**
     * Commands whose arguments (mailbox names, capability names) Postern gathers, literals
     * included, up to {@link #MAX_GATHERED} bytes, before the policies decide: a name sent as a
     * literal is then checked like a quoted one.
     */
    private static final java.util.Set<String> GATHERED = java.util.Set.of(
            "SELECT", "EXAMINE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "STATUS", "APPEND",
            "COPY", "MOVE", "UID COPY", "UID MOVE", "LIST", "LSUB", "GETACL", "SETACL", "DELETEACL", "LISTRIGHTS",
            "MYRIGHTS", "GETQUOTAROOT", "GETMETADATA", "SETMETADATA", "ENABLE");

    /** The most of one command gathered for the policies (its lines and small literals). */
    static final int MAX_GATHERED = 8 * 1024;

    private final PolicyRegistry registry;
    private final Host host;
    private final String sessionId;
    private final String listener;
    private final SessionThread thread;
    private final PosternMetrics metrics;
    private final ListenerMeters meters;

    /** The logged-in session's policies; empty before login. */
    private PolicyChain chain = PolicyChain.EMPTY;
    private SessionInfo session;
    /** The login walk was started for {@link #session}, so close listeners are owed a call. */
    private boolean closeOwed;
    /** A command (or login) waits for an asynchronous verdict or a delay. */
    private boolean pending;
    /** Inside {@link #command}'s call of the chain: an outcome now is a synchronous one. */
    private boolean deciding;
    private boolean decidedNow;

    // the client connection, for SessionInfo
    private java.time.Instant connectedAt;
    private String tlsProtocol;
    private String tlsCipher;

    /** Whether the backend takes non-synchronizing literals (LITERAL+, or LITERAL- up to 4096 bytes). */
    private boolean backendLiteralPlus;
    private boolean backendLiteralMinus;

    // a command being gathered: its head, its bytes so far, its latest line (kept for refuseRest)
    private CommandHead gatherHead;
    private io.netty.buffer.ByteBuf gathered;
    private ImapLine gatherLine;
    /** The literal being gathered is one Postern said {@code +} to: its marker goes on as {@code {n+}}. */
    private boolean gatheringLiteral;

    // an untagged response held until its last line
    private final List<ImapFrame> heldResponse = new ArrayList<>();
    private int heldBytes;
    private ResponseHead heldHead;
    private boolean discardingResponse;

    PolicyGate(PolicyRegistry registry, Host host, String sessionId, String listener, EventLoop loop,
            PosternMetrics metrics, ListenerMeters meters) {
        this.metrics = metrics;
        this.meters = meters;
        this.registry = registry;
        this.host = host;
        this.sessionId = sessionId;
        this.listener = listener;
        this.thread = new SessionThread() {
            @Override
            public void execute(Runnable task) {
                if (loop.inEventLoop()) {
                    task.run();
                } else {
                    loop.execute(task);
                }
            }

            @Override
            public Cancellable schedule(Runnable task, Duration delay) {
                var f = loop.schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
                return () -> f.cancel(false);
            }
        };
    }

    /** When the client connected, and its TLS protocol and cipher ({@code null} without TLS), for the policies. */
    void connection(java.time.Instant at, String protocol, String cipher) {
        connectedAt = at;
        tlsProtocol = protocol;
        tlsCipher = cipher;
    }

    /** Whether a decision is awaited: nothing more of the client's is handled meanwhile. */
    boolean pending() {
        return pending;
    }

    // ---------------------------------------------------------------- capabilities

    /**
     * The greeting's and pre-login CAPABILITY's list: Postern's own, through the capability
     * policies whose entries can be matched before login (listener and client address only).
     * Policies may take away; what they add is kept only if it needs no login machinery
     * Postern lacks.
     */
    List<String> preLoginCapabilities(List<String> own, InetAddress client, boolean tls) {
        PolicySet set = registry.current();
        if (set.isEmpty()) {
            return own;
        }
        PolicyChain c = set.connectionChain(SessionInfo.connection(sessionId, listener, client, tls));
        if (!c.rewritesCapabilities()) {
            return own;
        }
        return c.capabilities(SessionInfo.connection(sessionId, listener, client, tls), own).stream()
                .filter(cap -> own.stream().anyMatch(cap::equalsIgnoreCase) || Capabilities.relayable(cap))
                .toList();
    }

    /**
     * The logged-in client's list: {@code shown} (the backend's, already filtered, plus what
     * Postern offers itself) through the chain; of what the policies add, only what Postern can
     * relay is kept.
     */
    List<String> capabilities(List<String> shown) {
        if (!chain.rewritesCapabilities()) {
            return shown;
        }
        List<String> rewritten = chain.capabilities(session, shown).stream()
                .filter(c -> Capabilities.relayable(c) || Capabilities.has(shown, c))
                .toList();
        return Capabilities.relayable(rewritten).size() > rewritten.size()
                ? Capabilities.relayable(rewritten) // IMAP4rev1 was taken away: it is put back
                : rewritten;
    }

    /** Whether the session's policies take {@code capability} away from what it is shown. */
    boolean removes(String capability) {
        return chain.rewritesCapabilities() && !Capabilities.has(chain.capabilities(session, List.of(capability)), capability);
    }

    // ---------------------------------------------------------------- login

    /**
     * Chooses the user's chain and asks its login policies. {@code admitted} or {@code refused}
     * runs on the event loop, maybe at once.
     */
    void login(String user, String mechanism, String backend, InetAddress client, boolean tls,
            List<String> backendCapabilities, Runnable admitted, Consumer<Outcome> refused) {
        backendLiteralPlus = Capabilities.has(backendCapabilities, "LITERAL+");
        backendLiteralMinus = Capabilities.has(backendCapabilities, "LITERAL-");
        PolicySet set = registry.current();
        session = new SessionInfo(sessionId, user, set.groupsOf(user), listener, client, tls, mechanism, backend, connectedAt,
                tlsProtocol, tlsCipher);
        chain = set.chainFor(session);
        if (!chain.isEmpty()) {
            log.debug("[{}] policies for {}: {}", sessionId, user, chain.names());
        }
        if (!chain.hasLoginPolicies()) {
            closeOwed = !chain.isEmpty();
            admitted.run();
            return;
        }
        closeOwed = true;
        pending = true;
        chain.login(session, thread, outcome -> {
            pending = false;
            verdict(outcome, PosternMetrics.PolicyStage.LOGIN);
            if (outcome.decision().kind() == Decision.Kind.PROCEED) {
                admitted.run();
            } else {
                report(outcome);
                refused.accept(outcome);
            }
        });
    }

    /**
     * A login failed (backend refusal, backend unavailable, a login policy's refusal): the
     * listeners of the chain that user name would select are told. {@code answer} is what the
     * client was told.
     */
    void loginFailed(String user, String mechanism, String backend, InetAddress client, boolean tls, String answer) {
        PolicySet set = registry.current();
        if (set.isEmpty() || user == null) {
            return;
        }
        SessionInfo attempt = new SessionInfo(sessionId, user, set.groupsOf(user), listener, client, tls, mechanism, backend,
                connectedAt, tlsProtocol, tlsCipher);
        PolicyChain c = set.chainFor(attempt);
        if (c.hasLoginFailureListeners()) {
            try {
                c.loginFailed(attempt, answer);
            } catch (RuntimeException e) {
                log.warn("[{}] a policy's login failure listener failed: {}", sessionId, e.toString());
            }
        }
    }

    /** A login the policies refused is over: the chain is forgotten, its close listeners told. */
    void loginAbandoned() {
        closed(CloseReason.POSTERN);
        chain = PolicyChain.EMPTY;
        session = null;
    }

    // ---------------------------------------------------------------- commands

    /** Whether some policy of the session inspects message content. */
    boolean inspectsContent() {
        return chain.hasContentPolicies();
    }

    /** The inspectors for one message passing in {@code direction}; empty when no policy wants it. */
    List<io.postern.policies.ContentInspector> inspectors(io.postern.policies.ContentDirection direction) {
        return chain.inspectors(session, direction);
    }

    /** A download verdict remembered by the session's chain, or {@code null} (see {@link PolicyChain#knownDownload}). */
    PolicyChain.KnownDownload knownDownload(Object key) {
        return chain.knownDownload(key);
    }

    void rememberDownload(Object key, io.postern.policies.ContentVerdict verdict, long size) {
        chain.rememberDownload(key, verdict, size);
    }

    /** The backend takes {@code {n+}} literals (LITERAL+, or LITERAL- up to 4096 bytes). */
    boolean backendLiteralPlus() {
        return backendLiteralPlus;
    }

    boolean backendLiteralMinus() {
        return backendLiteralMinus;
    }

    /** Whether commands go through {@link #command}. */
    boolean inspectsCommands() {
        return chain.hasCommandPolicies();
    }

    /**
     * Asks the chain about a command whose first line is {@code line}; then forwards it (maybe
     * rewritten), answers it, or ends the session, through the host. Takes ownership of {@code line}.
     */
    void command(CommandHead head, ImapLine line) {
        if (!line.last() && GATHERED.contains(head.name())) {
            gatherHead = head;
            gathered = line.content().alloc().heapBuffer(Math.min(MAX_GATHERED, line.content().readableBytes() * 2));
            gathered.writeBytes(line.content(), line.content().readerIndex(), head.argumentsIndex() - line.content().readerIndex());
            gatherFrom(line, head.argumentsIndex());
            return;
        }
        ByteBuf c = line.content();
        byte[] wire = ByteBufUtil.getBytes(c);
        decide(head, line, new Command(head.tag(), head.name(), wire, head.argumentsIndex() - c.readerIndex(),
                line.last(), !line.last()));
    }

    /**
     * Forgets the command being gathered (the client's input broke off: a literal over the
     * limit, a line too long) and returns its tag, or {@code null} when none was being gathered.
     */
    String abandonGathering() {
        if (gatherHead == null) {
            return null;
        }
        String tag = gatherHead.tag();
        gathered.release();
        gathered = null;
        gatherLine.release();
        gatherLine = null;
        gatherHead = null;
        return tag;
    }

    /** Whether the frames of the command being gathered go to {@link #gather}. */
    boolean gathering() {
        return gatherHead != null;
    }

    /** A frame of the command being gathered: a literal's data, or the line after it. */
    void gather(ImapFrame frame) {
        if (frame instanceof LiteralChunk chunk) {
            gathered.writeBytes(chunk.content());
            chunk.release();
            return;
        }
        ImapLine line = (ImapLine) frame;
        ImapLine previous = gatherLine;
        gatherLine = null;
        previous.release();
        gatherFrom(line, line.content().readerIndex());
    }

    /**
     * Adds {@code line} from {@code from} on. Its literal is gathered too if it fits (Postern
     * says {@code +} for a synchronizing one and the backend gets it as non-synchronizing);
     * otherwise, or at the command's end, the policies decide on what was gathered.
     */
    private void gatherFrom(ImapLine line, int from) {
        ByteBuf c = line.content();
        gatherLine = line;
        io.postern.imap.codec.LiteralAnnouncement literal = line.literal();
        int room = MAX_GATHERED - gathered.readableBytes() - (c.writerIndex() - from) - 2;
        boolean canSay = literal == null || literal.nonSynchronizing()
                || (!literal.binary() && (backendLiteralPlus || (backendLiteralMinus && literal.size() <= 4096)));
        // an upload's message literals are the content policies' business: the gathering stops before them
        boolean message = literal != null && chain.hasContentPolicies() && ScannedUpload.COMMANDS.contains(gatherHead.name())
                && !(line.first() && from == gatherHead.argumentsIndex()
                        && ScannedUpload.mailboxLiteral(gatherHead.name(), c, from));
        if (literal != null && literal.size() <= room && canSay && !message) {
            int end = CommandHead.textEnd(c);
            if (literal.synchronizing()) {
                // A1 SELECT {10}\r\n  ->  A1 SELECT {10+}\r\n, the + being Postern's own
                gathered.writeBytes(c, from, end - 1 - from).writeByte('+').writeByte('}');
                gathered.writeBytes(c, end, c.writerIndex() - end);
                host.acceptLiteral();
            } else {
                gathered.writeBytes(c, from, c.writerIndex() - from);
            }
            return; // the literal and the next line come to gather()
        }
        gathered.writeBytes(c, from, c.writerIndex() - from);
        CommandHead head = gatherHead;
        byte[] wire = ByteBufUtil.getBytes(gathered);
        int args = argumentsOffset(head, wire);
        gathered.release();
        gathered = null;
        gatherHead = null;
        gatherLine = null;
        // what goes to the backend is the gathered bytes; the line stays for refuseRest or the rest of the command
        decide(head, line, new Command(head.tag(), head.name(), wire, args, line.last(), true), wire);
    }

    private static int argumentsOffset(CommandHead head, byte[] wire) {
        int i = head.tag().length() + 1 + head.name().length();
        return i < wire.length && wire[i] == ' ' ? i + 1 : i;
    }

    private void decide(CommandHead head, ImapLine line, Command command) {
        decide(head, line, command, null);
    }

    /**
     * Asks the chain; {@code gatheredWire} is the whole gathered command (sent instead of
     * {@code line} when it goes on), or {@code null} for a command of one line.
     */
    private void decide(CommandHead head, ImapLine line, Command command, byte[] gatheredWire) {
        long start = System.nanoTime();
        deciding = true;
        decidedNow = false;
        chain.command(session, command, thread, outcome -> {
            if (deciding) {
                decidedNow = true;
                carryOut(outcome, head, line, start, gatheredWire);
            } else {
                pending = false;
                carryOut(outcome, head, line, start, gatheredWire);
                host.resumed();
            }
        });
        deciding = false;
        if (!decidedNow) {
            pending = true; // an asynchronous verdict or a delay: the session waits for it
        }
    }

    private void carryOut(Outcome o, CommandHead head, ImapLine line, long start, byte[] gatheredWire) {
        verdict(o, PosternMetrics.PolicyStage.COMMAND);
        Decision d = o.decision();
        switch (d.kind()) {
            case PROCEED -> {
                Command c = o.command();
                ByteBuf first = line.content();
                if (gatheredWire != null) {
                    byte[] w = c.wire();
                    first = line.content().alloc().buffer(w.length).writeBytes(w);
                } else if (!c.name().equals(head.name())
                        || (c.complete() && !c.argumentText().equals(argumentText(head, line)))) {
                    byte[] w = c.wire();
                    first = line.content().alloc().buffer(w.length).writeBytes(w);
                    log.debug("[{}] {} {} goes on as {}", sessionId, head.tag(), head.name(), c.name());
                }
                host.forward(head.tag(), c.name(), line, first);
            }
            case REJECT, ANSWER -> {
                report(o);
                if (d.kind() == Decision.Kind.REJECT) {
                    host.denied(o.policy(), head.name() + ": " + d);
                }
                for (String untagged : d.untagged()) {
                    host.reply("* " + untagged);
                }
                String status = d.kind() == Decision.Kind.ANSWER ? "OK" : d.status().name();
                host.reply(head.tag() + " " + status + " " + d.answerText());
                host.refuseRest(line);
                long took = System.nanoTime() - start;
                meters.commandCompleted(head.name(), status, took, -1);
                completed(head.tag(), head.name(), status, d.code(), null, took, true, o.policy());
            }
            case DISCONNECT -> {
                report(o);
                host.denied(o.policy(), head.name() + ": BYE " + d.text());
                ReferenceCountUtil.release(line);
                host.bye(d.text());
            }
            default -> throw new IllegalStateException("outcome " + d);
        }
    }

    private static String argumentText(CommandHead head, ImapLine line) {
        ByteBuf c = line.content();
        int end = CommandHead.textEnd(c);
        return head.argumentsIndex() >= end ? "" : c.toString(head.argumentsIndex(), end - head.argumentsIndex(),
                java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Counts an outcome in {@code postern.policy.verdicts}. */
    private void verdict(Outcome o, PosternMetrics.PolicyStage stage) {
        PosternMetrics.Verdict v = o.error() != null ? PosternMetrics.Verdict.ERROR : switch (o.decision().kind()) {
            case PROCEED -> PosternMetrics.Verdict.ALLOW;
            case ANSWER -> PosternMetrics.Verdict.ANSWER;
            case DISCONNECT -> PosternMetrics.Verdict.DISCONNECT;
            default -> PosternMetrics.Verdict.REJECT;
        };
        metrics.policyVerdict(o.policy() == null ? PosternMetrics.WHOLE_CHAIN : o.policy(), stage, v);
    }

    private void report(Outcome o) {
        if (o.error() != null) {
            log.warn("[{}] policy {} failed: {}", sessionId, o.policy(), o.error().toString());
        } else {
            log.debug("[{}] policy {}: {}", sessionId, o.policy(), o.decision());
        }
    }

    /** A command's tagged completion; {@code codeText} is the whole response code, {@code policy} the one that answered. */
    void completed(String tag, String name, String status, String code, String codeText, long nanos, boolean byPostern,
            String policy) {
        completed(tag, name, status, code, codeText, nanos, byPostern, policy, null);
    }

    /** As above, with the UIDs flagged deleted before an EXPUNGE or CLOSE ({@code null} when not asked). */
    void completed(String tag, String name, String status, String code, String codeText, long nanos, boolean byPostern,
            String policy, List<String> deletedUids) {
        if (chain.hasCompletionListeners()) {
            chain.completed(session, new CommandCompletion(tag, name, status, code, Duration.ofNanos(nanos), byPostern,
                    codeText, policy, deletedUids));
        }
    }

    /** Whether the session's policies want the UIDs an EXPUNGE or CLOSE removes. */
    boolean wantsDeletedUids() {
        return chain.wantsDeletedUids();
    }

    /** The longest part of an untagged response's first line handed to untagged listeners. */
    private static final int MAX_UNTAGGED_DATA = 256;

    /** An untagged response passing to the client: its listeners are told (never its literal data). */
    void untagged(ResponseHead head, ByteBuf line) {
        if (!head.isUntagged() || !chain.wantsUntagged(head.keyword())) {
            return;
        }
        int end = CommandHead.textEnd(line);
        int from = Math.min(head.dataIndex(), end);
        String data = line.toString(from, Math.min(end - from, MAX_UNTAGGED_DATA), java.nio.charset.StandardCharsets.UTF_8);
        chain.untagged(session, head.keyword(), head.number(), data);
    }

    void traffic(boolean fromClient, long bytes) {
        if (chain.hasTrafficListeners()) {
            chain.traffic(session, fromClient, bytes);
        }
    }

    // ---------------------------------------------------------------- responses

    /** Whether the untagged response that starts with {@code head} goes through {@link #takeResponse}. */
    boolean filters(ResponseHead head) {
        return head.isUntagged() && !head.status() && chain.wantsResponse(head.keyword());
    }

    /** Whether an untagged response is being held or discarded: its next frames go to {@link #takeResponse}. */
    boolean holdingResponse() {
        return heldHead != null || discardingResponse;
    }

    /**
     * Takes a frame of a filtered response (its first line, after {@link #filters}, or a later
     * frame while {@link #holdingResponse}). When its last line is in, the response is decided:
     * written to the client through the host, or released.
     */
    void takeResponse(ImapFrame frame, ResponseHead head) {
        if (head != null) {
            heldHead = head;
        }
        if (discardingResponse) {
            discardingResponse = !(frame instanceof ImapLine l && l.last());
            ReferenceCountUtil.release(frame);
            return;
        }
        ByteBuf content = ((io.netty.buffer.ByteBufHolder) frame).content();
        heldBytes += content.readableBytes();
        heldResponse.add(frame);
        boolean last = frame instanceof ImapLine l && l.last();
        if (heldBytes > MAX_HELD_RESPONSE) {
            log.debug("[{}] an untagged {} over {} bytes is not passed on", sessionId, heldHead.keyword(), MAX_HELD_RESPONSE);
            releaseHeldResponse();
            discardingResponse = !last;
            return;
        }
        if (!last) {
            return;
        }
        byte[] wire = new byte[heldBytes];
        int at = 0;
        int dataIndex = -1;
        for (ImapFrame f : heldResponse) {
            ByteBuf b = ((io.netty.buffer.ByteBufHolder) f).content();
            if (dataIndex < 0) {
                dataIndex = heldHead.dataIndex() - b.readerIndex();
            }
            b.getBytes(b.readerIndex(), wire, at, b.readableBytes());
            at += b.readableBytes();
        }
        Response r = new Response(heldHead.keyword(), heldHead.number(), wire, dataIndex, true);
        Decision d = chain.response(session, r, (policy, e) -> log.warn("[{}] policy {} failed on a response: {}",
                sessionId, policy, e.toString()));
        if (d.kind() == Decision.Kind.DROP) {
            log.debug("[{}] untagged {} dropped by policy", sessionId, heldHead.keyword());
            releaseHeldResponse();
        } else {
            for (ImapFrame f : heldResponse) {
                host.writeResponse(((io.netty.buffer.ByteBufHolder) f).content());
            }
            heldResponse.clear();
            heldBytes = 0;
            heldHead = null;
        }
    }

    private void releaseHeldResponse() {
        heldResponse.forEach(ReferenceCountUtil::release);
        heldResponse.clear();
        heldBytes = 0;
        heldHead = null;
    }

    // ---------------------------------------------------------------- close

    /** The session ended (or its login was refused): close listeners are told, once. */
    void closed(CloseReason reason) {
        releaseHeldResponse();
        if (gathered != null) {
            gathered.release();
            gathered = null;
        }
        if (gatherLine != null) {
            gatherLine.release();
            gatherLine = null;
        }
        gatherHead = null;
        discardingResponse = false;
        pending = false;
        if (closeOwed) {
            closeOwed = false;
            try {
                chain.closed(session, reason);
            } catch (RuntimeException e) {
                log.warn("[{}] a policy's close listener failed: {}", sessionId, e.toString());
            }
        }
    }
}
