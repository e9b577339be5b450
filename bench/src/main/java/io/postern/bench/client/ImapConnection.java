package io.postern.bench.client;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * One IMAP client connection, driven from its channel's event loop: commands go out with a tag
 * of their own and come back as a future of the tagged response, completed on the event loop
 * (callbacks chained without {@code *Async} stay there). Untagged responses go to the
 * {@linkplain #onUntagged listener}; literal bytes are counted and checksummed by the
 * {@link ResponseParser}.
 *
 * <p>Methods may be called from any thread; off the event loop they hop onto it.
 */
public final class ImapConnection extends ChannelInboundHandlerAdapter {

    private final ResponseParser parser = new ResponseParser(this::onResponse);
    private final CompletableFuture<Response> greeting = new CompletableFuture<>();
    private final Map<String, CompletableFuture<Response>> pending = new HashMap<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private Channel channel;
    private long nextTag;
    /** The command whose {@code +} continuation is awaited, and what to do on it. */
    private String continuationTag;
    private Consumer<Response> continuationAction;
    private Consumer<Response> untaggedListener;
    private long untaggedCount;
    private long fetchCount;

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        channel = ctx.channel();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf in = (ByteBuf) msg;
        ByteBuf rest = null;
        try {
            parser.feed(in);
            if (in.isReadable()) {
                rest = in.retainedSlice(); // after a COMPRESS OK: compressed bytes that came with it
            }
        } finally {
            in.release();
        }
        if (rest != null) {
            Deflate deflate = ctx.pipeline().get(Deflate.class);
            if (deflate == null) {
                rest.release();
                throw new IllegalStateException("the parser stopped with no inflater to go on");
            }
            deflate.inflateLeftover(rest);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        failAll(new ClosedChannelException());
        closed.complete(null);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        failAll(cause);
        ctx.close();
    }

    private void failAll(Throwable cause) {
        greeting.completeExceptionally(cause);
        List<CompletableFuture<Response>> waiting = new ArrayList<>(pending.values());
        pending.clear();
        continuationTag = null;
        continuationAction = null;
        for (CompletableFuture<Response> future : waiting) {
            future.completeExceptionally(cause);
        }
    }

    private void onResponse(Response response) {
        switch (response.kind()) {
            case TAGGED: {
                if (response.tag().equals(continuationTag)) {
                    continuationTag = null;
                    continuationAction = null;
                }
                CompletableFuture<Response> future = pending.remove(response.tag());
                if (future == null) {
                    throw new IllegalStateException("tagged response for no command: " + response);
                }
                future.complete(response);
                break;
            }
            case CONTINUATION: {
                Consumer<Response> action = continuationAction;
                if (action == null) {
                    throw new IllegalStateException("continuation request nobody waits for: " + response);
                }
                action.accept(response);
                break;
            }
            default:
                if (!greeting.isDone()) {
                    greeting.complete(response);
                    return;
                }
                untaggedCount++;
                if (response.isFetch()) {
                    fetchCount++;
                }
                if (untaggedListener != null) {
                    untaggedListener.accept(response);
                }
        }
    }

    // ---------------------------------------------------------------- commands

    /** The server's greeting ({@code * OK ...}). */
    public CompletableFuture<Response> greeting() {
        return greeting;
    }

    /** Sends {@code TAG command CRLF} and flushes. */
    public CompletableFuture<Response> command(String command) {
        return command(command, true);
    }

    /**
     * Sends {@code TAG command CRLF}; without {@code flush} the bytes wait for {@link #flush()}
     * (pipelining: many commands, one write).
     */
    public CompletableFuture<Response> command(String command, boolean flush) {
        CompletableFuture<Response> future = new CompletableFuture<>();
        onLoop(() -> {
            String tag = newTag(future);
            if (tag == null) {
                return;
            }
            ByteBuf line = channel.alloc().buffer(tag.length() + command.length() + 3);
            ByteBufUtil.writeAscii(line, tag);
            line.writeByte(' ');
            ByteBufUtil.writeAscii(line, command);
            line.writeByte('\r').writeByte('\n');
            if (flush) {
                channel.writeAndFlush(line, channel.voidPromise());
            } else {
                channel.write(line, channel.voidPromise());
            }
        });
        return future;
    }

    public void flush() {
        onLoop(channel::flush);
    }

    /**
     * {@code APPEND mailbox {n}}: with {@code literalPlus} as {@code {n+}} and the message at once,
     * otherwise the message after the server's {@code +}. The buffer is not released: the caller
     * keeps it (each write sends a duplicate).
     */
    public CompletableFuture<Response> append(String mailbox, ByteBuf message, boolean literalPlus) {
        CompletableFuture<Response> future = new CompletableFuture<>();
        onLoop(() -> {
            String tag = newTag(future);
            if (tag == null) {
                return;
            }
            int size = message.readableBytes();
            String head = tag + " APPEND " + quoted(mailbox) + " {" + size + (literalPlus ? "+}\r\n" : "}\r\n");
            channel.write(ByteBufUtil.writeAscii(channel.alloc(), head), channel.voidPromise());
            if (literalPlus) {
                writeLiteral(message);
            } else {
                continuationTag = tag;
                continuationAction = r -> {
                    continuationTag = null;
                    continuationAction = null;
                    writeLiteral(message);
                };
                channel.flush();
            }
        });
        return future;
    }

    private void writeLiteral(ByteBuf message) {
        channel.write(message.retainedDuplicate(), channel.voidPromise());
        channel.writeAndFlush(ByteBufUtil.writeAscii(channel.alloc(), "\r\n"), channel.voidPromise());
    }

    /**
     * Starts {@code IDLE}. {@code idling} completes on the server's {@code +}; the returned future
     * is the tagged end, after {@link #done()}.
     */
    public CompletableFuture<Response> idle(CompletableFuture<Response> idling) {
        CompletableFuture<Response> future = new CompletableFuture<>();
        onLoop(() -> {
            String tag = newTag(future);
            if (tag == null) {
                idling.completeExceptionally(new ClosedChannelException());
                return;
            }
            continuationTag = tag;
            continuationAction = idling::complete;
            future.whenComplete((r, e) -> {
                if (!idling.isDone()) {
                    idling.completeExceptionally(e != null ? e : new IOException("IDLE refused: " + r));
                }
            });
            channel.writeAndFlush(ByteBufUtil.writeAscii(channel.alloc(), tag + " IDLE\r\n"), channel.voidPromise());
        });
        return future;
    }

    /** Ends IDLE. */
    public void done() {
        onLoop(() -> {
            continuationTag = null;
            continuationAction = null;
            channel.writeAndFlush(ByteBufUtil.writeAscii(channel.alloc(), "DONE\r\n"), channel.voidPromise());
        });
    }

    /** Listener for untagged responses after the greeting (on the event loop); {@code null} for none. */
    public void onUntagged(Consumer<Response> listener) {
        onLoop(() -> untaggedListener = listener);
    }

    /** {@code LOGOUT} (if still open), then close; completes when the channel is closed. */
    public CompletableFuture<Void> logout() {
        if (!channel.isActive()) {
            return closed;
        }
        command("LOGOUT").whenComplete((r, e) -> channel.close());
        return closed;
    }

    /** Closes at once. */
    public CompletableFuture<Void> close() {
        channel.close();
        return closed;
    }

    public CompletableFuture<Void> closeFuture() {
        return closed;
    }

    private String newTag(CompletableFuture<Response> future) {
        if (!channel.isActive()) {
            future.completeExceptionally(new ClosedChannelException());
            return null;
        }
        String tag = "b" + Long.toString(++nextTag, 36);
        pending.put(tag, future);
        return tag;
    }

    private void onLoop(Runnable task) {
        EventLoop loop = channel.eventLoop();
        if (loop.inEventLoop()) {
            task.run();
        } else {
            loop.execute(task);
        }
    }

    static String quoted(String text) {
        return '"' + text.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    // ---------------------------------------------------------------- counters (read on the event loop or after the run)

    public Channel channel() {
        return channel;
    }

    public ResponseParser parser() {
        return parser;
    }

    public long untaggedCount() {
        return untaggedCount;
    }

    public long fetchCount() {
        return fetchCount;
    }

    public void resetCounters() {
        onLoop(() -> {
            untaggedCount = 0;
            fetchCount = 0;
            parser.resetLiterals();
        });
    }
}
