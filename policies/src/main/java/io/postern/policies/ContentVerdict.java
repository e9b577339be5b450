package io.postern.policies;

import java.util.List;
import java.util.Objects;

/**
 * What a {@link ContentInspector} decided about one message.
 *
 * @param kind pass, refuse, or (downloads only) pass with parts replaced
 * @param result a low-cardinality word for metrics and logs: {@code clean}, {@code blocked},
 *     {@code failed_open}, {@code failed_closed}
 * @param code the IMAP response code of a refusal ({@code POLICY}, {@code UNAVAILABLE}), else {@code null}
 * @param reason a human-readable sentence for the client; {@code null} when passed clean. Never message content
 *     beyond a file name and a signature name
 * @param replacements for {@link Kind#REPLACE}: byte ranges of the message and what stands in for
 *     them, in order, not overlapping; empty otherwise
 */
public record ContentVerdict(Kind kind, String result, String code, String reason, List<Replacement> replacements) {

    /** The decision. */
    public enum Kind {
        /** The message goes on as it is. */
        PASS,
        /** The message does not go on: an upload is answered {@code NO [code] reason}, a download item is refused. */
        REFUSE,
        /** A download goes on with {@link #replacements()} applied. */
        REPLACE
    }

    /** Bytes {@code [start, end)} of the message are replaced by {@code bytes}. */
    public record Replacement(long start, long end, byte[] bytes) {
        public Replacement {
            if (start < 0 || end < start) {
                throw new IllegalArgumentException("range [" + start + ", " + end + ")");
            }
            Objects.requireNonNull(bytes, "bytes");
        }
    }

    public ContentVerdict {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(result, "result");
        replacements = List.copyOf(replacements);
        long at = 0;
        for (Replacement r : replacements) {
            if (r.start() < at) {
                throw new IllegalArgumentException("replacements overlap or are out of order");
            }
            at = r.end();
        }
        if ((kind == Kind.REPLACE) == replacements.isEmpty()) {
            throw new IllegalArgumentException("a REPLACE verdict, and only that, has replacements");
        }
    }

    public static ContentVerdict pass(String result, String reason) {
        return new ContentVerdict(Kind.PASS, result, null, reason, List.of());
    }

    public static ContentVerdict refuse(String result, String code, String reason) {
        return new ContentVerdict(Kind.REFUSE, result, code, reason, List.of());
    }

    public static ContentVerdict replace(String result, String reason, List<Replacement> replacements) {
        return new ContentVerdict(Kind.REPLACE, result, null, reason, replacements);
    }

    /** Whether the message goes on (as it is, or rewritten). */
    public boolean passes() {
        return kind != Kind.REFUSE;
    }
}
