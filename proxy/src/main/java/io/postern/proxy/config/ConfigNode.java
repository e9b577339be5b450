package io.postern.proxy.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A YAML node with its key path, so every error can say where it is
 * ({@code listeners[1].bind: ...}). Reading is strict: a key that no record knows is an error.
 */
final class ConfigNode {

    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib)", Pattern.CASE_INSENSITIVE);
    private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)", Pattern.CASE_INSENSITIVE);

    private final JsonNode node;
    private final String path;
    /** Relative file names in the configuration are relative to the configuration file's directory. */
    private final Path baseDir;

    ConfigNode(JsonNode node, String path, Path baseDir) {
        this.node = node;
        this.path = path;
        this.baseDir = baseDir;
    }

    String path() {
        return path;
    }

    boolean isMissing() {
        return node == null || node.isMissingNode() || node.isNull();
    }

    boolean isMapping() {
        return node != null && node.isObject();
    }

    ConfigNode get(String key) {
        JsonNode child = node == null ? null : node.get(key);
        return new ConfigNode(child, path.isEmpty() ? key : path + "." + key, baseDir);
    }

    ConfigException error(String problem) {
        return ConfigException.at(path, problem);
    }

    /** Fails on any key of this mapping that is not in {@code known}. */
    ConfigNode requireMapping(Set<String> known) throws ConfigException {
        if (isMissing()) {
            return this;
        }
        if (!node.isObject()) {
            throw error("expected a mapping, found " + describe());
        }
        Iterator<String> names = node.fieldNames();
        while (names.hasNext()) {
            String name = names.next();
            if (!known.contains(name)) {
                throw get(name).error("unknown key (known keys: " + String.join(", ", known.stream().sorted().toList()) + ")");
            }
        }
        return this;
    }

    List<ConfigNode> list() throws ConfigException {
        List<ConfigNode> items = new ArrayList<>();
        if (isMissing()) {
            return items;
        }
        if (!node.isArray()) {
            throw error("expected a list, found " + describe());
        }
        for (int i = 0; i < node.size(); i++) {
            items.add(new ConfigNode(node.get(i), path + "[" + i + "]", baseDir));
        }
        return items;
    }

    Map<String, ConfigNode> entries() throws ConfigException {
        Map<String, ConfigNode> entries = new LinkedHashMap<>();
        if (isMissing()) {
            return entries;
        }
        if (!node.isObject()) {
            throw error("expected a mapping, found " + describe());
        }
        node.fieldNames().forEachRemaining(name -> entries.put(name, get(name)));
        return entries;
    }

    String string(String fallback) throws ConfigException {
        if (isMissing()) {
            return fallback;
        }
        if (!node.isValueNode() || node.isBoolean()) {
            throw error("expected a string, found " + describe());
        }
        return node.asText();
    }

    String requiredString() throws ConfigException {
        String value = string(null);
        if (value == null || value.isBlank()) {
            throw error("required");
        }
        return value;
    }

    /** A file name, resolved against the configuration file's directory; {@code null} when absent. */
    Path file(boolean mustExist) throws ConfigException {
        String name = string(null);
        if (name == null || name.isBlank()) {
            return null;
        }
        Path file = baseDir.resolve(name).normalize();
        if (mustExist && !Files.isReadable(file)) {
            throw error("cannot read file " + file);
        }
        return file;
    }

    List<String> strings() throws ConfigException {
        List<String> values = new ArrayList<>();
        if (!isMissing() && node.isValueNode() && !node.isBoolean()) {
            values.add(node.asText()); // a single value where a list is expected
            return values;
        }
        for (ConfigNode item : list()) {
            values.add(item.requiredString());
        }
        return values;
    }

    boolean bool(boolean fallback) throws ConfigException {
        if (isMissing()) {
            return fallback;
        }
        if (!node.isBoolean()) {
            throw error("expected true or false, found " + describe());
        }
        return node.booleanValue();
    }

    String oneOf(String fallback, String... allowed) throws ConfigException {
        String value = string(fallback).toLowerCase(Locale.ROOT);
        for (String a : allowed) {
            if (a.equals(value)) {
                return value;
            }
        }
        throw error("\"" + value + "\" is not one of " + String.join(", ", allowed));
    }

    /** A byte count: a number, or a number with a unit (k, KiB, m, MiB, g, GiB; powers of 1024). */
    long size(long fallback, long min, long max) throws ConfigException {
        if (isMissing()) {
            return fallback;
        }
        long value;
        if (node.isIntegralNumber()) {
            value = node.longValue();
        } else {
            Matcher m = SIZE.matcher(node.asText().trim());
            if (!node.isTextual() || !m.matches()) {
                throw error("expected a size such as 65536, 64KiB or 64MiB, found " + describe());
            }
            long unit = switch (m.group(2).toLowerCase(Locale.ROOT)) {
                case "k", "kb", "kib" -> 1L << 10;
                case "m", "mb", "mib" -> 1L << 20;
                case "g", "gb", "gib" -> 1L << 30;
                default -> 1;
            };
            try {
                value = Math.multiplyExact(Long.parseLong(m.group(1)), unit);
            } catch (ArithmeticException | NumberFormatException e) {
                throw error("size too large: " + node.asText());
            }
        }
        if (value < min || value > max) {
            throw error(value + " is out of range (expected: " + min + " to " + max + ")");
        }
        return value;
    }

    int integer(int fallback, int min, int max) throws ConfigException {
        return (int) size(fallback, min, max);
    }

    /** A duration such as 500ms, 60s, 35m, 1h or 1d. */
    Duration duration(Duration fallback, Duration min) throws ConfigException {
        if (isMissing()) {
            return fallback;
        }
        Matcher m = DURATION.matcher(node.asText().trim());
        if (!node.isTextual() || !m.matches()) {
            throw error("expected a duration such as 500ms, 60s, 35m or 1h, found " + describe());
        }
        long n = Long.parseLong(m.group(1));
        Duration d = switch (m.group(2).toLowerCase(Locale.ROOT)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofDays(n);
        };
        if (d.compareTo(min) < 0) {
            throw error(node.asText() + " is too short (expected: at least " + min.toMillis() + "ms)");
        }
        return d;
    }

    private String describe() {
        if (node.isObject()) {
            return "a mapping";
        }
        if (node.isArray()) {
            return "a list";
        }
        return "\"" + node.asText() + "\"";
    }
}
