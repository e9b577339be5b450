package io.postern.bench.workload;

import java.io.File;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The memory of another process: resident set from {@code /proc/PID/status}, a JVM's heap through {@code jcmd}. */
final class ProcessMemory {

    private final long pid;
    private final String jcmd;

    ProcessMemory(long pid, String jcmd) {
        this.pid = pid;
        this.jcmd = jcmd;
    }

    /** VmRSS in KiB. */
    long rssKib() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"), StandardCharsets.US_ASCII)) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.substring(6).replace("kB", "").trim());
            }
        }
        throw new IOException("no VmRSS in /proc/" + pid + "/status");
    }

    /** {@code jcmd PID GC.run}: a full collection. */
    void gc() throws IOException {
        jcmd("GC.run");
    }

    /**
     * Used heap in KiB, from {@code jcmd PID GC.heap_info}: the sum of the "used" figures of the
     * heap or generation lines (metaspace excluded).
     */
    long heapUsedKib() throws IOException {
        long used = 0;
        boolean found = false;
        for (String line : jcmd("GC.heap_info").split("\n")) {
            String l = line.trim();
            if (l.contains("total") && l.contains("used") && !l.startsWith("Metaspace") && !l.startsWith("class space")) {
                int at = l.indexOf("used ") + 5;
                int end = at;
                while (end < l.length() && Character.isDigit(l.charAt(end))) {
                    end++;
                }
                long value = Long.parseLong(l.substring(at, end));
                char unit = end < l.length() ? l.charAt(end) : 'K';
                used += unit == 'M' ? value * 1024 : unit == 'G' ? value * 1024 * 1024 : unit == 'K' ? value : value / 1024;
                found = true;
            }
        }
        if (!found) {
            throw new IOException("no heap figures in jcmd " + pid + " GC.heap_info");
        }
        return used;
    }

    private String jcmd(String command) throws IOException {
        Path output = Files.createTempFile("postern-bench-jcmd-", ".out");
        try {
            Process p = new ProcessBuilder(List.of(jcmd, Long.toString(pid), command))
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectErrorStream(true).redirectOutput(output.toFile()).start();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(jcmd + " " + pid + " " + command + " did not finish within 60 s");
            }
            String text = Files.readString(output, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new IOException(jcmd + " " + pid + " " + command + " exited with " + p.exitValue() + ": " + text);
            }
            return text;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while running jcmd");
        } finally {
            Files.deleteIfExists(output);
        }
    }
}
