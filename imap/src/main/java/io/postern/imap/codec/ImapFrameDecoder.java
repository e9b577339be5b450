package io.postern.imap.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.ByteProcessor;
import io.postern.imap.parse.ImapChars;
import java.util.List;

/**
 * Splits an IMAP byte stream into {@link ImapLine}s and {@link LiteralChunk}s, in either
 * direction. Literal data is never scanned, copied or held whole: it leaves as retained slices
 * of at most {@link ImapDecoderConfig#maxChunkSize()} bytes, the last one marked.
 *
 * <p>A line runs to LF (normally CRLF). When it ends in {@code {n}}, {@code {n+}}, {@code ~{n}}
 * or {@code ~{n+}}, exactly {@code n} bytes of literal follow and then the same command or
 * response continues with another line. On the response side a literal is recognised only where
 * one can occur: not in a tagged reply, a {@code +} continuation, or an untagged
 * {@code OK/NO/BAD/BYE/PREAUTH}, whose free text may well end in {@code {5}}.
 *
 * <p>On the command side a synchronizing literal ({@code {n}}) needs the other direction: the
 * client sends the data only after a {@code +} continuation, and a server may refuse it with a
 * tagged reply instead, after which the next bytes are a new command. After such a line the
 * decoder holds its state and reads nothing more until the session calls
 * {@link #literalAccepted()} or {@link #literalRefused()}.
 *
 * <p>Limits are in {@link ImapDecoderConfig}; what exceeds them is answered with an
 * {@link ImapDecoderError} frame and never buffered. Like every handler, an instance belongs to
 * one channel and is used on its event loop only.
 */
public final class ImapFrameDecoder extends ByteToMessageDecoder {

    private enum State {
        LINE,
        LITERAL,
        AWAIT_LITERAL_DECISION,
        DISCARD
    }

    private final Direction direction;
    private final ImapDecoderConfig config;
    private final boolean awaitSynchronizingLiterals;

    private State state = State.LINE;
    private boolean authenticated;
    /** The next line starts a new command or response. */
    private boolean first = true;
    /** Bytes of the current line already searched for LF: never scan a byte twice. */
    private int scanned;
    private long literalRemaining;
    private int literalsInCommand;
    private LiteralAnnouncement pendingLiteral;
    /** A {@code {0}} literal ended: its empty last chunk goes out just before the next line. */
    private boolean emptyChunkPending;

    private ChannelHandlerContext ctx;
    private boolean inCallDecode;

    /**
     * A decoder that waits for {@link #literalAccepted()} or {@link #literalRefused()} after
     * each synchronizing literal it sees in the command direction.
     */
    public ImapFrameDecoder(Direction direction, ImapDecoderConfig config) {
        this(direction, config, direction == Direction.COMMAND);
    }

    /**
     * @param awaitSynchronizingLiterals whether a synchronizing literal in the command direction
     *     waits for the session's decision; {@code false} frames a recorded stream in which every
     *     literal was accepted
     */
    public ImapFrameDecoder(Direction direction, ImapDecoderConfig config, boolean awaitSynchronizingLiterals) {
        this.direction = direction;
        this.config = config;
        this.awaitSynchronizingLiterals = awaitSynchronizingLiterals && direction == Direction.COMMAND;
    }

    public Direction direction() {
        return direction;
    }

    public ImapDecoderConfig config() {
        return config;
    }

    /** Switches between the literal limits before and after authentication. */
    public void setAuthenticated(boolean authenticated) {
        this.authenticated = authenticated;
    }

    /** {@code true} while a synchronizing literal waits for the session's decision. */
    public boolean awaitingLiteralDecision() {
        return state == State.AWAIT_LITERAL_DECISION;
    }

    /** The literal that waits for a decision, or {@code null}. */
    public LiteralAnnouncement pendingLiteral() {
        return state == State.AWAIT_LITERAL_DECISION ? pendingLiteral : null;
    }

    /** A {@code +} went to the client: the announced literal data comes next. */
    public void literalAccepted() {
        checkAwaiting();
        literalRemaining = pendingLiteral.size();
        pendingLiteral = null;
        state = State.LITERAL;
        resume();
    }

    /**
     * A tagged reply went to the client instead of a {@code +}: the client does not send the
     * literal, and its next bytes start a new command.
     */
    public void literalRefused() {
        checkAwaiting();
        pendingLiteral = null;
        endCommand();
        state = State.LINE;
        resume();
    }

    /**
     * Drops every byte read but not yet framed, and starts over with a new command. For
     * STARTTLS: whatever a client pipelined behind the command, before the TLS handshake, must
     * not be taken as a command (the injection that RFC 9051 section 11.1 warns about). The
     * decoder frames no command past the end of the one being handled, so nothing of what
     * follows STARTTLS has been passed on.
     */
    public void discardBufferedInput() {
        ByteBuf buffered = internalBuffer();
        buffered.skipBytes(buffered.readableBytes());
        scanned = 0;
        pendingLiteral = null;
        literalRemaining = 0;
        emptyChunkPending = false;
        endCommand();
        state = State.LINE;
    }

    /**
     * Hands over every byte read but not yet framed, and starts over with a new command. For
     * COMPRESS: bytes behind the command are compressed and must go through the inflater first.
     *
     * @return the bytes, for the caller to release; empty when there were none
     */
    public ByteBuf takeBufferedInput() {
        ByteBuf buffered = internalBuffer();
        ByteBuf taken = buffered.readRetainedSlice(buffered.readableBytes());
        discardBufferedInput();
        return taken;
    }

    /** {@code true} when the input stopped inside a line, a literal or an unfinished command. */
    public boolean midFrame() {
        return state == State.LITERAL
                || state == State.AWAIT_LITERAL_DECISION
                || !first
                || (state == State.LINE && actualReadableBytes() > 0);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
        this.ctx = ctx;
        super.handlerAdded(ctx);
    }

    @Override
    protected void callDecode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        inCallDecode = true;
        try {
            super.callDecode(ctx, in, out);
        } finally {
            inCallDecode = false;
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
        if (state == State.AWAIT_LITERAL_DECISION) {
            // Read nothing more until the session decides; ByteToMessageDecoder would ask for
            // the next read because no frame came out of this one.
            ctx.fireChannelReadComplete();
            return;
        }
        super.channelReadComplete(ctx);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        for (;;) {
            switch (state) {
                case LINE:
                    if (!decodeLine(in, out)) {
                        return;
                    }
                    break;
                case LITERAL:
                    if (!decodeLiteral(in, out)) {
                        return;
                    }
                    break;
                case AWAIT_LITERAL_DECISION:
                    return;
                case DISCARD:
                    in.skipBytes(in.readableBytes());
                    return;
                default:
                    throw new IllegalStateException("unknown state: " + state);
            }
        }
    }

    @Override
    protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
        // Even with nothing left to read: a {0} literal accepted just before the end has yet to end.
        // decode() stops after each command: go on while it makes progress.
        int readable;
        do {
            readable = in.readableBytes();
            decode(ctx, in, out);
        } while (in.isReadable() && in.readableBytes() < readable);
        if (emptyChunkPending && state == State.LINE) {
            emptyChunkPending = false;
            out.add(new LiteralChunk(Unpooled.EMPTY_BUFFER, true));
        }
        if (state != State.DISCARD && midFrame()) {
            out.add(new ImapDecoderError(ImapDecoderError.Kind.TRUNCATED, null, first, null, false));
            in.skipBytes(in.readableBytes());
            state = State.DISCARD;
        }
    }

    private boolean decodeLine(ByteBuf in, List<Object> out) {
        int start = in.readerIndex();
        int readable = in.readableBytes();
        int max = config.maxLineLength();
        int searchable = Math.min(readable, max);
        int lf = -1;
        if (searchable > scanned) {
            lf = in.forEachByte(start + scanned, searchable - scanned, ByteProcessor.FIND_LF);
        }
        if (lf < 0) {
            if (readable >= max) {
                fail(in, out, ImapDecoderError.Kind.LINE_TOO_LONG, null);
            } else {
                scanned = searchable;
            }
            return false;
        }
        scanned = 0;
        boolean wasFirst = first;
        LiteralAnnouncement literal = literalAllowed(in, start, lf, wasFirst) ? literal(in, start, lf) : null;
        if (literal != null) {
            if (++literalsInCommand > config.maxLiteralsPerCommand()) {
                fail(in, out, ImapDecoderError.Kind.TOO_MANY_LITERALS, null);
                return false;
            }
            if (literal.size() > config.maxLiteralSize(authenticated) || literal.size() == Long.MAX_VALUE) {
                if (direction == Direction.COMMAND && literal.synchronizing() && wasFirst) {
                    // The client waits for a '+' that will not come: drop the line, go on.
                    // (A backend sends literal data without waiting: nothing to go on with there.)
                    out.add(new ImapDecoderError(ImapDecoderError.Kind.LITERAL_TOO_LARGE,
                            ImapChars.tag(in, start, lf), true, literal, true));
                    in.skipBytes(lf - start + 1);
                    endCommand();
                    return true;
                }
                fail(in, out, ImapDecoderError.Kind.LITERAL_TOO_LARGE, literal);
                return false;
            }
        }
        if (emptyChunkPending) {
            emptyChunkPending = false;
            out.add(new LiteralChunk(Unpooled.EMPTY_BUFFER, true));
        }
        out.add(new ImapLine(in.readRetainedSlice(lf - start + 1), wasFirst, literal));
        if (literal == null) {
            // The end of a command (or response): this decode() call stops here, so that the
            // session handles it before the next one is framed. After COMPRESS or STARTTLS the
            // bytes behind it are compressed or belong to the handshake: framed as plain text in
            // the same call, they would reach the session as commands.
            endCommand();
            return false;
        }
        first = false;
        if (awaitSynchronizingLiterals && literal.synchronizing()) {
            pendingLiteral = literal;
            state = State.AWAIT_LITERAL_DECISION;
            return false;
        }
        literalRemaining = literal.size();
        state = State.LITERAL;
        return true;
    }

    private boolean decodeLiteral(ByteBuf in, List<Object> out) {
        if (literalRemaining == 0) {
            emptyChunkPending = true;
            state = State.LINE;
            return true;
        }
        int n = (int) Math.min(Math.min(literalRemaining, in.readableBytes()), config.maxChunkSize());
        if (n == 0) {
            return false;
        }
        literalRemaining -= n;
        boolean last = literalRemaining == 0;
        out.add(new LiteralChunk(in.readRetainedSlice(n), last));
        if (last) {
            state = State.LINE;
        }
        return true;
    }

    /** Whether a literal can end this line: see the class comment. */
    private boolean literalAllowed(ByteBuf in, int start, int lf, boolean wasFirst) {
        if (direction == Direction.COMMAND || !wasFirst) {
            return true;
        }
        if (lf - start < 2 || in.getByte(start) != '*' || in.getByte(start + 1) != ' ') {
            return false; // tagged reply or '+' continuation: text only
        }
        return !ImapChars.startsWithStatus(in, start + 2, lf);
    }

    /** Parses {@code {n}}, {@code {n+}}, {@code ~{n}} or {@code ~{n+}} just before the line ending. */
    static LiteralAnnouncement literal(ByteBuf in, int start, int lf) {
        int i = lf - 1;
        if (i >= start && in.getByte(i) == '\r') {
            i--;
        }
        if (i < start || in.getByte(i) != '}') {
            return null;
        }
        i--;
        boolean nonSync = false;
        if (i >= start && in.getByte(i) == '+') {
            nonSync = true;
            i--;
        }
        int digitsEnd = i;
        while (i >= start && ImapChars.isDigit(in.getByte(i))) {
            i--;
        }
        if (i == digitsEnd || i < start || in.getByte(i) != '{') {
            return null;
        }
        long size = 0;
        for (int d = i + 1; d <= digitsEnd; d++) {
            int digit = in.getByte(d) - '0';
            if (size > (Long.MAX_VALUE - digit) / 10) {
                size = Long.MAX_VALUE;
                break;
            }
            size = size * 10 + digit;
        }
        boolean binary = i - 1 >= start && in.getByte(i - 1) == '~';
        return new LiteralAnnouncement(size, nonSync, binary);
    }

    /** Answers with an error frame and discards the rest of the stream. */
    private void fail(ByteBuf in, List<Object> out, ImapDecoderError.Kind kind, LiteralAnnouncement literal) {
        String tag = null;
        if (first) {
            // Only within maxLineLength: bytes beyond it are there or not depending on how the reads came.
            int window = Math.min(config.maxLineLength(), ImapChars.MAX_TAG_LENGTH + 1);
            int end = in.readerIndex() + Math.min(in.readableBytes(), window);
            tag = ImapChars.tag(in, in.readerIndex(), end);
        }
        if (emptyChunkPending) {
            // The zero-length literal before the refused line is complete: it ends as every literal does.
            emptyChunkPending = false;
            out.add(new LiteralChunk(Unpooled.EMPTY_BUFFER, true));
        }
        out.add(new ImapDecoderError(kind, tag, first, literal, false));
        in.skipBytes(in.readableBytes());
        state = State.DISCARD;
    }

    private void endCommand() {
        first = true;
        literalsInCommand = 0;
    }

    private void checkAwaiting() {
        if (state != State.AWAIT_LITERAL_DECISION) {
            throw new IllegalStateException("no synchronizing literal is waiting (state: " + state + ")");
        }
    }

    /** Frames what was read while the decoder waited, on the channel's event loop. */
    private void resume() {
        if (inCallDecode || ctx == null) {
            return; // the running decode loop picks up the new state
        }
        ctx.executor().execute(() -> {
            if (!ctx.isRemoved() && actualReadableBytes() > 0 && !inCallDecode) {
                try {
                    channelRead(ctx, Unpooled.EMPTY_BUFFER);
                    channelReadComplete(ctx);
                } catch (Exception e) {
                    ctx.fireExceptionCaught(e);
                }
            }
        });
    }
}
