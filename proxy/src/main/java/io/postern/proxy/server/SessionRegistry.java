package io.postern.proxy.server;

import io.netty.channel.Channel;
import io.postern.proxy.session.ClientSession;
import io.postern.proxy.session.SessionView;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;

/**
 * The client connections of one Postern, for the admin API. Adding and removing is one
 * {@code ConcurrentHashMap} operation per connection; nothing here runs on the relay path. A
 * session's state is read (and changed) only by tasks run on its own event loop.
 */
public final class SessionRegistry {

    /**
     * One session at one moment.
     *
     * @param bytesIn bytes from the client, as on the wire
     * @param bytesOut bytes to the client, as on the wire
     */
    public record LiveSession(SessionView view, long bytesIn, long bytesOut) {}

    private record Entry(Channel channel, ClientSession session, TrafficCounter traffic) {}

    private final ConcurrentHashMap<Channel, Entry> entries = new ConcurrentHashMap<>();

    void add(Channel channel, ClientSession session, TrafficCounter traffic) {
        entries.put(channel, new Entry(channel, session, traffic));
        channel.closeFuture().addListener(f -> entries.remove(channel));
    }

    public int size() {
        return entries.size();
    }

    /**
     * Every open session, as each one's event loop sees it, oldest first; gathered and sorted on
     * {@code executor} (the admin listener's loop), not on a session's.
     */
    public CompletableFuture<List<LiveSession>> snapshot(java.util.concurrent.Executor executor) {
        List<CompletableFuture<LiveSession>> parts = new ArrayList<>();
        for (Entry e : entries.values()) {
            parts.add(onLoop(e, () -> new LiveSession(e.session().view(), e.traffic().in(), e.traffic().out())));
        }
        return all(parts).thenApplyAsync(list -> list.stream()
                .filter(s -> s != null && !s.view().state().equals("closed"))
                .sorted(java.util.Comparator.comparing(s -> s.view().since()))
                .toList(), executor);
    }

    /**
     * Ends every session {@code which} selects with {@code * BYE byeText} after its running
     * commands ({@link ClientSession#endAfterCommands}); completes with how many were selected.
     */
    public CompletableFuture<Integer> end(Predicate<SessionView> which, String byeText, java.time.Duration grace) {
        List<CompletableFuture<Boolean>> parts = new ArrayList<>();
        for (Entry e : entries.values()) {
            parts.add(onLoop(e, () -> {
                SessionView v = e.session().view();
                if (v.state().equals("closed") || !which.test(v)) {
                    return false;
                }
                e.session().endAfterCommands(byeText, grace);
                return true;
            }));
        }
        return all(parts).thenApply(list -> (int) list.stream().filter(Boolean.TRUE::equals).count());
    }

    private static <T> CompletableFuture<T> onLoop(Entry e, java.util.function.Supplier<T> task) {
        CompletableFuture<T> result = new CompletableFuture<>();
        try {
            e.channel().eventLoop().execute(() -> {
                try {
                    result.complete(task.get());
                } catch (RuntimeException ex) {
                    result.completeExceptionally(ex);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException ex) {
            result.complete(null); // the event loop is shutting down: the session is going anyway
        }
        return result;
    }

    private static <T> CompletableFuture<List<T>> all(List<CompletableFuture<T>> parts) {
        // the list of results is made by whichever loop answers last: a cheap step, the rest is the caller's
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new))
                .thenApply(v -> parts.stream().map(CompletableFuture::join).toList());
    }
}
