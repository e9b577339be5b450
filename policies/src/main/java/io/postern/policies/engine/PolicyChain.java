package io.postern.policies.engine;

import io.postern.policies.CapabilityPolicy;
import io.postern.policies.CloseListener;
import io.postern.policies.CloseReason;
import io.postern.policies.Command;
import io.postern.policies.CommandCompletion;
import io.postern.policies.CommandPolicy;
import io.postern.policies.CommandVerdict;
import io.postern.policies.CompletionListener;
import io.postern.policies.Decision;
import io.postern.policies.LoginPolicy;
import io.postern.policies.LoginVerdict;
import io.postern.policies.Policy;
import io.postern.policies.Response;
import io.postern.policies.ResponseVerdict;
import io.postern.policies.SessionInfo;
import io.postern.policies.Status;
import io.postern.policies.TimeoutFallback;
import io.postern.policies.TrafficListener;
import io.postern.policies.Verdict;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * The policies of one session, in order, resolved once at login and immutable after. Walks
 * them for each event: the first policy that does not proceed decides; a rewrite is what the
 * next one sees; an asynchronous verdict pauses the walk until it is decided or times out, and
 * the walk resumes on the session's thread ({@link SessionThread}).
 *
 * <p>A policy that throws, decides twice or returns without deciding fails closed: the login or
 * command is refused with {@code NO [SERVERBUG]}, and {@link Outcome#error()} says why.
 *
 * <p>Threading: each method is called on the session's thread; the chain itself is shared and
 * stateless.
 */
public final class PolicyChain {

    public static final PolicyChain EMPTY = new PolicyChain(List.of());

    private record Named<T>(String policy, T handler) {}

    private final List<Policy> policies;
    private final List<Named<LoginPolicy>> login = new ArrayList<>();
    private final List<Named<CommandPolicy>> command = new ArrayList<>();
    private final List<Named<Policy.KeyedResponsePolicy>> response = new ArrayList<>();
    private final Set<String> responseKeywords = new HashSet<>();
    private final List<CapabilityPolicy> capabilities = new ArrayList<>();
    private final List<CompletionListener> completion = new ArrayList<>();
    private final List<TrafficListener> traffic = new ArrayList<>();
    private final List<CloseListener> close = new ArrayList<>();
    private final List<io.postern.policies.LoginFailureListener> loginFailure = new ArrayList<>();
    private final List<Policy.KeyedUntaggedListener> untagged = new ArrayList<>();
    private final Set<String> untaggedKeywords = new HashSet<>();
    private final boolean deletedUids;
    private final List<io.postern.policies.ContentPolicy> content = new ArrayList<>();
    /** Download verdicts by a key the session makes (see {@link #knownDownload}); {@code null} without content policies. */
    private final com.github.benmanes.caffeine.cache.Cache<Object, KnownDownload> downloads;

    /** A remembered download verdict and the size of the content it is about (replacements are offsets into it). */
    public record KnownDownload(io.postern.policies.ContentVerdict verdict, long size) {}

    /** The most download verdicts one chain remembers. */
    public static final int MAX_DOWNLOAD_VERDICTS = 10_000;
    /** How long a download verdict is remembered. */
    public static final java.time.Duration DOWNLOAD_VERDICT_TTL = java.time.Duration.ofHours(1);

    public PolicyChain(List<Policy> policies) {
        this.policies = List.copyOf(policies);
        for (Policy p : this.policies) {
            p.loginPolicies().forEach(h -> login.add(new Named<>(p.name(), h)));
            p.commandPolicies().forEach(h -> command.add(new Named<>(p.name(), h)));
            p.responsePolicies().forEach(h -> {
                response.add(new Named<>(p.name(), h));
                responseKeywords.addAll(h.keywords());
            });
            capabilities.addAll(p.capabilityPolicies());
            completion.addAll(p.completionListeners());
            traffic.addAll(p.trafficListeners());
            close.addAll(p.closeListeners());
            loginFailure.addAll(p.loginFailureListeners());
            content.addAll(p.contentPolicies());
            p.untaggedListeners().forEach(u -> {
                untagged.add(u);
                untaggedKeywords.addAll(u.keywords());
            });
        }
        this.deletedUids = this.policies.stream().anyMatch(Policy::wantsDeletedUids);
        this.downloads = content.isEmpty() ? null : com.github.benmanes.caffeine.cache.Caffeine.newBuilder()
                .maximumSize(MAX_DOWNLOAD_VERDICTS).expireAfterWrite(DOWNLOAD_VERDICT_TTL).build();
    }

    /**
     * The verdict this chain's inspectors gave a downloaded message section before, or
     * {@code null}. The key names the content exactly (the session uses user, backend, mailbox,
     * UIDVALIDITY, UID and the fetched section), so a client reading a message in ranges has it
     * scanned once. Thread-safe.
     */
    public KnownDownload knownDownload(Object key) {
        return downloads == null ? null : downloads.getIfPresent(key);
    }

    /** Remembers a download verdict; only a definite one (clean or blocked), never a failure to scan. */
    public void rememberDownload(Object key, io.postern.policies.ContentVerdict verdict, long size) {
        if (downloads != null && (verdict.result().equals("clean") || verdict.result().equals("blocked"))) {
            downloads.put(key, new KnownDownload(verdict, size));
        }
    }

    /** Whether a policy wants {@link io.postern.policies.CommandCompletion#deletedUids} for EXPUNGE and CLOSE. */
    public boolean wantsDeletedUids() {
        return deletedUids;
    }

    public List<String> names() {
        return policies.stream().map(Policy::name).toList();
    }

    public List<Policy> policies() {
        return policies;
    }

    public boolean isEmpty() {
        return policies.isEmpty();
    }

    public boolean hasLoginPolicies() {
        return !login.isEmpty();
    }

    /** Whether some policy inspects message content (see {@link #inspectors}). */
    public boolean hasContentPolicies() {
        return !content.isEmpty();
    }

    /**
     * The inspectors for one message passing in {@code direction}, one per content policy that
     * wants it; empty when none does. A policy that throws is taken as one that refuses the
     * message: its failure is in the returned list as an inspector whose verdict is a refusal.
     */
    public List<io.postern.policies.ContentInspector> inspectors(SessionInfo session,
            io.postern.policies.ContentDirection direction) {
        if (content.isEmpty()) {
            return List.of();
        }
        List<io.postern.policies.ContentInspector> out = new ArrayList<>(content.size());
        for (io.postern.policies.ContentPolicy p : content) {
            io.postern.policies.ContentInspector i;
            try {
                i = p.inspect(session, direction);
            } catch (RuntimeException e) {
                i = FailedInspector.of(e);
            }
            if (i != null) {
                out.add(i);
            }
        }
        return out;
    }

    public boolean hasCommandPolicies() {
        return !command.isEmpty();
    }

    /** Whether some policy wants to see untagged responses with this keyword (upper case). */
    public boolean wantsResponse(String keyword) {
        return !responseKeywords.isEmpty() && responseKeywords.contains(keyword);
    }

    public boolean hasTrafficListeners() {
        return !traffic.isEmpty();
    }

    public boolean hasCompletionListeners() {
        return !completion.isEmpty();
    }

    public boolean hasLoginFailureListeners() {
        return !loginFailure.isEmpty();
    }

    /** Whether some policy wants to be told of untagged responses with this keyword (upper case). */
    public boolean wantsUntagged(String keyword) {
        return !untaggedKeywords.isEmpty() && untaggedKeywords.contains(keyword);
    }

    public boolean rewritesCapabilities() {
        return !capabilities.isEmpty();
    }

    // ---------------------------------------------------------------- login

    /** Walks the login policies; {@code done} gets the outcome on the session's thread (maybe at once). */
    public void login(SessionInfo session, SessionThread thread, Consumer<Outcome> done) {
        new Walk<LoginPolicy>(session, thread, login, done) {
            @Override
            Verdict newVerdict(Command c) {
                return new LoginVerdict();
            }

            @Override
            void call(LoginPolicy h, Command c, Verdict v) {
                h.onLogin(session, (LoginVerdict) v);
            }
        }.run(0, null);
    }

    // ---------------------------------------------------------------- commands

    /** Walks the command policies; {@code done} gets the outcome on the session's thread (maybe at once). */
    public void command(SessionInfo session, Command cmd, SessionThread thread, Consumer<Outcome> done) {
        new Walk<CommandPolicy>(session, thread, command, done) {
            @Override
            Verdict newVerdict(Command c) {
                return new CommandVerdict(c);
            }

            @Override
            void call(CommandPolicy h, Command c, Verdict v) {
                h.onCommand(session, c, (CommandVerdict) v);
            }
        }.run(0, cmd);
    }

    /** One walk over one kind of handler, pausable at an asynchronous verdict or a delay. */
    private abstract static class Walk<T> {
        private final SessionInfo session;
        private final SessionThread thread;
        private final List<Named<T>> handlers;
        private final Consumer<Outcome> done;

        Walk(SessionInfo session, SessionThread thread, List<Named<T>> handlers, Consumer<Outcome> done) {
            this.session = session;
            this.thread = thread;
            this.handlers = handlers;
            this.done = done;
        }

        abstract Verdict newVerdict(Command c);

        abstract void call(T handler, Command c, Verdict v);

        void run(int from, Command c) {
            for (int i = from; i < handlers.size(); i++) {
                Named<T> h = handlers.get(i);
                Verdict v = newVerdict(c);
                try {
                    call(h.handler(), c, v);
                } catch (RuntimeException e) {
                    failed(h.policy(), c, e);
                    return;
                }
                Decision d = v.decision();
                if (d == null) {
                    if (!v.isAsync()) {
                        failed(h.policy(), c, new IllegalStateException("returned without deciding"));
                        return;
                    }
                    waitFor(v, i, c);
                    return;
                }
                if (!apply(d, i, c)) {
                    return;
                }
                if (d.kind() == Decision.Kind.REWRITE) {
                    c = rewritten(c, d);
                }
            }
            done.accept(new Outcome(Decision.PROCEED, c, null, null));
        }

        /** Carries out a decision of handler {@code i}; {@code true} when the walk goes on at once. */
        private boolean apply(Decision d, int i, Command c) {
            switch (d.kind()) {
                case PROCEED -> {
                    if (!d.delay().isZero()) {
                        thread.schedule(() -> run(i + 1, c), d.delay());
                        return false;
                    }
                    return true;
                }
                case REWRITE -> {
                    if (c == null) {
                        failed(handlers.get(i).policy(), null, new IllegalStateException("a login cannot be rewritten"));
                        return false;
                    }
                    return true;
                }
                case DROP -> {
                    failed(handlers.get(i).policy(), c, new IllegalStateException("drop is for responses"));
                    return false;
                }
                default -> {
                    done.accept(new Outcome(d, c, handlers.get(i).policy(), null));
                    return false;
                }
            }
        }

        private void waitFor(Verdict v, int i, Command c) {
            SessionThread.Cancellable timer = thread.schedule(() -> {
                if (v.expire()) {
                    Decision fallback = v.fallback() == TimeoutFallback.PROCEED
                            ? Decision.PROCEED
                            : Decision.reject(Status.NO, "UNAVAILABLE", "Policy decision timed out, try again later.");
                    resume(fallback, i, c);
                }
            }, v.timeout());
            v.whenDecided(d -> thread.execute(() -> {
                timer.cancel();
                resume(d, i, c);
            }));
        }

        private void resume(Decision d, int i, Command c) {
            if (apply(d, i, c)) {
                run(i + 1, d.kind() == Decision.Kind.REWRITE ? rewritten(c, d) : c);
            }
        }

        private static Command rewritten(Command c, Decision d) {
            Command renamed = d.name().equals(c.name()) ? c : c.renamed(d.name());
            return d.arguments() == null ? renamed : renamed.withArguments(d.arguments());
        }

        private void failed(String policy, Command c, RuntimeException e) {
            done.accept(new Outcome(Decision.reject(Status.NO, "SERVERBUG", "Policy " + policy + " failed."), c, policy, e));
        }
    }

    // ---------------------------------------------------------------- responses and the rest

    /**
     * Asks the response policies registered for the response's keyword: {@link Decision#DROP}
     * when one dropped it, {@link Decision#PROCEED} otherwise. A policy that fails drops the
     * response (fail closed) and is reported to {@code onError}.
     */
    public Decision response(SessionInfo session, Response r, BiConsumer<String, Throwable> onError) {
        for (Named<Policy.KeyedResponsePolicy> h : response) {
            if (!h.handler().keywords().contains(r.keyword())) {
                continue;
            }
            ResponseVerdict v = new ResponseVerdict();
            try {
                h.handler().policy().onResponse(session, r, v);
                if (v.decision() == null) {
                    throw new IllegalStateException("returned without deciding");
                }
            } catch (RuntimeException e) {
                onError.accept(h.policy(), e);
                return Decision.DROP;
            }
            if (v.decision().kind() == Decision.Kind.DROP) {
                return Decision.DROP;
            }
        }
        return Decision.PROCEED;
    }

    /** The capabilities after every capability policy, in chain order. */
    public List<String> capabilities(SessionInfo session, List<String> offered) {
        List<String> c = offered;
        for (CapabilityPolicy p : capabilities) {
            c = List.copyOf(p.capabilities(session, c));
        }
        return c;
    }

    public void completed(SessionInfo session, CommandCompletion completion) {
        for (CompletionListener l : this.completion) {
            l.onCompleted(session, completion);
        }
    }

    public void loginFailed(SessionInfo session, String reason) {
        for (io.postern.policies.LoginFailureListener l : loginFailure) {
            l.onLoginFailed(session, reason);
        }
    }

    public void untagged(SessionInfo session, String keyword, long number, String data) {
        for (Policy.KeyedUntaggedListener l : untagged) {
            if (l.keywords().contains(keyword)) {
                l.listener().onUntagged(session, keyword, number, data);
            }
        }
    }

    public void traffic(SessionInfo session, boolean fromClient, long bytes) {
        for (TrafficListener l : traffic) {
            l.onBytes(session, fromClient, bytes);
        }
    }

    public void closed(SessionInfo session, CloseReason reason) {
        for (CloseListener l : close) {
            l.onClose(session, reason);
        }
    }

    @Override
    public String toString() {
        return "PolicyChain" + names();
    }
}
