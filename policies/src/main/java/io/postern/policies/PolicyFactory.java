package io.postern.policies;

/**
 * Makes policies of one type from their configuration. Found with {@link java.util.ServiceLoader}:
 * a jar on the class path lists its factories in
 * {@code META-INF/services/io.postern.policies.PolicyFactory}; the built-in ones ({@code acl},
 * {@code capabilities}, {@code audit}) are found the same way. In the configuration, a policy entry names its
 * type as a key whose value is the policy's own settings:
 *
 * <pre>{@code
 * policies:
 *   - name: auditors-read-only
 *     match: { groups: [auditors] }
 *     acl: { read_only: true }       # handed to the factory whose type() is "acl"
 * }</pre>
 *
 * <p>{@link #create} runs at start and at each reload, on a thread of its own, not on an event
 * loop; it validates the whole sub-tree and reports the first problem with
 * {@link PolicySettings#error}, which names the key path. Implementations need a public
 * no-argument constructor.
 */
public interface PolicyFactory {

    /** The key that selects this factory in a policy entry: lower case, {@code [a-z][a-z0-9_]*}. */
    String type();

    /**
     * A policy for one configuration entry.
     *
     * @param name the entry's name ({@code policies[].name})
     * @param settings the sub-tree under the entry's type key
     * @throws PolicyConfigException for a setting that is missing, unknown or invalid
     */
    Policy create(String name, PolicySettings settings) throws PolicyConfigException;
}
