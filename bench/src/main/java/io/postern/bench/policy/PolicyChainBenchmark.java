package io.postern.bench.policy;

import io.postern.policies.Command;
import io.postern.policies.SessionInfo;
import io.postern.policies.engine.Outcome;
import io.postern.policies.engine.PolicyChain;
import io.postern.policies.engine.SessionThread;
import io.postern.policies.LoginVerdict;
import io.postern.policies.Policy;
import io.postern.policies.acl.AclPolicyFactory;
import io.postern.policies.capabilities.CapabilitiesPolicyFactory;
import io.postern.policies.engine.MapSettings;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The policy engine's cost per command, as a session pays it: the command's bytes copied into
 * a {@link Command} and walked through the user's chain. {@code chain=empty} is a user no entry
 * selects (the session skips the walk: one check, as {@code PolicyGate} does); {@code chain=builtin}
 * is a user every built-in policy applies to: an {@code acl} with command deny-lists, mailbox hide and deny rules
 * (parsed on each mailbox command) and a rate limit too high to delay, and a {@code capabilities}
 * policy that enforces removals. The commands are a mix of FETCH, SELECT, STATUS, UID STORE and
 * NOOP. Score: commands/s (one operation is one command).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class PolicyChainBenchmark {

    /** The built-in policies, configured as a README example would configure them. */
    static List<Policy> builtins() throws Exception {
        Policy acl = new AclPolicyFactory().create("acl", new MapSettings(Map.of(
                "commands", Map.of("deny", List.of("SETACL", "DELETEACL")),
                "mailboxes", List.of(
                        Map.of("pattern", "Legal Hold", "action", "hide"),
                        Map.of("pattern", "Legal Hold/*", "action", "hide"),
                        Map.of("pattern", "Board", "action", "deny")),
                "rate_limit", Map.of("commands_per_second", 1_000_000_000)), "acl"));
        Policy caps = new CapabilitiesPolicyFactory().create("caps",
                new MapSettings(Map.of("remove", List.of("QUOTA", "THREAD=*")), "capabilities"));
        return List.of(acl, caps);
    }

    static final String[] COMMANDS = {
        "a1 UID FETCH 1:200 (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])",
        "a2 SELECT \"Sent Items\" (CONDSTORE)",
        "a3 STATUS Archive/2024 (MESSAGES UNSEEN UIDNEXT)",
        "a4 UID STORE 1:10 +FLAGS.SILENT (\\Seen)",
        "a5 NOOP",
    };

    @Param({"empty", "builtin"})
    String chain;

    private PolicyChain policies;
    private SessionInfo session;
    private byte[][] wires;
    private int[] argumentIndexes;
    private String[] tags;
    private String[] names;
    private int next;
    private Outcome last;
    private final Consumer<Outcome> done = o -> last = o;

    /** Every verdict here is synchronous: nothing is ever scheduled. */
    private static final SessionThread SAME_THREAD = new SessionThread() {
        @Override
        public void execute(Runnable task) {
            task.run();
        }

        @Override
        public Cancellable schedule(Runnable task, Duration delay) {
            throw new IllegalStateException("the benchmark's policies decide at once");
        }
    };

    @Setup
    public void setUp() throws Exception {
        session = new SessionInfo("1", "alice@example.com", Set.of("staff"), "imap", InetAddress.getLoopbackAddress(), true);
        policies = chain.equals("empty") ? PolicyChain.EMPTY : new PolicyChain(builtins());
        for (Policy p : policies.policies()) {
            p.loginPolicies().forEach(l -> l.onLogin(session, new LoginVerdict())); // opens the rate bucket
        }
        wires = new byte[COMMANDS.length][];
        argumentIndexes = new int[COMMANDS.length];
        tags = new String[COMMANDS.length];
        names = new String[COMMANDS.length];
        for (int i = 0; i < COMMANDS.length; i++) {
            Command c = Command.parse(COMMANDS[i]);
            wires[i] = (COMMANDS[i] + "\r\n").getBytes(StandardCharsets.UTF_8);
            argumentIndexes[i] = c.argumentsIndex();
            tags[i] = c.tag();
            names[i] = c.name();
        }
    }

    @Benchmark
    public void command(Blackhole bh) {
        int i = next;
        next = (i + 1) % COMMANDS.length;
        if (!policies.hasCommandPolicies()) {
            bh.consume(wires[i]); // what a session without command policies does: relay the line as it is
            return;
        }
        Command c = new Command(tags[i], names[i], wires[i].clone(), argumentIndexes[i], true, false);
        policies.command(session, c, SAME_THREAD, done);
        bh.consume(last);
    }
}
