package io.postern.proxy.config;

import io.postern.policies.PolicyConfigException;
import io.postern.policies.PolicySettings;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/** A policy's configuration sub-tree as the SPI sees it: a {@link ConfigNode} behind {@link PolicySettings}. */
final class PolicySettingsNode implements PolicySettings {

    private final ConfigNode node;

    PolicySettingsNode(ConfigNode node) {
        this.node = node;
    }

    @FunctionalInterface
    private interface Read<T> {
        T get() throws ConfigException;
    }

    private static <T> T read(Read<T> r) throws PolicyConfigException {
        try {
            return r.get();
        } catch (ConfigException e) {
            throw new PolicyConfigException(e.getMessage());
        }
    }

    @Override
    public String path() {
        return node.path();
    }

    @Override
    public boolean isMissing() {
        return node.isMissing();
    }

    @Override
    public PolicySettings requireKeys(Set<String> known) throws PolicyConfigException {
        read(() -> node.requireMapping(known));
        return this;
    }

    @Override
    public PolicySettings get(String key) {
        return new PolicySettingsNode(node.get(key));
    }

    @Override
    public List<PolicySettings> list() throws PolicyConfigException {
        List<PolicySettings> items = new ArrayList<>();
        for (ConfigNode n : read(node::list)) {
            items.add(new PolicySettingsNode(n));
        }
        return items;
    }

    @Override
    public Map<String, PolicySettings> entries() throws PolicyConfigException {
        Map<String, PolicySettings> entries = new LinkedHashMap<>();
        read(node::entries).forEach((k, v) -> entries.put(k, new PolicySettingsNode(v)));
        return entries;
    }

    @Override
    public String string(String fallback) throws PolicyConfigException {
        return read(() -> node.string(fallback));
    }

    @Override
    public List<String> strings() throws PolicyConfigException {
        return read(node::strings);
    }

    @Override
    public boolean bool(boolean fallback) throws PolicyConfigException {
        return read(() -> node.bool(fallback));
    }

    @Override
    public long integer(long fallback, long min, long max) throws PolicyConfigException {
        return read(() -> node.size(fallback, min, max));
    }

    @Override
    public long size(long fallback, long min, long max) throws PolicyConfigException {
        return read(() -> node.size(fallback, min, max));
    }

    @Override
    public Duration duration(Duration fallback, Duration min) throws PolicyConfigException {
        return read(() -> node.duration(fallback, min));
    }

    @Override
    public List<Predicate<InetAddress>> addressBlocks() throws PolicyConfigException {
        return read(() -> PoliciesConfig.addressBlocks(node));
    }

    @Override
    public PolicyConfigException error(String problem) {
        return new PolicyConfigException(node.error(problem).getMessage());
    }
}
