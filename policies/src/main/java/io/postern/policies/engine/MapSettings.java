package io.postern.policies.engine;

import io.postern.policies.PolicyConfigException;
import io.postern.policies.PolicySettings;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;

/**
 * {@link PolicySettings} over plain Java values (maps, lists, strings, numbers, booleans), for
 * policy unit tests, benchmarks and programs that embed the engine without Postern's YAML
 * reader. Sizes and durations are numbers (bytes, milliseconds) or text such as {@code 64KiB} or
 * {@code 2s}. Postern itself reads its configuration file with its own, stricter reader.
 */
public final class MapSettings implements PolicySettings {

    private final Object value;
    private final String path;

    public MapSettings(Map<String, ?> root, String path) {
        this((Object) root, path);
    }

    private MapSettings(Object value, String path) {
        this.value = value;
        this.path = path;
    }

    @Override
    public String path() {
        return path;
    }

    @Override
    public boolean isMissing() {
        return value == null;
    }

    @Override
    public PolicySettings requireKeys(Set<String> known) throws PolicyConfigException {
        for (String key : entries().keySet()) {
            if (!known.contains(key)) {
                throw get(key).error("unknown key (known keys: " + String.join(", ", new TreeSet<>(known)) + ")");
            }
        }
        return this;
    }

    @Override
    public PolicySettings get(String key) {
        Object child = value instanceof Map<?, ?> m ? m.get(key) : null;
        return new MapSettings(child, path.isEmpty() ? key : path + "." + key);
    }

    @Override
    public List<PolicySettings> list() throws PolicyConfigException {
        List<PolicySettings> items = new ArrayList<>();
        if (value == null) {
            return items;
        }
        if (!(value instanceof List<?> l)) {
            throw error("expected a list");
        }
        for (int i = 0; i < l.size(); i++) {
            items.add(new MapSettings(l.get(i), path + "[" + i + "]"));
        }
        return items;
    }

    @Override
    public Map<String, PolicySettings> entries() throws PolicyConfigException {
        Map<String, PolicySettings> entries = new LinkedHashMap<>();
        if (value == null) {
            return entries;
        }
        if (!(value instanceof Map<?, ?> m)) {
            throw error("expected a mapping");
        }
        for (Object key : m.keySet()) {
            entries.put(String.valueOf(key), get(String.valueOf(key)));
        }
        return entries;
    }

    @Override
    public String string(String fallback) throws PolicyConfigException {
        if (value == null) {
            return fallback;
        }
        if (value instanceof Map || value instanceof List || value instanceof Boolean) {
            throw error("expected a string");
        }
        return String.valueOf(value);
    }

    @Override
    public List<String> strings() throws PolicyConfigException {
        List<String> out = new ArrayList<>();
        if (value instanceof String s) {
            out.add(s);
            return out;
        }
        for (PolicySettings item : list()) {
            out.add(item.string(null));
        }
        return out;
    }

    @Override
    public boolean bool(boolean fallback) throws PolicyConfigException {
        if (value == null) {
            return fallback;
        }
        if (!(value instanceof Boolean b)) {
            throw error("expected true or false");
        }
        return b;
    }

    @Override
    public long integer(long fallback, long min, long max) throws PolicyConfigException {
        return size(fallback, min, max);
    }

    @Override
    public long size(long fallback, long min, long max) throws PolicyConfigException {
        if (value == null) {
            return fallback;
        }
        long n;
        if (value instanceof Number number) {
            n = number.longValue();
        } else {
            String t = String.valueOf(value).trim().toLowerCase(java.util.Locale.ROOT);
            long unit = t.endsWith("kib") ? 1L << 10 : t.endsWith("mib") ? 1L << 20 : t.endsWith("gib") ? 1L << 30 : 1;
            try {
                n = Long.parseLong(unit == 1 ? t : t.substring(0, t.length() - 3).trim()) * unit;
            } catch (NumberFormatException e) {
                throw error("expected a number or a size such as 64KiB");
            }
        }
        if (n < min || n > max) {
            throw error(n + " is out of range (expected: " + min + " to " + max + ")");
        }
        return n;
    }

    @Override
    public Duration duration(Duration fallback, Duration min) throws PolicyConfigException {
        if (value == null) {
            return fallback;
        }
        Duration d;
        if (value instanceof Number number) {
            d = Duration.ofMillis(number.longValue());
        } else {
            String t = String.valueOf(value).trim();
            try {
                d = t.endsWith("ms") ? Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)))
                        : Duration.parse("PT" + t.toUpperCase(java.util.Locale.ROOT));
            } catch (RuntimeException e) {
                throw error("expected a duration such as 500ms or 2s");
            }
        }
        if (d.compareTo(min) < 0) {
            throw error(value + " is too short");
        }
        return d;
    }

    @Override
    public List<Predicate<InetAddress>> addressBlocks() throws PolicyConfigException {
        List<Predicate<InetAddress>> blocks = new ArrayList<>();
        for (String text : strings()) {
            int slash = text.indexOf('/');
            if (!(slash < 0 ? text : text.substring(0, slash)).matches("[0-9a-fA-F:.]+")) {
                throw error("\"" + text + "\" is not an address block such as 10.0.0.0/8");
            }
            byte[] network;
            try {
                network = InetAddress.getByName(slash < 0 ? text : text.substring(0, slash)).getAddress();
            } catch (UnknownHostException e) {
                throw error("\"" + text + "\" is not an address block");
            }
            int prefix = slash < 0 ? network.length * 8 : Integer.parseInt(text.substring(slash + 1));
            blocks.add(a -> {
                byte[] b = a.getAddress();
                if (b.length != network.length) {
                    return false;
                }
                for (int bit = 0; bit < prefix; bit++) {
                    int mask = 0x80 >> (bit % 8);
                    if ((b[bit / 8] & mask) != (network[bit / 8] & mask)) {
                        return false;
                    }
                }
                return true;
            });
        }
        return blocks;
    }

    @Override
    public PolicyConfigException error(String problem) {
        return new PolicyConfigException((path.isEmpty() ? "(top level)" : path) + ": " + problem);
    }
}
