package io.postern.proxy.session;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.postern.proxy.server.Transport;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What one explicit {@code read()} brings over a real loopback socket holding far more than a
 * buffer: several buffers while the gate is open, one while it is shut, and the bytes in order.
 */
@Timeout(60)
class RelayReadAllocatorTest {

    private static final int SENT = 4 * 1024 * 1024;

    static Stream<Transport> transports() {
        Transport best = Transport.best();
        return best.name().equals("nio") ? Stream.of(best) : Stream.of(best, Transport.nio());
    }

    @ParameterizedTest
    @MethodSource("transports")
    void oneReadTakesSeveralBuffersWhileTheGateIsOpen(Transport transport) throws Exception {
        AtomicBoolean open = new AtomicBoolean(true);
        List<Integer> batches = readBatches(transport, open, 2);
        assertThat(batches.get(0)).as("buffers of the first read").isGreaterThan(1)
                .isLessThanOrEqualTo(RelayReadAllocator.MAX_READS);
    }

    @ParameterizedTest
    @MethodSource("transports")
    void oneReadTakesOneBufferWhileTheGateIsShut(Transport transport) throws Exception {
        AtomicBoolean open = new AtomicBoolean(false);
        List<Integer> batches = readBatches(transport, open, 3);
        assertThat(batches).containsExactly(1, 1, 1);
    }

    @ParameterizedTest
    @MethodSource("transports")
    void theGateIsAskedAfterEveryBuffer(Transport transport) throws Exception {
        AtomicBoolean open = new AtomicBoolean(true);
        // shut by the reader itself at its third buffer: the read ends there
        List<Integer> batches = readBatches(transport, open, 1, 3);
        assertThat(batches).containsExactly(3);
    }

    /**
     * Sends {@link #SENT} bytes at once, lets the reader ask for {@code reads} reads one after the
     * other, and returns how many buffers each brought; {@code shutAt} > 0 shuts the gate from
     * inside the read, at that buffer. The bytes read are checked to be the ones sent, in order.
     */
    private static List<Integer> readBatches(Transport transport, AtomicBoolean open, int reads, int... shutAt)
            throws Exception {
        EventLoopGroup group = transport.newGroup(1);
        LinkedBlockingQueue<Integer> batches = new LinkedBlockingQueue<>();
        CompletableFuture<Throwable> failure = new CompletableFuture<>();
        CompletableFuture<Channel> accepted = new CompletableFuture<>();
        try {
            Channel server = new ServerBootstrap().group(group).channel(transport.serverChannel())
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.config().setRecvByteBufAllocator(new RelayReadAllocator(open::get));
                            accepted.complete(ch);
                            ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                                private int buffers;
                                private int total;
                                private long expected;

                                @Override
                                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                    ByteBuf in = (ByteBuf) msg;
                                    try {
                                        while (in.isReadable()) {
                                            int b = in.readUnsignedByte();
                                            if (b != (int) (expected++ % 251)) {
                                                failure.complete(new AssertionError("byte " + (expected - 1) + " differs"));
                                            }
                                        }
                                    } finally {
                                        in.release();
                                    }
                                    buffers++;
                                    if (shutAt.length > 0 && buffers == shutAt[0]) {
                                        open.set(false);
                                    }
                                }

                                @Override
                                public void channelReadComplete(ChannelHandlerContext ctx) {
                                    batches.add(buffers);
                                    buffers = 0;
                                    if (++total < reads) {
                                        ctx.read();
                                    }
                                }

                                @Override
                                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                    failure.complete(cause);
                                }
                            });
                        }
                    })
                    .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            Channel client = new Bootstrap().group(group).channel(transport.socketChannel())
                    .handler(new ChannelInboundHandlerAdapter())
                    .connect(server.localAddress()).sync().channel();
            ByteBuf data = Unpooled.buffer(SENT);
            for (int i = 0; i < SENT; i++) {
                data.writeByte(i % 251);
            }
            // not waited for: more than the sockets hold, so the rest goes as the reader takes it
            client.writeAndFlush(data);
            // the sockets full before the first read is asked for: they then hold far more than a buffer
            Thread.sleep(200);
            accepted.get(10, TimeUnit.SECONDS).read();
            List<Integer> result = new ArrayList<>();
            for (int i = 0; i < reads; i++) {
                Integer n = batches.poll(10, TimeUnit.SECONDS);
                assertThat(n).as("read " + (i + 1) + " completed").isNotNull();
                result.add(n);
            }
            assertThat(failure.getNow(null)).isNull();
            client.close().sync();
            server.close().sync();
            return result;
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }
}
