package io.postern.proxy.server;

import static java.nio.charset.StandardCharsets.ISO_8859_1;

import ch.qos.logback.classic.Level;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol.AddressFamily;
import io.netty.util.NetUtil;
import io.netty.util.ReferenceCountUtil;
import io.postern.imap.fuzz.RecordingAllocator;
import io.postern.proxy.config.Cidr;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.slf4j.LoggerFactory;

/**
 * Coverage-guided fuzzing of the inbound PROXY protocol path of a {@code proxy_protocol: true}
 * listener: Netty's {@link HAProxyMessageDecoder} and {@link ProxyProtocolHandler}, as
 * {@link ClientChannelInitializer} puts them in front of everything else.
 *
 * <p>Input: byte 0 picks the peer (bits 0-1: 127.0.0.1 or ::1, trusted by the default
 * {@code proxy_trusted}; 192.0.2.1 or 2001:db8::1, not trusted), bytes 1 and 2 a split point; the
 * rest is what the peer sends. It is fed in one read, in two reads split at that point, and one
 * byte a read. Each time:
 * <ul>
 *   <li>no exception leaves the pipeline (a malformed header is the decoder's
 *       {@code HAProxyProtocolException}, which closes the connection and goes no further);
 *   <li>every buffer is released ({@link RecordingAllocator}, checked after each run);
 *   <li>the outcome is the one Netty's decoder alone gives for the whole input: a malformed
 *       header, or any header from an untrusted peer, closes the connection with nothing passed
 *       on; an incomplete one leaves it open, waiting, nothing passed on; a valid header from a
 *       trusted peer is taken away, exactly the bytes after it go on, and the client address is
 *       the header's source (IPv4 or IPv6 {@code PROXY} headers only, as an address literal,
 *       never resolved as a host name) or absent ({@code LOCAL}, {@code UNKNOWN}, {@code AF_UNIX}).
 * </ul>
 * The committed inputs are v1 (TCP4, TCP6, UNKNOWN) and v2 (TCP4, TCP6, UNSPEC, LOCAL, UDP,
 * AF_UNIX, with and without TLVs) headers, some followed by IMAP commands, and malformed ones.
 */
class ProxyProtocolFuzzTest {

    static {
        // an untrusted peer with a valid header logs a WARN each time: thousands a second here
        ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger(ProxyProtocolHandler.class)).setLevel(Level.ERROR);
    }

    /** The default {@code proxy_trusted}. */
    private static final List<Cidr> TRUSTED = List.of(
            new Cidr(new byte[] {127, 0, 0, 0}, 8), new Cidr(NetUtil.LOCALHOST6.getAddress(), 128));

    private static final InetSocketAddress[] PEERS = {
        new InetSocketAddress(NetUtil.LOCALHOST4, 50000),
        new InetSocketAddress(NetUtil.LOCALHOST6, 50000),
        new InetSocketAddress(address("192.0.2.1"), 50000),
        new InetSocketAddress(address("2001:db8::1"), 50000),
    };

    private static final int HEADER = 3;

    @FuzzTest(maxDuration = "5m")
    void header(byte[] input) {
        byte[] h = Arrays.copyOf(input, HEADER);
        int peer = h[0] & 3;
        byte[] stream = input.length > HEADER ? Arrays.copyOfRange(input, HEADER, input.length) : new byte[0];
        int split = ((h[1] & 0xff) << 8 | (h[2] & 0xff)) % (stream.length + 1);

        Outcome expected = expected(stream, peer < 2);
        int[] ones = new int[stream.length];
        Arrays.fill(ones, 1);
        int[][] readings = {{stream.length}, {split, stream.length - split}, ones};
        for (int[] reads : readings) {
            Outcome actual = run(PEERS[peer], stream, reads);
            if (!expected.equals(actual)) {
                throw new AssertionError("reads " + (reads.length > 2 ? "of one byte" : Arrays.toString(reads))
                        + " from " + PEERS[peer].getAddress().getHostAddress() + ":\n  expected " + expected
                        + "\n  actual   " + actual);
            }
        }
    }

    /**
     * What came of one connection: still open; the PROXY handler gone (the header taken);
     * the client address it set; the bytes passed on to the next handler (ISO-8859-1).
     */
    record Outcome(boolean open, boolean headerTaken, InetSocketAddress client, String passedOn) {
        static final Outcome CLOSED = new Outcome(false, false, null, "");
        static final Outcome WAITING = new Outcome(true, false, null, "");
    }

    /** The pipeline of a {@code proxy_protocol: true} listener up to the PROXY handler, and then a recorder. */
    private static Outcome run(InetSocketAddress peer, byte[] stream, int[] reads) {
        RecordingAllocator alloc = new RecordingAllocator();
        StringBuilder passedOn = new StringBuilder();
        EmbeddedChannel channel = new EmbeddedChannel() {
            @Override
            protected SocketAddress remoteAddress0() {
                return peer;
            }
        };
        channel.config().setAllocator(alloc);
        channel.pipeline().addLast(HandlerNames.PROXY_PROTOCOL_GUARD, new ProxyV1LineGuard());
        channel.pipeline().addLast(HandlerNames.PROXY_PROTOCOL_DECODER, new HAProxyMessageDecoder());
        channel.pipeline().addLast(HandlerNames.PROXY_PROTOCOL, new ProxyProtocolHandler(TRUSTED));
        channel.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                try {
                    if (!(msg instanceof ByteBuf bytes)) {
                        throw new AssertionError("the PROXY handler passed on " + msg);
                    }
                    passedOn.append(bytes.toString(ISO_8859_1));
                } finally {
                    ReferenceCountUtil.release(msg);
                }
            }
        });
        int pos = 0;
        for (int n : reads) {
            if (!channel.isOpen()) {
                break;
            }
            if (n > 0) {
                // throws what reached the end of the pipeline, if anything did
                channel.writeInbound(alloc.buffer(n).writeBytes(stream, pos, n));
                channel.runPendingTasks();
                pos += n;
            }
        }
        boolean open = channel.isOpen();
        // a closed channel has no pipeline left to look at
        Outcome outcome = new Outcome(open, open && channel.pipeline().get(ProxyProtocolHandler.class) == null,
                channel.attr(ProxyProtocolHandler.CLIENT).get(), passedOn.toString());
        if (channel.finish()) {
            throw new AssertionError("a message went past the recorder");
        }
        alloc.assertAllReleased();
        return outcome;
    }

    /**
     * The outcome Netty's decoder alone implies for the whole stream, except that a v1 line longer
     * than the protocol's 107 bytes (CRLF included) is refused, as {@link ProxyV1LineGuard} makes
     * it for every way the line may arrive.
     */
    private static Outcome expected(byte[] stream, boolean trusted) {
        if (stream.length > 0 && stream[0] == 'P') {
            int end = -1;
            for (int i = 1; i < stream.length && end < 0; i++) {
                if (stream[i - 1] == '\r' && stream[i] == '\n') {
                    end = i;
                }
            }
            if (end < 0 ? stream.length >= ProxyV1LineGuard.MAX_LINE : end >= ProxyV1LineGuard.MAX_LINE) {
                return Outcome.CLOSED;
            }
        }
        return decoded(stream, trusted);
    }

    private static Outcome decoded(byte[] stream, boolean trusted) {
        RecordingAllocator alloc = new RecordingAllocator();
        EmbeddedChannel channel = new EmbeddedChannel();
        channel.config().setAllocator(alloc);
        channel.pipeline().addLast(new HAProxyMessageDecoder());
        Outcome outcome;
        try {
            channel.writeInbound(alloc.buffer(stream.length).writeBytes(stream));
            outcome = expected(channel, trusted);
        } catch (DecoderException malformed) {
            // HAProxyProtocolException, or (Netty 4.2.18, a v2 TLV longer than the header) an
            // IndexOutOfBoundsException in a DecoderException; the handler closes on both
            outcome = Outcome.CLOSED;
        }
        // close() runs what is left without rethrowing: a decoder that failed once may fail again
        // on what it still holds when the channel goes inactive; only the first failure counts here
        channel.close();
        channel.releaseInbound();
        alloc.assertAllReleased();
        return outcome;
    }

    private static Outcome expected(EmbeddedChannel channel, boolean trusted) {
        Object first = channel.readInbound();
        if (first == null) {
            return Outcome.WAITING;
        }
        HAProxyMessage header = (HAProxyMessage) first;
        StringBuilder rest = new StringBuilder();
        for (Object m; (m = channel.readInbound()) != null; ) {
            rest.append(((ByteBuf) m).toString(ISO_8859_1));
            ReferenceCountUtil.release(m);
        }
        try {
            if (!trusted) {
                return Outcome.CLOSED;
            }
            AddressFamily family = header.proxiedProtocol().addressFamily();
            InetSocketAddress client = null;
            if (header.command() == HAProxyCommand.PROXY
                    && (family == AddressFamily.AF_IPv4 || family == AddressFamily.AF_IPv6)) {
                client = new InetSocketAddress(Objects.requireNonNull(
                        NetUtil.createInetAddressFromIpAddressString(header.sourceAddress()), header.sourceAddress()),
                        header.sourcePort());
            }
            return new Outcome(true, true, client, rest.toString());
        } finally {
            header.release();
        }
    }

    private static InetAddress address(String literal) {
        return NetUtil.createInetAddressFromIpAddressString(literal);
    }
}
