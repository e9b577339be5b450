package io.postern.policies;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * One configured policy: a name and the event handlers its {@link PolicyFactory} registered.
 * A policy registers only the events it needs; a session pays nothing for the others.
 *
 * <pre>{@code
 * Policy.builder("no-delete")
 *         .onCommand((session, command, verdict) -> {
 *             if (command.name().equals("DELETE")) {
 *                 verdict.no("NOPERM", "Mailboxes cannot be deleted here.");
 *             } else {
 *                 verdict.proceed();
 *             }
 *         })
 *         .build();
 * }</pre>
 *
 * <p>Immutable; one instance serves every session it is selected for, on every event loop, so
 * its handlers must be thread-safe.
 */
public final class Policy {

    private final String name;
    private final List<LoginPolicy> login;
    private final List<CommandPolicy> command;
    private final List<KeyedResponsePolicy> response;
    private final List<CapabilityPolicy> capabilities;
    private final List<CompletionListener> completion;
    private final List<TrafficListener> traffic;
    private final List<CloseListener> close;
    private final List<ContentPolicy> content;
    private final List<LoginFailureListener> loginFailure;
    private final List<KeyedUntaggedListener> untagged;
    private final boolean deletedUids;

    /** An untagged listener with the keywords it asked for (upper case). */
    public record KeyedUntaggedListener(Set<String> keywords, UntaggedListener listener) {}

    /** A response policy with the untagged keywords it asked for (upper case). */
    public record KeyedResponsePolicy(Set<String> keywords, ResponsePolicy policy) {}

    private Policy(Builder b) {
        this.name = b.name;
        this.login = List.copyOf(b.login);
        this.command = List.copyOf(b.command);
        this.response = List.copyOf(b.response);
        this.capabilities = List.copyOf(b.capabilities);
        this.completion = List.copyOf(b.completion);
        this.traffic = List.copyOf(b.traffic);
        this.close = List.copyOf(b.close);
        this.content = List.copyOf(b.content);
        this.loginFailure = List.copyOf(b.loginFailure);
        this.untagged = List.copyOf(b.untagged);
        this.deletedUids = b.deletedUids;
    }

    public static Builder builder(String name) {
        return new Builder(name);
    }

    /** The name from the configuration ({@code policies[].name}), used in logs. */
    public String name() {
        return name;
    }

    public List<LoginPolicy> loginPolicies() {
        return login;
    }

    public List<CommandPolicy> commandPolicies() {
        return command;
    }

    public List<KeyedResponsePolicy> responsePolicies() {
        return response;
    }

    public List<CapabilityPolicy> capabilityPolicies() {
        return capabilities;
    }

    public List<CompletionListener> completionListeners() {
        return completion;
    }

    public List<TrafficListener> trafficListeners() {
        return traffic;
    }

    public List<CloseListener> closeListeners() {
        return close;
    }

    public List<ContentPolicy> contentPolicies() {
        return content;
    }

    public List<LoginFailureListener> loginFailureListeners() {
        return loginFailure;
    }

    public List<KeyedUntaggedListener> untaggedListeners() {
        return untagged;
    }

    /** Whether completions of {@code EXPUNGE} and {@code CLOSE} should carry the UIDs flagged deleted before them. */
    public boolean wantsDeletedUids() {
        return deletedUids;
    }

    @Override
    public String toString() {
        return "Policy(" + name + ")";
    }

    /** Collects a policy's handlers; each {@code on...} may be called more than once. */
    public static final class Builder {

        private final String name;
        private final List<LoginPolicy> login = new ArrayList<>();
        private final List<CommandPolicy> command = new ArrayList<>();
        private final List<KeyedResponsePolicy> response = new ArrayList<>();
        private final List<CapabilityPolicy> capabilities = new ArrayList<>();
        private final List<CompletionListener> completion = new ArrayList<>();
        private final List<TrafficListener> traffic = new ArrayList<>();
        private final List<CloseListener> close = new ArrayList<>();
        private final List<ContentPolicy> content = new ArrayList<>();
        private final List<LoginFailureListener> loginFailure = new ArrayList<>();
        private final List<KeyedUntaggedListener> untagged = new ArrayList<>();
        private boolean deletedUids;

        private Builder(String name) {
            this.name = Objects.requireNonNull(name, "name");
        }

        public Builder onLogin(LoginPolicy p) {
            login.add(Objects.requireNonNull(p));
            return this;
        }

        public Builder onCommand(CommandPolicy p) {
            command.add(Objects.requireNonNull(p));
            return this;
        }

        /** @param keywords the untagged data keywords to see ({@code LIST}, {@code STATUS}), any case */
        public Builder onResponse(Set<String> keywords, ResponsePolicy p) {
            Set<String> upper = Set.copyOf(keywords.stream().map(k -> k.toUpperCase(Locale.ROOT)).toList());
            response.add(new KeyedResponsePolicy(upper, Objects.requireNonNull(p)));
            return this;
        }

        public Builder capabilities(CapabilityPolicy p) {
            capabilities.add(Objects.requireNonNull(p));
            return this;
        }

        public Builder onCompleted(CompletionListener l) {
            completion.add(Objects.requireNonNull(l));
            return this;
        }

        public Builder onTraffic(TrafficListener l) {
            traffic.add(Objects.requireNonNull(l));
            return this;
        }

        public Builder onClose(CloseListener l) {
            close.add(Objects.requireNonNull(l));
            return this;
        }

        public Builder onLoginFailed(LoginFailureListener l) {
            loginFailure.add(Objects.requireNonNull(l));
            return this;
        }

        /** @param keywords the untagged data keywords to be told of ({@code EXPUNGE}, {@code FETCH}), any case */
        public Builder onUntagged(Set<String> keywords, UntaggedListener l) {
            Set<String> upper = Set.copyOf(keywords.stream().map(k -> k.toUpperCase(Locale.ROOT)).toList());
            untagged.add(new KeyedUntaggedListener(upper, Objects.requireNonNull(l)));
            return this;
        }

        /**
         * Asks Postern for the UIDs an {@code EXPUNGE} or {@code CLOSE} removes
         * ({@link CommandCompletion#deletedUids}): before such a command, when no other command
         * of the client's is running, Postern sends the backend {@code UID SEARCH DELETED} under
         * a tag of its own and keeps the answer from the client. One more round trip per
         * expunge; meant for auditing.
         */
        public Builder wantsDeletedUids() {
            deletedUids = true;
            return this;
        }

        /** Message content of uploads and downloads: see {@link ContentPolicy}. */
        public Builder inspectContent(ContentPolicy p) {
            content.add(Objects.requireNonNull(p));
            return this;
        }

        public Policy build() {
            return new Policy(this);
        }
    }
}
