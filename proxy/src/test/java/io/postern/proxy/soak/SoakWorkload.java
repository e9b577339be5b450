package io.postern.proxy.soak;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.postern.imap.codec.Direction;
import io.postern.imap.codec.ImapDecoderConfig;
import io.postern.imap.codec.ImapFrameDecoder;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Arrays;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A fixed number of session slots, each running {@link SoakSession}s back to back through
 * Postern, on a small Netty event loop group (no thread per connection). Slot {@code i} is
 * user {@code soak(i % users)} with a folder of its own, so no two sessions ever change the same
 * folder at once and every answer can be predicted.
 */
final class SoakWorkload {

    static final String PASSWORD = "soak-pw";
    /** An answer that takes longer than this is a stall, counted as an error. */
    private static final long STALL_NANOS = TimeUnit.SECONDS.toNanos(60);
    private static final Duration WIND_DOWN = Duration.ofMinutes(2);

    /**
     * @param sessions sessions at once
     * @param users user names the slots share (Dovecot allows 1000 connections per user and address)
     * @param thinkMillis think time between commands, uniform from 0
     * @param minOps fewest commands of a session after SELECT
     * @param maxOps most commands of a session after SELECT
     * @param abruptPercent sessions that end without LOGOUT, at a random point
     * @param loginsPerSecond how many sessions start a second at most, over all slots, at the start
     *     and afterwards: a login costs the backend far more than a command (Dovecot's auth
     *     process, an imap process), and real clients log in a few times an hour, not in a storm
     * @param idleMillis the longest an IDLE lasts before DONE (uniform from a fifth of it)
     */
    record Settings(int sessions, int users, int thinkMillis, int minOps, int maxOps, int abruptPercent,
            int loginsPerSecond, int idleMillis) {}

    /** A session slot; its fields are used by one session at a time. */
    static final class Slot {
        private final String user;
        private final String folder;
        private volatile boolean created;

        Slot(int index, int users) {
            this.user = SoakWorkload.user(index % users);
            this.folder = "slot" + index;
        }

        String user() {
            return user;
        }

        String folder() {
            return folder;
        }

        boolean created() {
            return created;
        }

        void created(boolean created) {
            this.created = created;
        }
    }

    private final InetSocketAddress postern;
    private final Settings settings;
    private final Slot[] slots;
    private final Set<SoakSession> live = ConcurrentHashMap.newKeySet();
    /** Slots waiting for their turn to log in; one is taken each login interval. */
    private final Queue<Slot> waiting = new ConcurrentLinkedQueue<>();
    private volatile SoakStats stats;
    private volatile boolean stopping;
    private CountDownLatch slotsDone;
    private EventLoopGroup group;
    private Bootstrap bootstrap;

    SoakWorkload(InetSocketAddress postern, Settings settings) {
        this.postern = postern;
        this.settings = settings;
        this.slots = new Slot[settings.sessions()];
        for (int i = 0; i < slots.length; i++) {
            slots[i] = new Slot(i, settings.users());
        }
    }

    static String user(int n) {
        return "soak" + n;
    }

    Settings settings() {
        return settings;
    }

    boolean stopping() {
        return stopping;
    }

    /**
     * Starts every slot (at {@link Settings#loginsPerSecond()}), keeps them busy for
     * {@code duration}, then lets each session finish its command and log out; returns when all
     * have ended, with what they did in {@code stats}. The client's event loops are shut down
     * before it returns, so nothing of the client is left in the process.
     */
    void run(Duration duration, SoakStats stats) throws InterruptedException {
        this.stats = stats;
        stopping = false;
        slotsDone = new CountDownLatch(slots.length);
        group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        bootstrap = new Bootstrap()
                .group(group)
                .channel(NioSocketChannel.class)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000);
        try {
            waiting.addAll(Arrays.asList(slots));
            long interval = TimeUnit.SECONDS.toNanos(1) / settings.loginsPerSecond();
            group.scheduleAtFixedRate(this::startNext, 0, interval, TimeUnit.NANOSECONDS);
            long end = System.nanoTime() + duration.toNanos();
            while (System.nanoTime() < end) {
                Thread.sleep(Math.min(5_000, Math.max(1, TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime()))));
                for (SoakSession session : live) {
                    session.stalledFor(STALL_NANOS);
                }
            }
            stopping = true;
            if (!slotsDone.await(WIND_DOWN.toMillis(), TimeUnit.MILLISECONDS)) {
                stats.error(slotsDone.getCount() + " slot(s) still busy " + WIND_DOWN.toSeconds()
                        + " s after the end; " + live.size() + " session(s) closed by force");
                live.forEach(s -> s.abort("still running at the end of the wind-down"));
            }
        } finally {
            stopping = true;
            group.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private void start(Slot slot) {
        if (stopping) {
            slotsDone.countDown();
            return;
        }
        stats.sessionsStarted.incrementAndGet();
        SoakSession session = new SoakSession(slot, this, stats);
        live.add(session);
        bootstrap.clone()
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline()
                                .addLast(new ImapFrameDecoder(Direction.RESPONSE, ImapDecoderConfig.responses()))
                                .addLast(session);
                    }
                })
                .connect(postern)
                .addListener((ChannelFutureListener) f -> {
                    if (!f.isSuccess()) {
                        stats.error("connect to Postern: " + f.cause());
                        live.remove(session);
                        restart(slot);
                    }
                });
    }

    /** Called by a session whose connection has closed, on its event loop. */
    void ended(SoakSession session) {
        live.remove(session);
        restart(session.slot());
    }

    private void restart(Slot slot) {
        if (stopping) {
            slotsDone.countDown();
            return;
        }
        waiting.add(slot);
    }

    /**
     * Once a login interval: starts the slot that has waited longest, so that logins never come
     * faster than {@link Settings#loginsPerSecond()}; once stopping, ends every waiting slot.
     */
    private void startNext() {
        Slot slot;
        if (stopping) {
            while ((slot = waiting.poll()) != null) {
                slotsDone.countDown();
            }
            return;
        }
        slot = waiting.poll();
        if (slot != null) {
            start(slot);
        }
    }
}
