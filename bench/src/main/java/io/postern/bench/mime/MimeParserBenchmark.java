package io.postern.bench.mime;

import io.postern.policies.mime.MimeHeaders;
import io.postern.policies.mime.MimeListener;
import io.postern.policies.mime.MimeParser;
import io.postern.policies.mime.MimeParserConfig;
import io.postern.policies.mime.MimePart;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The streaming MIME parser of the scan policy ({@code io.postern.policies.mime}). One operation
 * is one whole message parsed and decoded, fed in 64 KiB chunks as a literal's chunks would come;
 * MB/s = ops/s x the message size ({@code messageBytes} in the setup's printout):
 * <ul>
 *   <li>{@code base64}: a short text part and a base64 attachment of {@code size} bytes;
 *   <li>{@code qp}: a quoted-printable text body of about {@code size} bytes;
 *   <li>{@code parts}: a multipart of 4 KiB text parts adding up to {@code size} bytes (per-part cost).
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class MimeParserBenchmark {

    private static final int CHUNK = 64 * 1024;

    @Param({"base64", "qp", "parts"})
    public String kind;

    @Param({"1048576"})
    public int size;

    private byte[] message;

    @Setup
    public void setUp() {
        Random random = new Random(42);
        StringBuilder m = new StringBuilder("From: a@example.org\r\nTo: b@example.org\r\nSubject: bench\r\nMIME-Version: 1.0\r\n");
        switch (kind) {
            case "base64" -> {
                byte[] attachment = new byte[size];
                random.nextBytes(attachment);
                m.append("Content-Type: multipart/mixed; boundary=\"b-1\"\r\n\r\n--b-1\r\nContent-Type: text/plain\r\n\r\nattached\r\n")
                        .append("--b-1\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n")
                        .append("Content-Transfer-Encoding: base64\r\n\r\n")
                        .append(Base64.getMimeEncoder().encodeToString(attachment)).append("\r\n--b-1--\r\n");
            }
            case "qp" -> {
                m.append("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
                String line = "Caf=C3=A9 au lait, 100 =E2=82=AC, and a line that goes on and on until it must be bro=\r\n"
                        + "ken softly; then a hard break.\r\n";
                while (m.length() < size) {
                    m.append(line);
                }
            }
            case "parts" -> {
                m.append("Content-Type: multipart/mixed; boundary=\"p\"\r\n\r\n");
                String text = "lorem ipsum dolor sit amet ".repeat(150) + "\r\n";
                while (m.length() < size) {
                    m.append("--p\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Disposition: inline\r\n\r\n").append(text);
                }
                m.append("--p--\r\n");
            }
            default -> throw new IllegalArgumentException("kind: " + kind);
        }
        message = m.toString().getBytes(StandardCharsets.ISO_8859_1);
        System.out.println("messageBytes(" + kind + ") = " + message.length);
    }

    @Benchmark
    public int parse(Blackhole bh) {
        MimeParser parser = new MimeParser(MimeParserConfig.defaults(), new MimeListener() {
            @Override
            public void partStarted(MimePart part, MimeHeaders headers) {
                bh.consume(part);
            }

            @Override
            public void bodyChunk(MimePart part, ByteBuffer decoded) {
                bh.consume(decoded.get(decoded.limit() - 1));
            }
        });
        for (int i = 0; i < message.length; i += CHUNK) {
            parser.feed(message, i, Math.min(CHUNK, message.length - i));
        }
        parser.finish();
        return parser.parts().size();
    }
}
