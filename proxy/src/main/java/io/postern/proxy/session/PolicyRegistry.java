package io.postern.proxy.session;

import io.postern.policies.engine.PolicySet;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The policy entries new sessions choose their chain from. A reload replaces them; a session
 * keeps the chain it chose at login, so only sessions that log in afterwards see the change.
 * Thread-safe.
 */
public final class PolicyRegistry {

    private final AtomicReference<PolicySet> current;

    public PolicyRegistry(PolicySet initial) {
        this.current = new AtomicReference<>(initial);
    }

    public PolicySet current() {
        return current.get();
    }

    public void replace(PolicySet policies) {
        current.set(policies);
    }
}
