package io.postern.policies.engine;

import io.postern.policies.Policy;
import io.postern.policies.SessionInfo;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Every configured policy entry with its matchers, and the static groups: what one
 * configuration says about policies. A session's chain is chosen from it once, at login
 * ({@link #chainFor}); a reload makes a new set for the sessions that log in after it, and
 * the sessions already in keep the chain they have.
 *
 * <p>Thread-safe: chains are shared between the sessions that select the same entries.
 */
public final class PolicySet {

    /** Distinct chains kept for reuse; beyond that, chains are built per session. */
    private static final int MAX_CACHED_CHAINS = 1024;

    public static final PolicySet EMPTY = new PolicySet(List.of(), Map.of());

    /**
     * @param name the entry's name
     * @param order smaller runs first; entries of equal order keep their configuration order
     * @param match whom it applies to
     * @param unless whom it does not apply to, even when {@code match} holds; {@code null} for nobody
     */
    public record Entry(String name, int order, Match match, Match unless, Policy policy) {

        boolean applies(SessionInfo s) {
            return match.matches(s) && (unless == null || !unless.matches(s));
        }

        boolean connectionLevel() {
            return match.connectionLevel() && (unless == null || unless.connectionLevel());
        }
    }

    private final List<Entry> entries;
    private final Map<String, List<Glob>> groups;
    private final Map<BitSet, PolicyChain> chains = new ConcurrentHashMap<>();

    /** @param groups group name to member names and globs */
    public PolicySet(List<Entry> entries, Map<String, List<Glob>> groups) {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparingInt(Entry::order)); // stable: configuration order within an order
        this.entries = List.copyOf(sorted);
        this.groups = Map.copyOf(groups);
    }

    public List<Entry> entries() {
        return entries;
    }

    public boolean isEmpty() {
        return entries.isEmpty();
    }

    /** The groups {@code user} belongs to. */
    public Set<String> groupsOf(String user) {
        Set<String> of = new TreeSet<>();
        groups.forEach((group, members) -> {
            if (members.stream().anyMatch(g -> g.matches(user))) {
                of.add(group);
            }
        });
        return of;
    }

    /** The chain for a logged-in session: every entry that applies, in order. */
    public PolicyChain chainFor(SessionInfo session) {
        return chain(session, false);
    }

    /**
     * The chain for a connection before login (greeting, pre-login CAPABILITY): only entries whose
     * matchers need no user (listener and client address only).
     */
    public PolicyChain connectionChain(SessionInfo connection) {
        return chain(connection, true);
    }

    private PolicyChain chain(SessionInfo s, boolean connectionOnly) {
        if (entries.isEmpty()) {
            return PolicyChain.EMPTY;
        }
        BitSet selected = new BitSet(entries.size());
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i);
            if ((!connectionOnly || e.connectionLevel()) && e.applies(s)) {
                selected.set(i);
            }
        }
        if (selected.isEmpty()) {
            return PolicyChain.EMPTY;
        }
        PolicyChain cached = chains.get(selected);
        if (cached != null) {
            return cached;
        }
        List<Policy> policies = selected.stream().mapToObj(i -> entries.get(i).policy()).toList();
        PolicyChain chain = new PolicyChain(policies);
        if (chains.size() < MAX_CACHED_CHAINS) {
            chains.putIfAbsent(selected, chain);
        }
        return chain;
    }
}
