package io.postern.bench.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class ResponseParserTest {

    private static final String LITERAL = "line one\r\n* 2 FETCH (BODY[] {5}\r\nb1 OK done\r\n)\r\n";
    private static final String STREAM = "* 1 FETCH (UID 7 BODY[] {" + LITERAL.length() + "}\r\n" + LITERAL + " FLAGS (\\Seen))\r\n"
            + "b1 OK [ALERT] text that ends like a literal {5}\r\n"
            + "* OK [UNSEEN 3] also text {2}\r\n"
            + "+ idling\r\n"
            + "* 3 EXISTS\r\n";

    private static List<Response> parse(ResponseParser parser, String text, boolean byteByByte) {
        List<Response> out = new ArrayList<>();
        ResponseParser p = parser != null ? parser : new ResponseParser(out::add);
        byte[] bytes = text.getBytes(StandardCharsets.ISO_8859_1);
        if (byteByByte) {
            for (byte b : bytes) {
                ByteBuf one = Unpooled.wrappedBuffer(new byte[] {b});
                p.feed(one);
                assertThat(one.isReadable()).isFalse();
            }
        } else {
            p.feed(Unpooled.wrappedBuffer(bytes));
        }
        return out;
    }

    @Test
    void literalBytesAreCountedNotScannedWholeOrByteByByte() {
        for (boolean byteByByte : new boolean[] {false, true}) {
            List<Response> out = new ArrayList<>();
            ResponseParser parser = new ResponseParser(out::add);
            byte[] bytes = STREAM.getBytes(StandardCharsets.ISO_8859_1);
            if (byteByByte) {
                for (byte b : bytes) {
                    parser.feed(Unpooled.wrappedBuffer(new byte[] {b}));
                }
            } else {
                parser.feed(Unpooled.wrappedBuffer(bytes));
            }
            assertThat(out).hasSize(5);
            Response fetch = out.get(0);
            assertThat(fetch.kind()).isEqualTo(Response.Kind.UNTAGGED);
            assertThat(fetch.isFetch()).isTrue();
            assertThat(fetch.literals()).isEqualTo(1);
            assertThat(fetch.literalBytes()).isEqualTo(LITERAL.length());
            assertThat(fetch.text()).isEqualTo("* 1 FETCH (UID 7 BODY[] {" + LITERAL.length() + "} FLAGS (\\Seen))");
            assertThat(out.get(1).kind()).isEqualTo(Response.Kind.TAGGED);
            assertThat(out.get(1).tag()).isEqualTo("b1");
            assertThat(out.get(1).ok()).isTrue();
            assertThat(out.get(1).literals()).isZero();
            assertThat(out.get(2).literals()).isZero();
            assertThat(out.get(3).kind()).isEqualTo(Response.Kind.CONTINUATION);
            assertThat(out.get(4).exists()).isEqualTo(3);
            CRC32C crc = new CRC32C();
            crc.update(LITERAL.getBytes(StandardCharsets.ISO_8859_1));
            assertThat(parser.literalChecksum()).isEqualTo(crc.getValue());
            assertThat(parser.literalBytes()).isEqualTo(LITERAL.length());
            assertThat(parser.midResponse()).isFalse();
        }
    }

    @Test
    void binaryAndNonSynchronizingLiteralsAndEmptyOnes() {
        List<Response> out = parse(null, "* 4 FETCH (BINARY[] ~{3}\r\n\0\r\n BODY[1] {0}\r\n BODY[2] {2+}\r\nab)\r\n", false);
        assertThat(out).hasSize(1);
        assertThat(out.get(0).literals()).isEqualTo(3);
        assertThat(out.get(0).literalBytes()).isEqualTo(5);
    }

    @Test
    void midResponseUntilTheLiteralAndLineEnd() {
        List<Response> out = new ArrayList<>();
        ResponseParser parser = new ResponseParser(out::add);
        parse(parser, "* 1 FETCH (BODY[] {4}\r\nab", false);
        assertThat(parser.midResponse()).isTrue();
        parse(parser, "cd)\r\n", false);
        assertThat(parser.midResponse()).isFalse();
        assertThat(out).hasSize(1);
    }

    @Test
    void literalSizeOnlyAtTheEndOfALine() {
        assertThat(ResponseParser.literalSize("* 1 FETCH (BODY[] {12}")).isEqualTo(12);
        assertThat(ResponseParser.literalSize("x {12+}")).isEqualTo(12);
        assertThat(ResponseParser.literalSize("x ~{0}")).isZero();
        assertThat(ResponseParser.literalSize("x {}")).isEqualTo(-1);
        assertThat(ResponseParser.literalSize("x {1a}")).isEqualTo(-1);
        assertThat(ResponseParser.literalSize("x {12} y")).isEqualTo(-1);
    }
}
