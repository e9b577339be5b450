package io.postern.bench.workload;

import java.util.Locale;
import picocli.CommandLine.ITypeConverter;

/** {@code 4096}, {@code 64KiB}, {@code 25MiB}, {@code 1GiB} (also {@code k}, {@code m}, {@code g}, {@code KB}, {@code MB}: powers of 1024). */
public final class SizeConverter implements ITypeConverter<Long> {

    @Override
    public Long convert(String value) {
        return parse(value);
    }

    public static long parse(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT).replace("ib", "").replace("b", "");
        long unit = 1;
        if (v.endsWith("k")) {
            unit = 1024;
        } else if (v.endsWith("m")) {
            unit = 1024 * 1024;
        } else if (v.endsWith("g")) {
            unit = 1024L * 1024 * 1024;
        }
        String digits = unit == 1 ? v : v.substring(0, v.length() - 1);
        try {
            return Long.parseLong(digits.trim()) * unit;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("size: " + value + " (expected: bytes, or a number with KiB, MiB or GiB)");
        }
    }
}
