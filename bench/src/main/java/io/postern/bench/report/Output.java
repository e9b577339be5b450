package io.postern.bench.report;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Where results go: the JSON line to standard output (or appended to a file), the table to standard error. */
public final class Output {

    private Output() {}

    public static void emit(RunResult result, Path json) {
        json(result.toJson(), json);
        System.err.print(result.toTable());
        System.err.flush();
    }

    public static void json(String line, Path json) {
        if (json == null) {
            System.out.println(line);
            System.out.flush();
            return;
        }
        try {
            Files.writeString(json, line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + json, e);
        }
    }
}
