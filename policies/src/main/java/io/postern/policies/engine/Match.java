package io.postern.policies.engine;

import io.postern.policies.SessionInfo;
import java.net.InetAddress;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Which sessions a policy entry applies to ({@code policies[].match}, {@code policies[].unless}).
 * Every condition given must hold; within one condition any item may match; an empty condition
 * holds for everyone.
 *
 * @param users user names and globs ({@code *@example.com}), ignoring case
 * @param domains the part after {@code @}, ignoring case
 * @param groups group names (see {@code groups:})
 * @param clientAddresses address blocks of the client
 * @param listeners listener names
 */
public record Match(
        List<Glob> users,
        Set<String> domains,
        Set<String> groups,
        List<Predicate<InetAddress>> clientAddresses,
        Set<String> listeners) {

    public static final Match EVERYONE = new Match(List.of(), Set.of(), Set.of(), List.of(), Set.of());

    public Match {
        users = List.copyOf(users);
        domains = Set.copyOf(domains.stream().map(d -> d.toLowerCase(Locale.ROOT)).toList());
        groups = Set.copyOf(groups);
        clientAddresses = List.copyOf(clientAddresses);
        listeners = Set.copyOf(listeners);
    }

    /** Whether this match can be decided before login (it names no user, domain or group). */
    public boolean connectionLevel() {
        return users.isEmpty() && domains.isEmpty() && groups.isEmpty();
    }

    public boolean isEmpty() {
        return connectionLevel() && clientAddresses.isEmpty() && listeners.isEmpty();
    }

    public boolean matches(SessionInfo s) {
        if (!listeners.isEmpty() && !listeners.contains(s.listener())) {
            return false;
        }
        if (!clientAddresses.isEmpty()
                && (s.clientAddress() == null || clientAddresses.stream().noneMatch(p -> p.test(s.clientAddress())))) {
            return false;
        }
        if (!users.isEmpty() && users.stream().noneMatch(g -> g.matches(s.user()))) {
            return false;
        }
        if (!domains.isEmpty() && !domains.contains(s.domain())) {
            return false;
        }
        return groups.isEmpty() || groups.stream().anyMatch(s.groups()::contains);
    }
}
