package io.postern.proxy.config;

import io.postern.policies.Policy;
import io.postern.policies.PolicyConfigException;
import io.postern.policies.PolicyFactory;
import io.postern.policies.engine.Glob;
import io.postern.policies.engine.Match;
import io.postern.policies.engine.PolicySet;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * Reads {@code groups:} and {@code policies:} into a {@link PolicySet}. Each entry names its
 * policy type as a key; that key's sub-tree goes to the {@link PolicyFactory} of that type
 * (found with {@link ServiceLoader}), which validates it.
 */
public final class PoliciesConfig {

    /** The keys of a policy entry besides its type key. */
    static final Set<String> ENTRY_KEYS = Set.of("name", "order", "match", "unless");
    static final Set<String> MATCH_KEYS = Set.of("users", "domains", "groups", "client_addresses", "listeners");

    private PoliciesConfig() {}

    /** The keys of a policy entry: {@link #ENTRY_KEYS} and the built-in policy types. */
    static Set<String> entryKeys() {
        Set<String> keys = new java.util.TreeSet<>(ENTRY_KEYS);
        keys.addAll(List.of("acl", "capabilities", "audit", "scan"));
        return keys;
    }

    /** The policy factories on the class path, by type. */
    public static Map<String, PolicyFactory> factories() {
        Map<String, PolicyFactory> byType = new TreeMap<>();
        for (PolicyFactory f : ServiceLoader.load(PolicyFactory.class, PoliciesConfig.class.getClassLoader())) {
            PolicyFactory other = byType.putIfAbsent(f.type(), f);
            if (other != null && other.getClass() != f.getClass()) {
                throw new IllegalStateException("two policy factories for type \"" + f.type() + "\": "
                        + other.getClass().getName() + " and " + f.getClass().getName());
            }
        }
        return byType;
    }

    static PolicySet read(ConfigNode groupsNode, ConfigNode policiesNode, Set<String> listenerNames) throws ConfigException {
        Map<String, List<Glob>> groups = new LinkedHashMap<>();
        for (Map.Entry<String, ConfigNode> g : groupsNode.entries().entrySet()) {
            List<Glob> members = new ArrayList<>();
            for (String m : g.getValue().strings()) {
                members.add(new Glob(m));
            }
            groups.put(g.getKey(), members);
        }
        List<ConfigNode> items = policiesNode.list();
        if (items.isEmpty()) {
            return groups.isEmpty() ? PolicySet.EMPTY : new PolicySet(List.of(), groups);
        }
        Map<String, PolicyFactory> factories = factories();
        Set<String> known = new HashSet<>(ENTRY_KEYS);
        known.addAll(factories.keySet());
        List<PolicySet.Entry> entries = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < items.size(); i++) {
            ConfigNode n = items.get(i);
            if (!n.isMapping()) {
                throw n.error("expected a mapping with a policy type (" + String.join(", ", factories.keySet()) + ")");
            }
            n.requireMapping(known);
            List<String> types = factories.keySet().stream().filter(t -> !n.get(t).isMissing()).toList();
            if (types.size() != 1) {
                throw n.error(types.isEmpty()
                        ? "no policy type (expected one of: " + String.join(", ", factories.keySet()) + ")"
                        : "one policy type per entry, found " + String.join(" and ", types));
            }
            String type = types.get(0);
            String name = n.get("name").string(type + "-" + i);
            if (!names.add(name)) {
                throw n.get("name").error("duplicate policy name \"" + name + "\"");
            }
            int order = n.get("order").integer(0, -1_000_000, 1_000_000);
            Match match = match(n.get("match"), groups.keySet(), listenerNames);
            Match unless = n.get("unless").isMissing() ? null : match(n.get("unless"), groups.keySet(), listenerNames);
            Policy policy;
            try {
                policy = factories.get(type).create(name, new PolicySettingsNode(n.get(type)));
            } catch (PolicyConfigException e) {
                throw new ConfigException(e.getMessage());
            } catch (RuntimeException e) {
                throw n.get(type).error("the " + type + " policy failed to start: " + e);
            }
            entries.add(new PolicySet.Entry(name, order, match, unless, policy));
        }
        return new PolicySet(entries, groups);
    }

    private static Match match(ConfigNode m, Set<String> groups, Set<String> listeners) throws ConfigException {
        if (m.isMissing()) {
            return Match.EVERYONE;
        }
        m.requireMapping(MATCH_KEYS);
        List<Glob> users = m.get("users").strings().stream().map(Glob::new).toList();
        List<String> groupNames = m.get("groups").strings();
        for (int i = 0; i < groupNames.size(); i++) {
            if (!groups.contains(groupNames.get(i))) {
                throw m.get("groups").list().get(i).error("unknown group \"" + groupNames.get(i) + "\" (define it under groups)");
            }
        }
        List<String> listenerNames = m.get("listeners").strings();
        for (int i = 0; i < listenerNames.size(); i++) {
            if (!listeners.contains(listenerNames.get(i))) {
                throw m.get("listeners").list().get(i).error("unknown listener \"" + listenerNames.get(i) + "\"");
            }
        }
        return new Match(users, Set.copyOf(m.get("domains").strings()), Set.copyOf(groupNames),
                addressBlocks(m.get("client_addresses")), Set.copyOf(listenerNames));
    }

    static List<Predicate<InetAddress>> addressBlocks(ConfigNode n) throws ConfigException {
        List<Predicate<InetAddress>> blocks = new ArrayList<>();
        for (String text : n.strings()) {
            Cidr cidr = Cidr.parse(n, text);
            blocks.add(cidr::contains);
        }
        return blocks;
    }
}
