package io.postern.policies.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.postern.policies.Command;
import io.postern.policies.Decision;
import io.postern.policies.Policy;
import io.postern.policies.SessionInfo;
import io.postern.policies.Status;
import io.postern.policies.TimeoutFallback;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class PolicyChainTest {

    private static final SessionInfo SESSION = new SessionInfo("1", "alice", Set.of(), "imap", null, false);

    /** The session's thread: one thread, as an event loop is. */
    private final ScheduledExecutorService loop = Executors.newSingleThreadScheduledExecutor();
    private final ExecutorService elsewhere = Executors.newSingleThreadExecutor();

    private final SessionThread thread = new SessionThread() {
        @Override
        public void execute(Runnable task) {
            loop.execute(task);
        }

        @Override
        public Cancellable schedule(Runnable task, Duration delay) {
            var f = loop.schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
            return () -> f.cancel(false);
        }
    };

    @AfterEach
    void stop() {
        loop.shutdownNow();
        elsewhere.shutdownNow();
    }

    private Outcome run(PolicyChain chain, String line) throws Exception {
        CompletableFuture<Outcome> out = new CompletableFuture<>();
        loop.execute(() -> chain.command(SESSION, Command.parse(line), thread, out::complete));
        return out.get(10, TimeUnit.SECONDS);
    }

    @Test
    void policiesRunInOrderAndTheFirstThatStopsDecides() throws Exception {
        List<String> seen = new ArrayList<>();
        Policy first = Policy.builder("first").onCommand((s, c, v) -> {
            seen.add("first " + c.name());
            v.rename("EXAMINE");
        }).build();
        Policy second = Policy.builder("second").onCommand((s, c, v) -> {
            seen.add("second " + c.name());
            v.no("NOPERM", "no");
        }).build();
        Policy third = Policy.builder("third").onCommand((s, c, v) -> {
            seen.add("third");
            v.proceed();
        }).build();
        Outcome o = run(new PolicyChain(List.of(first, second, third)), "a SELECT INBOX");
        assertThat(seen).containsExactly("first SELECT", "second EXAMINE");
        assertThat(o.decision().kind()).isEqualTo(Decision.Kind.REJECT);
        assertThat(o.policy()).isEqualTo("second");
        assertThat(o.command().name()).isEqualTo("EXAMINE");
        assertThat(o.command().argumentText()).isEqualTo("INBOX");
    }

    @Test
    void aRenameReachesTheEndAsTheCommandThatGoesOn() throws Exception {
        Policy rename = Policy.builder("r").onCommand((s, c, v) -> v.rename("EXAMINE")).build();
        Outcome o = run(new PolicyChain(List.of(rename)), "a7 SELECT \"Sent Items\" (CONDSTORE)");
        assertThat(o.decision().kind()).isEqualTo(Decision.Kind.PROCEED);
        assertThat(new String(o.command().wire(), java.nio.charset.StandardCharsets.UTF_8))
                .isEqualTo("a7 EXAMINE \"Sent Items\" (CONDSTORE)\r\n");
    }

    @Test
    void aPolicyThatDecidesTwiceIsCaughtAndTheCommandRefused() throws Exception {
        AtomicReference<Throwable> secondCall = new AtomicReference<>();
        Policy twice = Policy.builder("twice").onCommand((s, c, v) -> {
            v.proceed();
            v.no("NOPERM", "changed my mind");
        }).build();
        Policy after = Policy.builder("after").onCommand((s, c, v) -> {
            secondCall.set(new AssertionError("the walk went on past a broken policy"));
            v.proceed();
        }).build();
        Outcome o = run(new PolicyChain(List.of(twice, after)), "a NOOP");
        assertThat(o.error()).isInstanceOf(IllegalStateException.class).hasMessageContaining("decided twice");
        assertThat(o.policy()).isEqualTo("twice");
        assertThat(o.decision().kind()).isEqualTo(Decision.Kind.REJECT);
        assertThat(o.decision().code()).isEqualTo("SERVERBUG");
        assertThat(secondCall.get()).isNull();
    }

    @Test
    void aPolicyThatDoesNotDecideIsCaught() throws Exception {
        Policy silent = Policy.builder("silent").onCommand((s, c, v) -> { }).build();
        Outcome o = run(new PolicyChain(List.of(silent)), "a NOOP");
        assertThat(o.error()).hasMessageContaining("without deciding");
        assertThat(o.decision().status()).isEqualTo(Status.NO);
    }

    @Test
    void anAsynchronousVerdictResumesOnTheSessionThread() throws Exception {
        AtomicReference<Thread> loopThread = new AtomicReference<>();
        loop.submit(() -> loopThread.set(Thread.currentThread())).get();
        AtomicReference<Thread> resumedOn = new AtomicReference<>();
        Policy slow = Policy.builder("slow").onCommand((s, c, v) -> {
            v.async(Duration.ofSeconds(10), TimeoutFallback.REJECT);
            elsewhere.execute(v::proceed);
        }).build();
        Policy next = Policy.builder("next").onCommand((s, c, v) -> {
            resumedOn.set(Thread.currentThread());
            v.no(null, "stop");
        }).build();
        Outcome o = run(new PolicyChain(List.of(slow, next)), "a NOOP");
        assertThat(o.policy()).isEqualTo("next");
        assertThat(resumedOn.get()).isSameAs(loopThread.get());
    }

    @Test
    void aVerdictThatTimesOutTakesItsFallbackAndALateDecisionIsIgnored() throws Exception {
        AtomicReference<io.postern.policies.CommandVerdict> kept = new AtomicReference<>();
        Policy never = Policy.builder("never").onCommand((s, c, v) -> {
            v.async(Duration.ofMillis(50), TimeoutFallback.REJECT);
            kept.set(v);
        }).build();
        Outcome o = run(new PolicyChain(List.of(never)), "a NOOP");
        assertThat(o.decision().code()).isEqualTo("UNAVAILABLE");
        kept.get().proceed(); // too late: no effect, no exception
        assertThat(kept.get().decision()).isNull();

        Policy lenient = Policy.builder("lenient").onCommand((s, c, v) -> v.async(Duration.ofMillis(50), TimeoutFallback.PROCEED)).build();
        assertThat(run(new PolicyChain(List.of(lenient)), "a NOOP").decision().kind()).isEqualTo(Decision.Kind.PROCEED);
    }

    @Test
    void aDelayedProceedWaitsThenGoesOn() throws Exception {
        Policy delay = Policy.builder("delay").onCommand((s, c, v) -> v.proceedAfter(Duration.ofMillis(100))).build();
        long start = System.nanoTime();
        Outcome o = run(new PolicyChain(List.of(delay)), "a NOOP");
        assertThat(o.decision().kind()).isEqualTo(Decision.Kind.PROCEED);
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(Duration.ofMillis(100).toNanos());
    }

    @Test
    void selectionFollowsMatchersUnlessAndOrder() {
        Policy a = Policy.builder("a").build();
        Policy b = Policy.builder("b").build();
        Policy c = Policy.builder("c").build();
        Match legal = new Match(List.of(), Set.of(), Set.of("legal"), List.of(), Set.of());
        Match example = new Match(List.of(new Glob("*@example.com")), Set.of(), Set.of(), List.of(), Set.of());
        PolicySet set = new PolicySet(List.of(
                new PolicySet.Entry("a", 10, Match.EVERYONE, legal, a),
                new PolicySet.Entry("b", 5, example, null, b),
                new PolicySet.Entry("c", 10, Match.EVERYONE, null, c)),
                java.util.Map.of("legal", List.of(new Glob("erin@example.com"))));
        SessionInfo erin = new SessionInfo("1", "Erin@example.com", set.groupsOf("Erin@example.com"), "imap", null, true);
        SessionInfo bob = new SessionInfo("2", "bob@other.org", set.groupsOf("bob@other.org"), "imap", null, true);
        assertThat(erin.groups()).containsExactly("legal");
        assertThat(set.chainFor(erin).names()).containsExactly("b", "c");
        assertThat(set.chainFor(bob).names()).containsExactly("a", "c");
        assertThat(set.chainFor(bob)).isSameAs(set.chainFor(new SessionInfo("3", "carol", Set.of(), "imap", null, false)));
        // before login only entries without user matchers count
        assertThat(set.connectionChain(SessionInfo.connection("4", "imap", null, false)).names()).containsExactly("c");
    }
}
