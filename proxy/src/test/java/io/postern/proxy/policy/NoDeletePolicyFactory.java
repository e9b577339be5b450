package io.postern.proxy.policy;

import io.postern.policies.Policy;
import io.postern.policies.PolicyConfigException;
import io.postern.policies.PolicyFactory;
import io.postern.policies.PolicySettings;
import io.postern.policies.TimeoutFallback;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A third-party policy as the README shows it, found by {@code ServiceLoader} from this test
 * class path's {@code META-INF/services}: DELETE is refused. With {@code decide_after}, it
 * decides asynchronously, from another thread, after that long (to test the async path).
 */
public final class NoDeletePolicyFactory implements PolicyFactory {

    @Override
    public String type() {
        return "no_delete";
    }

    @Override
    public Policy create(String name, PolicySettings settings) throws PolicyConfigException {
        settings.requireKeys(Set.of("message", "decide_after"));
        String message = settings.get("message").string("Mailboxes cannot be deleted here.");
        Duration after = settings.get("decide_after").duration(Duration.ZERO, Duration.ZERO);
        return Policy.builder(name)
                .onCommand((session, command, verdict) -> {
                    Runnable decide = () -> {
                        if (command.name().equals("DELETE")) {
                            verdict.no("NOPERM", message);
                        } else {
                            verdict.proceed();
                        }
                    };
                    if (after.isZero()) {
                        decide.run();
                    } else {
                        verdict.async(Duration.ofSeconds(10), TimeoutFallback.REJECT);
                        CompletableFuture.runAsync(decide,
                                CompletableFuture.delayedExecutor(after.toMillis(), TimeUnit.MILLISECONDS));
                    }
                })
                .build();
    }
}
