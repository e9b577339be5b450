package io.postern.bench.jmh;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.postern.imap.parse.ArgumentReader;
import io.postern.imap.parse.CommandHead;
import io.postern.imap.parse.ImapParseException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The command parsers: {@link CommandHead} (tag and name of every command a session looks at)
 * and {@link ArgumentReader} (arguments of the commands Postern answers itself: LOGIN, ID).
 * One operation is one command parsed.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class CommandParserBenchmark {

    private ByteBuf fetchLine;
    private ByteBuf uidFetchLine;
    private byte[] login;
    private int loginArguments;
    private byte[] id;
    private int idArguments;

    @Setup
    public void setUp() throws ImapParseException {
        fetchLine = line("a17 FETCH 1:* (FLAGS UID)\r\n");
        uidFetchLine = line("a18 uid fetch 1201 BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE)]\r\n");
        login = "a1 LOGIN \"alice@example.com\" \"correct horse battery staple\"\r\n".getBytes(StandardCharsets.US_ASCII);
        loginArguments = CommandHead.parse(Unpooled.wrappedBuffer(login)).argumentsIndex();
        id = "a2 ID (\"name\" \"Thunderbird\" \"version\" \"128.3.1\" \"os\" \"Linux\")\r\n".getBytes(StandardCharsets.US_ASCII);
        idArguments = CommandHead.parse(Unpooled.wrappedBuffer(id)).argumentsIndex();
    }

    private static ByteBuf line(String text) {
        return Unpooled.unreleasableBuffer(Unpooled.directBuffer().writeBytes(text.getBytes(StandardCharsets.US_ASCII)));
    }

    @Benchmark
    public CommandHead headFetch() throws ImapParseException {
        return CommandHead.parse(fetchLine);
    }

    @Benchmark
    public CommandHead headUidFetch() throws ImapParseException {
        return CommandHead.parse(uidFetchLine);
    }

    @Benchmark
    public void loginArguments(Blackhole bh) throws ImapParseException {
        ArgumentReader reader = new ArgumentReader(login, loginArguments);
        bh.consume(reader.astring());
        reader.sp();
        bh.consume(reader.astring());
        reader.end();
    }

    @Benchmark
    public void idArguments(Blackhole bh) throws ImapParseException {
        bh.consume(new ArgumentReader(id, idArguments).idParams());
    }
}
