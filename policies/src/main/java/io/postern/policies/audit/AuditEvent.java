package io.postern.policies.audit;

import java.time.Instant;
import java.util.Collection;

/**
 * One audit event's fields as JSON text, in the order they are added: what a producer hands to
 * a sink. The sink puts {@code v} and {@code seq} in front and the {@code mac} at the end
 * ({@link AuditChain}). Values are strings, numbers, booleans or lists of strings; a
 * {@code null} value leaves the field out.
 *
 * <p>Not thread-safe while it is built; immutable once {@link #body()} was taken.
 */
public final class AuditEvent {

    private final StringBuilder json = new StringBuilder(256);

    private AuditEvent(String type, Instant at) {
        json.append("\"ts\":\"").append(at).append("\",\"type\":");
        quote(json, type);
    }

    /** An event of {@code type} ({@code login}, {@code command} ...) that happened at {@code at}. */
    public static AuditEvent of(String type, Instant at) {
        return new AuditEvent(type, at);
    }

    public AuditEvent put(String key, String value) {
        if (value != null) {
            key(key);
            quote(json, value);
        }
        return this;
    }

    public AuditEvent put(String key, long value) {
        key(key);
        json.append(value);
        return this;
    }

    public AuditEvent put(String key, boolean value) {
        key(key);
        json.append(value);
        return this;
    }

    public AuditEvent put(String key, Collection<String> values) {
        if (values != null) {
            key(key);
            json.append('[');
            boolean first = true;
            for (String v : values) {
                if (!first) {
                    json.append(',');
                }
                first = false;
                quote(json, v);
            }
            json.append(']');
        }
        return this;
    }

    private void key(String key) {
        json.append(',');
        quote(json, key);
        json.append(':');
    }

    /** The fields without braces: {@code "ts":"...","type":"...",...}. */
    public String body() {
        return json.toString();
    }

    /** Appends {@code s} as a JSON string: quotes, backslashes and control characters escaped. */
    static void quote(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20 || c == 0x7f || (Character.isSurrogate(c) && !validSurrogate(s, i))) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    private static boolean validSurrogate(String s, int i) {
        char c = s.charAt(i);
        if (Character.isHighSurrogate(c)) {
            return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
        }
        return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
    }
}
