package io.postern.proxy.session;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.postern.policies.ContentVerdict;
import io.postern.policies.engine.PolicyChain;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class PartialFetchTest {

    private static ByteBuf line(String text) {
        return Unpooled.copiedBuffer(text + "\r\n", StandardCharsets.US_ASCII);
    }

    /** The command Postern sends after its lookup answered {@code uids}, with {@code known} as every verdict. */
    private static String sent(String command, ContentVerdict known, String... lookup) {
        ByteBuf line = line(command);
        int sp = command.indexOf(' ');
        String name = command.substring(sp + 1).toUpperCase().startsWith("UID ") ? "UID FETCH" : "FETCH";
        PartialFetch p = PartialFetch.parse(command.substring(0, sp), name, line, 0);
        assertThat(p).as(command).isNotNull();
        p.hold(line);
        p.lookupCommand();
        for (String l : lookup) {
            p.lookupLine(l);
        }
        assertThat(p.lookupLine(PartialFetch.LOOKUP_TAG + " OK Fetch completed.")).isEqualTo(PartialFetch.LookupLine.DONE);
        ByteBuf out = p.send((uid, item) -> known == null ? null : new PolicyChain.KnownDownload(known, 100),
                ByteBufAllocator.DEFAULT);
        try {
            return out.toString(StandardCharsets.US_ASCII);
        } finally {
            out.release();
        }
    }

    @Test
    void rangesOfContentAreWidenedToTheirWholeSections() {
        assertThat(sent("a1 FETCH 3 (BODY.PEEK[]<0.4096>)", null, "* 3 FETCH (UID 17)"))
                .isEqualTo("a1 FETCH 3 (BODY.PEEK[])\r\n");
        assertThat(sent("a2 UID FETCH 17 (UID RFC822.SIZE BODY[2]<100.200> BINARY.PEEK[1.2]<0.10> BODY.PEEK[HEADER.FIELDS (FROM TO)])",
                null, "* 3 FETCH (UID 17)"))
                .isEqualTo("a2 UID FETCH 17 (UID RFC822.SIZE BODY[2] BINARY.PEEK[1.2] BODY.PEEK[HEADER.FIELDS (FROM TO)])\r\n");
        assertThat(sent("a3 FETCH 1:4 body.peek[text]<5.6> (CHANGEDSINCE 12)", null, "* 1 FETCH (UID 1)"))
                .isEqualTo("a3 FETCH 1:4 body.peek[text] (CHANGEDSINCE 12)\r\n");
    }

    @Test
    void knownCleanVerdictsLeaveTheCommandAsSentAndReplacementsWidenIt() {
        ContentVerdict clean = ContentVerdict.pass("clean", null);
        assertThat(sent("a1 FETCH 3 (BODY.PEEK[]<0.4096>)", clean, "* 3 FETCH (UID 17)"))
                .isEqualTo("a1 FETCH 3 (BODY.PEEK[]<0.4096>)\r\n");
        // a known replacement: only the original bytes the range of the replaced message needs
        ContentVerdict replaced = ContentVerdict.replace("blocked", "x", List.of(new ContentVerdict.Replacement(10, 60, new byte[5])));
        assertThat(sent("a1 FETCH 3 (BODY.PEEK[]<0.12>)", replaced, "* 3 FETCH (UID 17)"))
                .isEqualTo("a1 FETCH 3 (BODY.PEEK[]<0.10>)\r\n");
        assertThat(sent("a1 FETCH 3 (BODY.PEEK[]<12.8>)", replaced, "* 3 FETCH (UID 17)"))
                .isEqualTo("a1 FETCH 3 (BODY.PEEK[]<60.5>)\r\n");
        // within the replacement text only, or two messages: the whole section
        assertThat(sent("a1 FETCH 3 (BODY.PEEK[]<11.2>)", replaced, "* 3 FETCH (UID 17)"))
                .isEqualTo("a1 FETCH 3 (BODY.PEEK[])\r\n");
        assertThat(sent("a1 FETCH 3:4 (BODY.PEEK[]<0.12>)", replaced, "* 3 FETCH (UID 17)", "* 4 FETCH (UID 18)"))
                .isEqualTo("a1 FETCH 3:4 (BODY.PEEK[])\r\n");
        // no UID learnt: widened
        assertThat(sent("a1 FETCH 3 (BODY.PEEK[]<0.4096>)", clean)).isEqualTo("a1 FETCH 3 (BODY.PEEK[])\r\n");
    }

    @Test
    void aUidFetchNamingItsUidsOneByOneNeedsNoLookup() {
        for (String[] c : new String[][] {{"a UID FETCH 17 (BODY.PEEK[]<0.10>)", "true"}, {"a UID FETCH 17,19 BODY[1]<0.10>", "true"},
                {"a UID FETCH 17:19 (BODY.PEEK[]<0.10>)", "false"}, {"a UID FETCH * (BODY.PEEK[]<0.10>)", "false"},
                {"a FETCH 17 (BODY.PEEK[]<0.10>)", "false"}}) {
            ByteBuf line = line(c[0]);
            PartialFetch p = PartialFetch.parse("a", c[0].contains("UID") ? "UID FETCH" : "FETCH", line, 0);
            assertThat(p.needsNoLookup()).as(c[0]).isEqualTo(Boolean.parseBoolean(c[1]));
            line.release();
        }
        ContentVerdict clean = ContentVerdict.pass("clean", null);
        ByteBuf line = line("a UID FETCH 17,19 (BODY.PEEK[]<0.10>)");
        PartialFetch p = PartialFetch.parse("a", "UID FETCH", line, 0);
        p.hold(line);
        ByteBuf out = p.send((uid, item) -> uid == 17 ? new PolicyChain.KnownDownload(clean, 100) : null, ByteBufAllocator.DEFAULT);
        assertThat(out.toString(StandardCharsets.US_ASCII)).as("19 unknown: widened").isEqualTo("a UID FETCH 17,19 (BODY.PEEK[])\r\n");
        out.release();
    }

    @Test
    void commandsWithoutRangesOfContentOrWithAmbiguousOnesAreNotTaken() {
        for (String command : List.of("a FETCH 1 (BODY.PEEK[])", "a FETCH 1 BODY.PEEK[HEADER]<0.100>", "a FETCH 1 (FLAGS UID)",
                "a FETCH 1 (BODY.PEEK[]<0.10> BODY.PEEK[]<10.10>)", "a FETCH 1 (BODY[]<0.10> BODY.PEEK[])",
                "a FETCH 1 (BODY.PEEK[1.MIME]<0.10>)", "a FETCH 1 (BODY[HEADER.FIELDS (X)]")) {
            ByteBuf line = line(command);
            assertThat(PartialFetch.parse("a", "FETCH", line, 0)).as(command).isNull();
            line.release();
        }
    }

    @Test
    void theLookupsAnswersAreTakenAndMergedNewsLosesItsUid() {
        ByteBuf line = line("a FETCH 1:2 (BODY.PEEK[]<0.10>)");
        PartialFetch p = PartialFetch.parse("a", "FETCH", line, 0);
        p.hold(line);
        assertThat(p.lookupCommand()).isEqualTo("postern7 FETCH 1:2 (UID)\r\n");
        assertThat(p.lookupLine("* 1 FETCH (UID 7)")).isEqualTo(PartialFetch.LookupLine.TAKEN);
        assertThat(p.lookupLine("* 2 FETCH (FLAGS (\\Seen) UID 9)")).isEqualTo(PartialFetch.LookupLine.OTHER);
        assertThat(PartialFetch.withoutUid("* 2 FETCH (FLAGS (\\Seen) UID 9)")).isEqualTo("* 2 FETCH (FLAGS (\\Seen))");
        assertThat(PartialFetch.withoutUid("* 2 FETCH (UID 9 FLAGS (\\Seen))")).isEqualTo("* 2 FETCH (FLAGS (\\Seen))");
        assertThat(p.lookupLine("* 3 EXISTS")).isEqualTo(PartialFetch.LookupLine.OTHER);
        assertThat(p.lookupLine("postern7 OK done")).isEqualTo(PartialFetch.LookupLine.DONE);
        assertThat(p.uidOf(1, -1)).isEqualTo(7L);
        assertThat(p.uidOf(2, -1)).isEqualTo(9L);
        assertThat(p.uidOf(2, 11)).isEqualTo(11L);
        p.forgetNumbers();
        assertThat(p.uidOf(1, -1)).isNull();
        p.close();
        assertThat(line.refCnt()).isZero();
    }

    @Test
    void aWindowCoversTheOriginalBytesOfARangeOfTheReplacedContent() {
        // 0123456789abcdefghij with [5, 10) replaced by XY: 01234XYabcdefghij
        List<ContentVerdict.Replacement> rs = List.of(new ContentVerdict.Replacement(5, 10, "XY".getBytes(StandardCharsets.US_ASCII)));
        assertThat(PartialFetch.window(rs, 20, 0, 3)).containsExactly(0, 3);
        assertThat(PartialFetch.window(rs, 20, 3, 6)).containsExactly(3, 12);
        assertThat(PartialFetch.window(rs, 20, 5, 2)).isNull();
        assertThat(PartialFetch.window(rs, 20, 6, 6)).containsExactly(10, 15);
        assertThat(PartialFetch.window(rs, 20, 14, 100)).containsExactly(17, 20);
        assertThat(PartialFetch.window(rs, 20, 17, 5)).isNull();
        assertThat(PartialFetch.window(List.of(), 20, 4, Long.MAX_VALUE)).containsExactly(4, 20);
    }
}
