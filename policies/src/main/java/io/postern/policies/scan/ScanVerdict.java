package io.postern.policies.scan;

import java.util.Objects;

/**
 * The outcome of scanning one attachment or message.
 *
 * @param outcome what was decided
 * @param rule which rule decided ({@code extension}, {@code media-type}, {@code file-type},
 *     {@code archive}, {@code size}, {@code sha256}, {@code clamd}), or {@code null} when clean
 * @param reason a human-readable sentence for the user or the log, or {@code null} when clean;
 *     never message content beyond a file name and a signature name
 */
public record ScanVerdict(Outcome outcome, String rule, String reason) {

    /** What a scan decided. */
    public enum Outcome {
        /** Nothing found. */
        CLEAN,
        /** A rule or the antivirus found something: refuse the content. */
        BLOCKED,
        /** The scan could not be done and the configuration says {@code fail-open}: let it pass. */
        FAILED_OPEN,
        /** The scan could not be done and the configuration says {@code fail-closed}: refuse it. */
        FAILED_CLOSED
    }

    private static final ScanVerdict CLEAN = new ScanVerdict(Outcome.CLEAN, null, null);

    public ScanVerdict {
        Objects.requireNonNull(outcome, "outcome");
        if ((outcome == Outcome.CLEAN) != (rule == null && reason == null)) {
            throw new IllegalArgumentException("a clean verdict has no rule and no reason; any other has both");
        }
    }

    public static ScanVerdict clean() {
        return CLEAN;
    }

    public static ScanVerdict blocked(String rule, String reason) {
        return new ScanVerdict(Outcome.BLOCKED, rule, reason);
    }

    /** A scan that could not be done, resolved by the configured {@code fail-open} / {@code fail-closed}. */
    public static ScanVerdict failed(boolean failOpen, String rule, String reason) {
        return new ScanVerdict(failOpen ? Outcome.FAILED_OPEN : Outcome.FAILED_CLOSED, rule, reason);
    }

    /** True when the content may pass ({@code CLEAN} or {@code FAILED_OPEN}). */
    public boolean allows() {
        return outcome == Outcome.CLEAN || outcome == Outcome.FAILED_OPEN;
    }

    /** The first verdict that refuses, else the first failure that let content pass, else clean. */
    public static ScanVerdict combine(Iterable<ScanVerdict> verdicts) {
        ScanVerdict firstFailedOpen = null;
        for (ScanVerdict v : verdicts) {
            if (!v.allows()) {
                return v;
            }
            if (v.outcome == Outcome.FAILED_OPEN && firstFailedOpen == null) {
                firstFailedOpen = v;
            }
        }
        return firstFailedOpen != null ? firstFailedOpen : CLEAN;
    }
}
