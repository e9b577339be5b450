package io.postern.policies.mime;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MimeParserTest {

    static byte[] bytes(String s) {
        return s.getBytes(ISO_8859_1);
    }

    static EventLog parse(byte[] message, int... splits) {
        EventLog log = new EventLog(true);
        MimeParser parser = new MimeParser(MimeParserConfig.defaults(), log);
        int from = 0;
        for (int split : splits) {
            parser.feed(message, from, split - from);
            from = split;
        }
        parser.feed(message, from, message.length - from);
        parser.finish();
        log.events.add("parts " + parser.parts().size() + " defects " + parser.defectCount());
        return log;
    }

    static MimeParser parser(byte[] message, EventLog log) {
        MimeParser parser = new MimeParser(MimeParserConfig.defaults(), log);
        parser.feed(message);
        parser.finish();
        return parser;
    }

    private static String slice(byte[] message, long from, long to) {
        return new String(message, (int) from, (int) (to - from), ISO_8859_1);
    }

    @Test
    void nestedMultipartWithForwardedMessage() {
        byte[] message = bytes(MimeCorpus.nested());
        EventLog log = new EventLog(true);
        MimeParser parser = parser(message, log);
        List<MimePart> parts = parser.parts();

        assertThat(parser.defects()).isEmpty();
        assertThat(parts).extracting(MimePart::section)
                .containsExactly("", "1", "1.1", "1.2", "2", "3", "3", "3.1", "3.2");
        assertThat(parts).extracting(MimePart::mediaType).containsExactly(
                "multipart/mixed", "multipart/alternative", "text/plain", "text/html", "application/pdf",
                "message/rfc822", "multipart/mixed", "text/plain", "image/png");
        assertThat(parts).extracting(MimePart::depth).containsExactly(0, 1, 2, 2, 1, 1, 2, 3, 3);
        assertThat(parts).extracting(MimePart::parentIndex).containsExactly(-1, 0, 1, 1, 0, 0, 5, 6, 6);

        assertThat(new String(log.body(2), UTF_8)).isEqualTo("Hello Bob, the rates are in the attached file: 100 \u20ac a day,"
                + " a long line that was soft-broken; 1+1=2.");
        assertThat(new String(log.body(3), ISO_8859_1)).isEqualTo("<p>Hello Bob, the rates are attached.</p>");
        assertThat(parts.get(4).filename()).contains("\u20ac rates 2026 final.pdf");
        assertThat(parts.get(4).disposition()).contains("attachment");
        assertThat(parts.get(4).transferEncoding()).isEqualTo("base64");
        assertThat(new String(log.body(4), ISO_8859_1)).isEqualTo(MimeCorpus.PDF_BODY);
        assertThat(parts.get(5).filename()).contains("fwd.eml");
        assertThat(new String(log.body(7), ISO_8859_1)).isEqualTo("See the logo.");
        assertThat(parts.get(8).filename()).contains("log\u00f6 final.png");
        assertThat(parts.get(8).disposition()).contains("inline");
        assertThat(log.body(8)).isEqualTo(bytes(MimeCorpus.PNG_BYTES));
        assertThat(log.bodies.keySet()).containsExactly(2, 3, 4, 7, 8);

        // offsets: the raw bytes of each part, the line end before a boundary excluded
        assertThat(parts.get(0).headerStart()).isZero();
        assertThat(parts.get(0).end()).isEqualTo(message.length);
        assertThat(slice(message, parts.get(2).bodyStart(), parts.get(2).end())).isEqualTo(
                "Hello Bob, the rates are in the attached file: 100 =E2=82=AC a day, a lon=\r\n"
                        + "g line that was soft-broken; 1+1=3D2.");
        String pdfBase64 = MimeCorpus.crlf(MimeCorpus.base64Lines(bytes(MimeCorpus.PDF_BODY)));
        assertThat(slice(message, parts.get(4).bodyStart(), parts.get(4).end()))
                .isEqualTo(pdfBase64.substring(0, pdfBase64.length() - 2));
        assertThat(slice(message, parts.get(4).headerStart(), parts.get(4).bodyStart()))
                .startsWith("Content-Type: application/pdf;\r\n name=\"rates.pdf\"\r\n").endsWith("%2Epdf\r\n"
                        + "Content-Transfer-Encoding: base64\r\n\r\n");
        assertThat(slice(message, parts.get(1).headerStart(), parts.get(1).end()))
                .startsWith("Content-Type: multipart/alternative").endsWith("--alt-1--\r\n");
        assertThat(parts.get(6).headerStart()).isEqualTo(parts.get(5).bodyStart());
        assertThat(parts.get(6).end()).isEqualTo(parts.get(5).end());
        assertThat(slice(message, parts.get(5).headerStart(), parts.get(5).end()))
                .startsWith("Content-Type: message/rfc822").endsWith("--inner--");
        for (MimePart p : parts) {
            assertThat(p.headerStart()).isLessThanOrEqualTo(p.bodyStart());
            assertThat(p.bodyStart()).isLessThanOrEqualTo(p.end());
        }
    }

    @Test
    void base64PartsDecodeLikeTheJdkDecoderOverTheirRecordedRange() {
        byte[] message = bytes(MimeCorpus.nested());
        EventLog log = new EventLog(true);
        MimeParser parser = parser(message, log);
        int checked = 0;
        for (MimePart p : parser.parts()) {
            if (p.transferEncoding().equals("base64")) {
                byte[] raw = Arrays.copyOfRange(message, (int) p.bodyStart(), (int) p.end());
                assertThat(log.body(p.index())).isEqualTo(Base64.getMimeDecoder().decode(raw));
                assertThat(p.decodedSize()).isEqualTo(log.body(p.index()).length);
                checked++;
            }
        }
        assertThat(checked).isEqualTo(3);
    }

    @Test
    void fileNamesInEveryEncoding() {
        EventLog log = new EventLog(true);
        MimeParser parser = parser(bytes(MimeCorpus.filenames()), log);
        List<MimePart> parts = parser.parts();
        assertThat(parser.defects()).isEmpty();
        assertThat(parts).hasSize(5);
        assertThat(parts.get(1).filename()).contains("caf\u00e9.txt");
        assertThat(parts.get(2).filename()).contains("\u043f\u0440\u0438\u0432\u0435\u0442.doc");
        assertThat(parts.get(3).filename()).contains("plain.bin");
        assertThat(parts.get(3).disposition()).contains("attachment");
        assertThat(parts.get(4).filename()).contains("quoted \"name\".txt");
        assertThat(parts.get(4).contentTypeParameters()).containsEntry("charset", "us-ascii");
        assertThat(new String(log.body(3), ISO_8859_1)).isEqualTo("three");
    }

    @Test
    void rfc2231ContinuationsWithCharsetAndRfc2047Words() {
        HeaderValues.Parameterized v = HeaderValues.parameterized(
                "attachment; filename*1*=%E2%82%AC.txt; filename*0*=utf-8'de'r%C3%A9sum%C3%A9%20; size=12 (bytes)");
        assertThat(v.value()).isEqualTo("attachment");
        assertThat(v.parameters()).containsEntry("filename", "r\u00e9sum\u00e9 \u20ac.txt").containsEntry("size", "12");
        assertThat(HeaderValues.decodeEncodedWords("=?UTF-8?Q?a?= =?UTF-8?Q?b?= c =?bogus-charset?Q?x?="))
                .isEqualTo("ab c =?bogus-charset?Q?x?=");
        // a UTF-8 character split between two adjacent words
        assertThat(HeaderValues.decodeEncodedWords("=?UTF-8?B?4oI=?= =?UTF-8?B?rA==?=")).isEqualTo("\u20ac");
    }

    @Test
    void bareLineFeedsAreLineEnds() {
        EventLog log = new EventLog(true);
        MimeParser parser = parser(bytes(MimeCorpus.lfOnly()), log);
        assertThat(parser.defects()).isEmpty();
        assertThat(parser.parts()).hasSize(2);
        assertThat(new String(log.body(1), ISO_8859_1)).isEqualTo("hello world");
    }

    @Test
    void everyMalformedMessageGivesItsDefectAndNoException() {
        Map<String, MimeDefect.Kind> expected = new LinkedHashMap<>();
        for (String name : MimeCorpus.malformed().keySet()) {
            expected.put(name, switch (name) {
                case "NESTING_TOO_DEEP_RFC822" -> MimeDefect.Kind.NESTING_TOO_DEEP;
                case "MISSING_BOUNDARY_LONG" -> MimeDefect.Kind.MISSING_BOUNDARY;
                case "TRUNCATED_IN_PART_HEADERS" -> MimeDefect.Kind.MISSING_HEADER_END;
                case "TRUNCATED_BASE64_GROUP" -> MimeDefect.Kind.BAD_BASE64;
                default -> MimeDefect.Kind.valueOf(name);
            });
        }
        assertThat(expected.values()).containsAll(Arrays.asList(MimeDefect.Kind.values()));
        for (Map.Entry<String, String> e : MimeCorpus.malformed().entrySet()) {
            byte[] message = bytes(e.getValue());
            MimeParser parser = parser(message, new EventLog(false));
            assertThat(parser.defects()).as(e.getKey()).extracting(MimeDefect::kind).contains(expected.get(e.getKey()));
            assertThat(parser.parts().get(0).end()).as(e.getKey()).isEqualTo(message.length);
            for (MimePart p : parser.parts()) {
                assertThat(p.end()).as(e.getKey() + " " + p).isBetween(p.headerStart(), (long) message.length);
            }
        }
    }

    @Test
    void malformedDetails() {
        EventLog log = new EventLog(true);
        MimeParser parser = parser(bytes(MimeCorpus.malformed().get("BAD_BASE64")), log);
        assertThat(new String(log.body(0), ISO_8859_1)).isEqualTo("hello world");
        assertThat(parser.defects()).hasSize(1);

        log = new EventLog(true);
        parser(bytes(MimeCorpus.malformed().get("BAD_QUOTED_PRINTABLE")), log);
        assertThat(new String(log.body(0), ISO_8859_1)).isEqualTo("price =ZZ and =4 and ");

        log = new EventLog(true);
        parser = parser(bytes(MimeCorpus.malformed().get("HEADER_TOO_LONG")), log);
        assertThat(parser.parts().get(0).bodyStart()).isEqualTo(MimeParserConfig.DEFAULT_MAX_HEADER_BYTES);

        log = new EventLog(true);
        parser = parser(bytes(MimeCorpus.malformed().get("TOO_MANY_PARTS")), log);
        assertThat(parser.parts()).hasSize(MimeParserConfig.DEFAULT_MAX_PARTS);
        assertThat(parser.defects()).extracting(MimeDefect::kind).containsExactly(MimeDefect.Kind.TOO_MANY_PARTS);

        log = new EventLog(true);
        parser = parser(bytes(MimeCorpus.malformed().get("NESTING_TOO_DEEP")), log);
        MimePart deepest = parser.parts().get(parser.parts().size() - 1);
        assertThat(deepest.depth()).isEqualTo(MimeParserConfig.DEFAULT_MAX_DEPTH);
        assertThat(new String(log.body(deepest.index()), ISO_8859_1)).startsWith("--d20\r\n").contains("deep");
    }

    @Test
    void toleratedOddities() {
        for (Map.Entry<String, String> e : MimeCorpus.tolerated().entrySet()) {
            byte[] message = bytes(e.getValue());
            MimeParser parser = parser(message, new EventLog(false));
            assertThat(parser.defects()).as(e.getKey()).isEmpty();
            assertThat(parser.parts().get(0).end()).as(e.getKey()).isEqualTo(message.length);
        }
        EventLog log = new EventLog(true);
        parser(bytes(MimeCorpus.tolerated().get("cr-inside-lines")), log);
        assertThat(new String(log.body(1), ISO_8859_1)).isEqualTo("a\rb\r\r\n--b-");
        log = new EventLog(true);
        parser(bytes(MimeCorpus.tolerated().get("no-trailing-line-end")), log);
        assertThat(new String(log.body(0), ISO_8859_1)).isEqualTo("last line");
    }

    static List<byte[]> corpus() {
        List<byte[]> all = new ArrayList<>();
        all.add(bytes(MimeCorpus.nested()));
        all.add(bytes(MimeCorpus.filenames()));
        MimeCorpus.malformed().values().forEach(m -> all.add(bytes(m)));
        MimeCorpus.tolerated().values().forEach(m -> all.add(bytes(m)));
        return all;
    }

    @Test
    void wholeAndSplitAtEveryPointGiveTheSameEvents() {
        for (byte[] message : corpus()) {
            List<String> whole = parse(message).events;
            byte[] copy = message.clone();
            if (message.length <= 4096) {
                for (int split = 0; split <= message.length; split++) {
                    assertThat(parse(message, split).events).as("split at %d", split).isEqualTo(whole);
                }
            }
            if (message.length <= 64 * 1024) {
                int[] everyByte = new int[Math.max(0, message.length - 1)];
                Arrays.setAll(everyByte, i -> i + 1);
                assertThat(parse(message, everyByte).events).as("byte by byte").isEqualTo(whole);
            }
            Random random = new Random(message.length);
            for (int round = 0; round < 20; round++) {
                int[] splits = random.ints(1 + random.nextInt(10), 0, message.length + 1).sorted().toArray();
                assertThat(parse(message, splits).events).as("splits %s", Arrays.toString(splits)).isEqualTo(whole);
            }
            assertThat(message).as("the parser never writes to the input").isEqualTo(copy);
        }
    }

    @Test
    void directByteBuffersGiveTheSameEvents() {
        byte[] message = bytes(MimeCorpus.nested());
        EventLog log = new EventLog(false);
        MimeParser parser = new MimeParser(MimeParserConfig.defaults(), log);
        for (int from = 0; from < message.length; from += 100) {
            ByteBuffer direct = ByteBuffer.allocateDirect(Math.min(100, message.length - from));
            direct.put(message, from, direct.capacity()).flip();
            parser.feed(direct);
            assertThat(direct.hasRemaining()).isFalse();
        }
        parser.finish();
        log.events.add("parts " + parser.parts().size() + " defects " + parser.defectCount());
        assertThat(log.events).isEqualTo(parse(message).events);
    }

    @Test
    void feedAfterFinishIsRefused() {
        MimeParser parser = new MimeParser(MimeParserConfig.defaults(), new MimeListener() {});
        parser.feed(bytes("Subject: x\r\n\r\nbody"));
        parser.finish();
        parser.finish();
        assertThatThrownBy(() -> parser.feed(new byte[1])).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void configIsValidated() {
        assertThatThrownBy(() -> new MimeParserConfig(10, 20, 1000))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("maxHeaderBytes: 10 (expected: 256 to 67108864)");
        assertThatThrownBy(() -> new MimeParserConfig(1024, 0, 1000)).hasMessageStartingWith("maxDepth: 0");
        assertThatThrownBy(() -> new MimeParserConfig(1024, 5, 0)).hasMessageStartingWith("maxParts: 0");
    }

    /** A 25 MB base64 attachment in a multipart: what the parser keeps stays a few KB. */
    @Test
    void memoryStaysBoundedForA25MegabyteAttachment() throws Exception {
        long attachmentBytes = 25L * 1024 * 1024;
        MessageDigest sent = MessageDigest.getInstance("SHA-256");
        MessageDigest received = MessageDigest.getInstance("SHA-256");
        long[] decoded = {0};
        MimeParser parser = new MimeParser(MimeParserConfig.defaults(), new MimeListener() {
            @Override
            public void bodyChunk(MimePart part, ByteBuffer chunk) {
                if (part.index() == 2) {
                    decoded[0] += chunk.remaining();
                    received.update(chunk);
                }
            }
        });
        parser.feed(bytes(MimeCorpus.crlf("""
                Content-Type: multipart/mixed; boundary="big"

                --big
                Content-Type: text/plain

                see attached
                --big
                Content-Type: application/octet-stream; name="big.bin"
                Content-Transfer-Encoding: base64

                """)));
        Random random = new Random(25);
        Base64.Encoder encoder = Base64.getMimeEncoder();
        byte[] raw = new byte[57 * 1024];
        long maxRetained = 0;
        for (long left = attachmentBytes; left > 0; left -= raw.length) {
            int n = (int) Math.min(raw.length, left);
            random.nextBytes(raw);
            sent.update(raw, 0, n);
            byte[] encoded = encoder.encode(Arrays.copyOf(raw, n));
            parser.feed(encoded);
            parser.feed(bytes("\r\n"));
            maxRetained = Math.max(maxRetained, parser.retainedBytes());
        }
        parser.feed(bytes("--big--\r\n"));
        parser.finish();

        assertThat(parser.defects()).isEmpty();
        assertThat(decoded[0]).isEqualTo(attachmentBytes);
        assertThat(received.digest()).isEqualTo(sent.digest());
        assertThat(parser.consumed()).isGreaterThan(attachmentBytes * 4 / 3);
        assertThat(maxRetained).isLessThan(32 * 1024).isLessThanOrEqualTo(MimeParser.retainedBytesBound(MimeParserConfig.defaults()));
    }

    @Test
    void retainedBytesStayUnderTheBoundForEveryMalformedMessage() {
        long bound = MimeParser.retainedBytesBound(MimeParserConfig.defaults());
        for (byte[] message : corpus()) {
            MimeParser parser = parser(message, new EventLog(false));
            assertThat(parser.retainedBytes()).isLessThanOrEqualTo(bound);
        }
    }
}
