package io.postern.policies.audit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;

/**
 * Checks audit log files against their key: every record's MAC chained from the one before,
 * sequence numbers rising by one from 1, across the files in chain order (the files are put in
 * the order of their first records, so a shell glob's order does not matter). Stops at the
 * first finding: an altered record, a missing or reordered one, a {@code gap} record (events
 * dropped while the sink was full), a line that is not a record, or a torn last line (a write
 * cut short by a crash).
 */
public final class AuditVerifier {

    private static final Pattern HEAD = Pattern.compile("^\\{\"v\":(\\d+),\"seq\":(\\d+),");
    private static final Pattern GAP = Pattern.compile(",\"type\":\"gap\",\"dropped\":(\\d+)");

    /** What verifying found. {@code ok} only when nothing was. */
    public record Result(boolean ok, long records, long lastSeq, String finding) {
        public String describe() {
            return ok ? "OK: " + records + " records, seq 1.." + lastSeq + ", chain intact" : finding;
        }
    }

    private record Line(Path file, int number, byte[] bytes, boolean terminated) {
        String where() {
            return file + ":" + number;
        }
    }

    private AuditVerifier() {}

    public static Result verify(byte[] key, List<Path> files) throws IOException {
        List<List<Line>> perFile = new ArrayList<>();
        for (Path f : files) {
            perFile.add(lines(f));
        }
        perFile.sort(Comparator.comparingLong(AuditVerifier::firstSeq));
        List<Line> all = new ArrayList<>();
        perFile.forEach(all::addAll);

        Mac mac = AuditChain.newMac(key);
        byte[] previous = new byte[32];
        long expected = 1;
        long records = 0;
        for (int i = 0; i < all.size(); i++) {
            Line line = all.get(i);
            if (!line.terminated()) {
                return bad(records, expected - 1, line.where() + ": torn last line (" + line.bytes().length
                        + " bytes without a line end, a write cut short); the " + records + " records before it verify");
            }
            String text = new String(line.bytes(), StandardCharsets.UTF_8);
            long seq = seqOf(text);
            int macAt = text.lastIndexOf(AuditChain.MAC_FIELD);
            if (seq < 0 || macAt < 0 || text.length() != macAt + AuditChain.MAC_FIELD.length() + AuditChain.MAC_HEX + 2
                    || !text.endsWith("\"}")) {
                return bad(records, expected - 1, line.where() + ": not an audit record (after seq " + (expected - 1) + ")");
            }
            if (seq != expected) {
                if (seq > expected && !laterHas(all, i + 1, expected)) {
                    return bad(records, expected - 1, line.where() + ": record seq " + seq + " follows seq " + (expected - 1)
                            + ": " + (seq - expected) + " record(s) missing (seq " + expected
                            + (seq - expected > 1 ? ".." + (seq - 1) : "") + ")");
                }
                return bad(records, expected - 1, line.where() + ": record seq " + seq + " where seq " + expected
                        + " was expected: records reordered or repeated");
            }
            byte[] stated;
            try {
                stated = HexFormat.of().parseHex(text, macAt + AuditChain.MAC_FIELD.length(),
                        macAt + AuditChain.MAC_FIELD.length() + AuditChain.MAC_HEX);
            } catch (IllegalArgumentException e) {
                return bad(records, expected - 1, line.where() + ": record seq " + seq + ": its mac is not hex");
            }
            String canonical = text.substring(0, macAt) + "}";
            byte[] computed = AuditChain.mac(mac, previous, canonical.getBytes(StandardCharsets.UTF_8));
            if (!AuditChain.same(computed, stated)) {
                return bad(records, expected - 1, line.where() + ": record seq " + seq
                        + ": MAC does not match (the record was altered, or the key is not the one it was written with)");
            }
            Matcher gap = GAP.matcher(text);
            if (gap.find()) {
                return bad(records, seq, line.where() + ": record seq " + seq + " is a gap record: " + gap.group(1)
                        + " event(s) were dropped before it (the sink was full)");
            }
            previous = stated;
            expected++;
            records++;
        }
        if (records == 0) {
            return bad(0, 0, "no records in " + files);
        }
        return new Result(true, records, expected - 1, null);
    }

    private static Result bad(long records, long lastSeq, String finding) {
        return new Result(false, records, lastSeq, finding);
    }

    private static boolean laterHas(List<Line> all, int from, long seq) {
        for (int i = from; i < all.size(); i++) {
            if (seqOf(new String(all.get(i).bytes(), StandardCharsets.UTF_8)) == seq) {
                return true;
            }
        }
        return false;
    }

    static long seqOf(String line) {
        Matcher m = HEAD.matcher(line);
        if (!m.find() || m.group(2).length() > 18) {
            return -1;
        }
        return Long.parseLong(m.group(2));
    }

    private static long firstSeq(List<Line> lines) {
        for (Line l : lines) {
            long s = seqOf(new String(l.bytes(), StandardCharsets.UTF_8));
            if (s >= 0) {
                return s;
            }
        }
        return Long.MAX_VALUE;
    }

    private static List<Line> lines(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        List<Line> out = new ArrayList<>();
        int start = 0;
        int number = 1;
        for (int i = 0; i < all.length; i++) {
            if (all[i] == '\n') {
                out.add(new Line(file, number++, java.util.Arrays.copyOfRange(all, start, i), true));
                start = i + 1;
            }
        }
        if (start < all.length) {
            out.add(new Line(file, number, java.util.Arrays.copyOfRange(all, start, all.length), false));
        }
        return out;
    }
}
