package io.postern.proxy.soak;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.postern.imap.codec.ImapDecoderError;
import io.postern.imap.codec.ImapLine;
import io.postern.imap.codec.LiteralAnnouncement;
import io.postern.imap.codec.LiteralChunk;
import io.postern.proxy.soak.SoakStats.Abrupt;
import io.postern.proxy.soak.SoakStats.Command;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * One client session of the soak, from greeting to LOGOUT (or an abrupt end it planned): LOGIN,
 * CREATE of its slot's folder the first time, SELECT, then random NOOP, FETCH (each body checked
 * as it streams), APPEND (synchronizing and LITERAL+), IDLE/DONE, and STORE plus EXPUNGE when the
 * folder has grown, with think time between them. One command at a time; every answer is checked
 * and what is wrong is counted as an error. Runs on its channel's event loop, except
 * {@link #stalledFor(long)}.
 */
final class SoakSession extends ChannelInboundHandlerAdapter {

    /** A folder is trimmed by STORE and EXPUNGE once it holds this many messages. */
    private static final int MAX_MESSAGES = 20;

    private final SoakWorkload.Slot slot;
    private final SoakWorkload workload;
    private final SoakStats stats;

    private volatile Channel channel;
    private boolean greeted;
    private int nextTag;
    private String tag;
    private Command running;
    private long sentNanos;
    /** When the command now running was sent; 0 while no answer is awaited. Read by the watchdog. */
    private volatile long waitingSince;
    private int exists;
    private int opsLeft;
    private final Abrupt abruptPlan;
    private final int abruptAt;
    private boolean idleToAbort;
    private byte[] appendPending;
    private SoakMessage.Check check;
    private ScheduledFuture<?> timer;
    /** The session closed the connection itself: on purpose, or after an error it counted. */
    private boolean endedByUs;
    private boolean loggedOut;

    SoakSession(SoakWorkload.Slot slot, SoakWorkload workload, SoakStats stats) {
        this.slot = slot;
        this.workload = workload;
        this.stats = stats;
        ThreadLocalRandom random = ThreadLocalRandom.current();
        SoakWorkload.Settings settings = workload.settings();
        this.opsLeft = random.nextInt(settings.minOps(), settings.maxOps() + 1);
        if (random.nextInt(100) < settings.abruptPercent()) {
            abruptPlan = Abrupt.values()[random.nextInt(Abrupt.values().length)];
            abruptAt = random.nextInt(opsLeft);
        } else {
            abruptPlan = null;
            abruptAt = -1;
        }
    }

    // ---------------------------------------------------------------- events

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        channel = ctx.channel();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (msg instanceof ImapLine line) {
                onLine(line);
            } else if (msg instanceof LiteralChunk chunk) {
                if (check != null) {
                    check.update(chunk.content());
                }
            } else if (msg instanceof ImapDecoderError error) {
                fail("response refused by the client's decoder: " + error.kind());
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (timer != null) {
            timer.cancel(false);
        }
        if (loggedOut) {
            stats.sessionsLoggedOut.incrementAndGet();
        } else if (!endedByUs) {
            stats.error("Postern closed the connection " + (running == null ? "between commands" : "during " + running));
        }
        workload.ended(this);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        fail("exception: " + cause);
    }

    SoakWorkload.Slot slot() {
        return slot;
    }

    /** Called by the watchdog from its own thread: counts an error and closes when an answer is overdue. */
    void stalledFor(long limitNanos) {
        long since = waitingSince;
        Channel ch = channel;
        if (ch != null && since != 0 && System.nanoTime() - since > limitNanos) {
            ch.eventLoop().execute(() -> {
                if (waitingSince == since) {
                    fail("no answer to " + running + " within " + TimeUnit.NANOSECONDS.toSeconds(limitNanos) + " s");
                }
            });
        }
    }

    /** Called from another thread when the session must end now: counted as an error. */
    void abort(String why) {
        Channel ch = channel;
        if (ch != null) {
            ch.eventLoop().execute(() -> fail(why));
        }
    }

    // ---------------------------------------------------------------- responses

    private void onLine(ImapLine line) {
        ByteBuf content = line.content();
        String text = content.toString(content.readerIndex(), line.textLength(), StandardCharsets.ISO_8859_1);
        if (!line.first()) {
            endOfBody();
            return;
        }
        if (!greeted) {
            greeted = true;
            if (!text.startsWith("* OK")) {
                fail("greeting: " + text);
                return;
            }
            send(Command.LOGIN, "LOGIN " + slot.user() + " " + SoakWorkload.PASSWORD);
            return;
        }
        if (text.startsWith("* ")) {
            untagged(text, line.literal());
        } else if (text.startsWith("+")) {
            continuation(text);
        } else {
            tagged(text);
        }
    }

    private void untagged(String text, LiteralAnnouncement literal) {
        String[] words = text.split(" ", 4);
        String word = words.length > 2 ? words[2] : "";
        if (word.equals("EXISTS")) {
            exists = Integer.parseInt(words[1]);
        } else if (word.equals("EXPUNGE")) {
            exists--;
        } else if (words[1].equals("BYE") && running != Command.LOGOUT) {
            fail("BYE during " + running + ": " + text);
            return;
        }
        if (literal != null) {
            if (running == Command.FETCH && word.equals("FETCH")) {
                check = new SoakMessage.Check(literal.size());
                stats.fetchedBytes.addAndGet(literal.size());
            } else {
                fail("a literal in " + text);
            }
        }
    }

    private void endOfBody() {
        if (check == null) {
            return;
        }
        String verdict = check.verdict();
        check = null;
        if (verdict != null) {
            fail("FETCH " + verdict);
        } else {
            stats.bodiesVerified.incrementAndGet();
        }
    }

    private void continuation(String text) {
        if (running == Command.APPEND && appendPending != null) {
            channel.writeAndFlush(Unpooled.wrappedBuffer(appendPending, "\r\n".getBytes(StandardCharsets.US_ASCII)));
            appendPending = null;
        } else if (running == Command.IDLE && waitingSince != 0) {
            waitingSince = 0; // idling: no answer is due until DONE
            if (idleToAbort) {
                endAbruptly(Abrupt.IN_IDLE);
                return;
            }
            int most = workload.settings().idleMillis();
            int idleMillis = workload.stopping() ? 0 : ThreadLocalRandom.current().nextInt(most / 5, most + 1);
            timer = channel.eventLoop().schedule(this::done, idleMillis, TimeUnit.MILLISECONDS);
        } else {
            fail("unexpected continuation during " + running + ": " + text);
        }
    }

    private void done() {
        sentNanos = System.nanoTime();
        waitingSince = sentNanos;
        write("DONE\r\n");
    }

    private void tagged(String text) {
        int space = text.indexOf(' ');
        String answerTag = space < 0 ? text : text.substring(0, space);
        if (!answerTag.equals(tag)) {
            fail("answer for " + answerTag + " while " + tag + " " + running + " runs: " + text);
            return;
        }
        String status = text.substring(space + 1);
        boolean ok = status.startsWith("OK ")
                || (running == Command.CREATE && status.startsWith("NO [ALREADYEXISTS]"));
        if (!ok) {
            fail(running + " answered: " + text);
            return;
        }
        Command finished = running;
        stats.completed(finished, System.nanoTime() - sentNanos);
        running = null;
        tag = null;
        waitingSince = 0;
        switch (finished) {
            case LOGIN -> {
                if (slot.created()) {
                    send(Command.SELECT, "SELECT " + slot.folder());
                } else {
                    send(Command.CREATE, "CREATE " + slot.folder());
                }
            }
            case CREATE -> {
                slot.created(true);
                send(Command.SELECT, "SELECT " + slot.folder());
            }
            case STORE -> send(Command.EXPUNGE, "EXPUNGE");
            case LOGOUT -> loggedOut = true; // Postern closes the connection next
            default -> think();
        }
    }

    // ---------------------------------------------------------------- commands

    private void think() {
        int millis = ThreadLocalRandom.current().nextInt(workload.settings().thinkMillis() + 1);
        timer = channel.eventLoop().schedule(this::nextCommand, millis, TimeUnit.MILLISECONDS);
    }

    private void nextCommand() {
        if (!channel.isActive()) {
            return;
        }
        if (workload.stopping() || opsLeft-- <= 0) {
            send(Command.LOGOUT, "LOGOUT");
            return;
        }
        if (abruptPlan != null && opsLeft == abruptAt) {
            abruptly();
            return;
        }
        ThreadLocalRandom random = ThreadLocalRandom.current();
        int dice = random.nextInt(100);
        if (dice < 30 || (dice < 60 && exists == 0)) {
            send(Command.NOOP, "NOOP");
        } else if (dice < 60) {
            send(Command.FETCH, "FETCH " + random.nextInt(1, exists + 1) + " (FLAGS BODY.PEEK[])");
        } else if (dice < 75) {
            send(Command.IDLE, "IDLE");
        } else if (exists >= MAX_MESSAGES) {
            send(Command.STORE, "STORE 1:" + MAX_MESSAGES / 2 + " +FLAGS.SILENT (\\Deleted)");
        } else {
            append(random.nextBoolean(), false);
        }
    }

    /** APPEND with a synchronizing literal (data after the '+') or LITERAL+ (all at once). */
    private void append(boolean synchronizing, boolean halfThenClose) {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        byte[] message = SoakMessage.create(SoakMessage.randomSize(random), random);
        stats.appendedBytes.addAndGet(message.length);
        if (synchronizing) {
            appendPending = message;
            send(Command.APPEND, "APPEND " + slot.folder() + " {" + message.length + "}");
            return;
        }
        send(Command.APPEND, "APPEND " + slot.folder() + " {" + message.length + "+}");
        int n = halfThenClose ? message.length / 2 : message.length;
        channel.write(Unpooled.wrappedBuffer(message, 0, n));
        if (halfThenClose) {
            channel.flush();
            endAbruptly(Abrupt.MID_APPEND);
            return;
        }
        channel.writeAndFlush(Unpooled.wrappedBuffer("\r\n".getBytes(StandardCharsets.US_ASCII)));
    }

    /** The planned abrupt end: the client goes away without LOGOUT. */
    private void abruptly() {
        switch (abruptPlan) {
            case BETWEEN_COMMANDS -> endAbruptly(Abrupt.BETWEEN_COMMANDS);
            case AFTER_FETCH -> {
                send(Command.FETCH, "FETCH 1:* (FLAGS BODY.PEEK[])");
                endAbruptly(Abrupt.AFTER_FETCH);
            }
            case MID_APPEND -> append(false, true);
            case IN_IDLE -> {
                idleToAbort = true;
                send(Command.IDLE, "IDLE");
            }
            default -> throw new IllegalStateException("plan " + abruptPlan);
        }
    }

    private void endAbruptly(Abrupt how) {
        stats.abrupt(how);
        endedByUs = true;
        waitingSince = 0;
        channel.close();
    }

    private void send(Command command, String text) {
        tag = "s" + (++nextTag);
        running = command;
        sentNanos = System.nanoTime();
        waitingSince = sentNanos;
        write(tag + " " + text + "\r\n");
    }

    private void write(String text) {
        channel.writeAndFlush(Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII));
    }

    /** Counts an error the workload did not provoke and ends the session. */
    private void fail(String what) {
        if (endedByUs) {
            return; // the first error of a session is the one that counts
        }
        stats.error(slot.user() + "/" + slot.folder() + ": " + what);
        endedByUs = true;
        waitingSince = 0;
        channel.close();
    }
}
