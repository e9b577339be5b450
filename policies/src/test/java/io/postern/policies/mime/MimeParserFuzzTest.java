package io.postern.policies.mime;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.List;

/**
 * Coverage-guided fuzzing of {@link MimeParser} (Jazzer; a plain {@code mvn verify} replays the
 * committed inputs, {@code JAZZER_FUZZ=1} fuzzes: see {@code .ci/fuzz.sh}). Input: byte 0 picks
 * the chunk sizes (1 to 16, cycling through the next three bytes' low bits), the rest is the
 * message. Small limits ({@value #HEADER} header bytes, depth {@value #DEPTH}, {@value #PARTS}
 * parts) so that the fuzzer reaches every limit. Checks:
 * <ul>
 *   <li>nothing is thrown (the parser's only documented exceptions are for misuse);
 *   <li>what the parser retains never exceeds {@link MimeParser#retainedBytesBound}, after every chunk;
 *   <li>the message whole and in chunks gives the same events, defects and offsets;
 *   <li>offsets are ordered ({@code headerStart <= bodyStart <= end <= length}), each part lies
 *       inside its parent, and the root ends at the message's end.
 * </ul>
 * The committed inputs are messages of the unit tests' corpus: nested multiparts, encoded file
 * names, and malformed ones.
 */
class MimeParserFuzzTest {

    static final int HEADER = 512;
    static final int DEPTH = 4;
    static final int PARTS = 40;
    private static final MimeParserConfig CONFIG = new MimeParserConfig(HEADER, DEPTH, PARTS);
    private static final long BOUND = MimeParser.retainedBytesBound(CONFIG);

    @FuzzTest(maxDuration = "5m")
    void parse(byte[] input) {
        int header = Math.min(4, input.length);
        int[] sizes = new int[Math.max(1, header - 1)];
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = 1 + ((header > i + 1 ? input[i + 1] : input.length == 0 ? 0 : input[0]) & 15);
        }
        int from = header;

        EventLog whole = new EventLog(false);
        MimeParser one = new MimeParser(CONFIG, whole);
        one.feed(input, from, input.length - from);
        one.finish();
        checkRetained(one);

        EventLog split = new EventLog(false);
        MimeParser chunked = new MimeParser(CONFIG, split);
        int k = 0;
        for (int i = from; i < input.length; ) {
            int n = Math.min(sizes[k++ % sizes.length], input.length - i);
            chunked.feed(input, i, n);
            checkRetained(chunked);
            i += n;
        }
        chunked.finish();

        if (!whole.events.equals(split.events)) {
            throw new AssertionError("whole and in chunks of " + java.util.Arrays.toString(sizes) + " differ:\n"
                    + whole.events + "\n" + split.events);
        }
        checkOffsets(one.parts(), input.length - from);
    }

    private static void checkRetained(MimeParser parser) {
        if (parser.retainedBytes() > BOUND) {
            throw new AssertionError("retains " + parser.retainedBytes() + " bytes, over the bound " + BOUND);
        }
    }

    private static void checkOffsets(List<MimePart> parts, long length) {
        if (parts.get(0).end() != length) {
            throw new AssertionError("the root ends at " + parts.get(0).end() + ", the message at " + length);
        }
        if (parts.size() > PARTS) {
            throw new AssertionError(parts.size() + " parts, over the limit " + PARTS);
        }
        for (MimePart p : parts) {
            if (p.headerStart() < 0 || p.bodyStart() < p.headerStart() || p.end() < p.bodyStart() || p.end() > length) {
                throw new AssertionError("disordered offsets: " + p + " " + p.headerStart() + "/" + p.bodyStart() + "/" + p.end());
            }
            if (p.depth() > DEPTH) {
                throw new AssertionError("deeper than the limit: " + p);
            }
            if (p.parentIndex() >= 0) {
                MimePart parent = parts.get(p.parentIndex());
                if (p.headerStart() < parent.bodyStart() || p.end() > parent.end()) {
                    throw new AssertionError(p + " lies outside its parent " + parent);
                }
            }
        }
    }
}
