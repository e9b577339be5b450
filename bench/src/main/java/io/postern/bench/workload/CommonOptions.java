package io.postern.bench.workload;

import io.postern.bench.client.Credentials;
import io.postern.bench.client.Target;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Option;

/** Options every workload takes. */
public final class CommonOptions {

    @Option(names = "--target", description = "imap://HOST:PORT, imap+starttls://HOST:PORT or imaps://HOST:PORT (not with compare).")
    String target;

    @Option(names = "--trust-all", description = "Accept any TLS certificate (loopback tests only).")
    boolean trustAll;

    @Option(names = "--user", description = "User name; with --user-count N, a %%d in it becomes 0..N-1 (default ${DEFAULT-VALUE}).")
    String user = "bench";

    @Option(names = "--user-count", description = "Users the sessions are spread over (default ${DEFAULT-VALUE}).")
    int userCount = 1;

    @Option(names = "--password", description = "Password of every user (default ${DEFAULT-VALUE}).")
    String password = "bench";

    @Option(names = "--time", description = "Longest a run may take, e.g. 60s or 5m (default ${DEFAULT-VALUE}).",
            converter = DurationConverter.class)
    Duration time = Duration.ofSeconds(120);

    @Option(names = "--threads", description = "Driver event-loop threads (default ${DEFAULT-VALUE}).")
    int threads = 1;

    @Option(names = "--compress", description = "COMPRESS=DEFLATE (RFC 4978) on every session after login.")
    boolean compress;

    @Option(names = "--json", description = "Append the JSON result line(s) to this file instead of standard output.")
    Path json;

    public Credentials credentials() {
        return new Credentials(user, userCount, password);
    }

    public Target target(String spec) {
        return Target.parse(spec, trustAll);
    }

    public Duration time() {
        return time;
    }

    public int threads() {
        return threads;
    }

    public boolean compress() {
        return compress;
    }

    public Path json() {
        return json;
    }

    public String target() {
        return target;
    }
}
