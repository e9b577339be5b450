package io.postern.policies;

import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * A policy's configuration sub-tree, read strictly: every error names the key path
 * ({@code policies[2].acl.rate_limit.commands_per_second: ...}). Getters take the value to use
 * when the key is absent. Read-only; used by {@link PolicyFactory#create} only.
 */
public interface PolicySettings {

    /** The key path of this node, for messages. */
    String path();

    boolean isMissing();

    /** Fails on any key of this mapping that is not in {@code known}; an absent node passes. */
    PolicySettings requireKeys(Set<String> known) throws PolicyConfigException;

    PolicySettings get(String key);

    /** The items of a list (empty when absent). */
    List<PolicySettings> list() throws PolicyConfigException;

    /** The entries of a mapping, in order (empty when absent). */
    Map<String, PolicySettings> entries() throws PolicyConfigException;

    String string(String fallback) throws PolicyConfigException;

    /** A list of strings; a single string counts as a list of one. */
    List<String> strings() throws PolicyConfigException;

    boolean bool(boolean fallback) throws PolicyConfigException;

    long integer(long fallback, long min, long max) throws PolicyConfigException;

    /** A byte count such as {@code 65536}, {@code 64KiB} or {@code 1MiB}. */
    long size(long fallback, long min, long max) throws PolicyConfigException;

    /** A duration such as {@code 500ms}, {@code 2s} or {@code 1h}. */
    Duration duration(Duration fallback, Duration min) throws PolicyConfigException;

    /** A list of address blocks ({@code 10.0.0.0/8}, {@code ::1/128}, a bare address), as one predicate each. */
    List<Predicate<InetAddress>> addressBlocks() throws PolicyConfigException;

    /** An error at this node's path. */
    PolicyConfigException error(String problem);
}
