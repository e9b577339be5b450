/**
 * The policy SPI. A {@link io.postern.policies.PolicyFactory} (found with
 * {@link java.util.ServiceLoader}) turns a configuration entry into a
 * {@link io.postern.policies.Policy}: a name and one small handler per event it cares about
 * ({@link io.postern.policies.LoginPolicy}, {@link io.postern.policies.CommandPolicy},
 * {@link io.postern.policies.ResponsePolicy}, {@link io.postern.policies.CapabilityPolicy},
 * {@link io.postern.policies.CompletionListener}, {@link io.postern.policies.TrafficListener},
 * {@link io.postern.policies.CloseListener}, {@link io.postern.policies.ContentPolicy}). Deciding handlers make exactly one decisive call on their verdict object, now or
 * asynchronously with a timeout and a fallback.
 *
 * <p>Threading, for every handler: called on the session's event loop (one thread per session,
 * never two at once for one session), must not block, and is shared by every session the policy
 * is selected for. Nothing here knows Netty.
 *
 * <p>{@code io.postern.policies.engine} runs chains of policies; {@code acl},
 * {@code capabilities}, {@code audit} and {@code scan} are the built-in policies.
 */
package io.postern.policies;
