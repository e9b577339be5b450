package io.postern.tls;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SniCompletionEvent;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import javax.net.ssl.SSLSession;

/**
 * A TLS echo server on 127.0.0.1 and an ephemeral port, for tests and {@link HandshakeRate}. It
 * records the SNI name and the session of every handshake.
 */
final class TlsTestServer implements AutoCloseable {

    /** What the server saw of one handshake. */
    record Handshake(String sniHostname, SSLSession session, Throwable failure) {}

    private final EventLoopGroup group;
    private final Channel serverChannel;
    private final BlockingQueue<Handshake> handshakes = new LinkedBlockingQueue<>();

    private TlsTestServer(int threads, Supplier<ChannelHandler> tlsHandler, boolean record) {
        group = new MultiThreadIoEventLoopGroup(threads, NioIoHandler.newFactory());
        serverChannel = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(tlsHandler.get(), new Echo(record ? handshakes : null));
                    }
                })
                .bind("127.0.0.1", 0)
                .syncUninterruptibly()
                .channel();
    }

    /** A server whose pipeline starts with a fresh {@code tlsHandler} (an SniHandler or SslHandler). */
    static TlsTestServer start(Supplier<ChannelHandler> tlsHandler) {
        return new TlsTestServer(1, tlsHandler, true);
    }

    /** As {@link #start}, with {@code threads} event loops and nothing recorded (for measuring). */
    static TlsTestServer startUnrecorded(int threads, Supplier<ChannelHandler> tlsHandler) {
        return new TlsTestServer(threads, tlsHandler, false);
    }

    int port() {
        return ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    /** The next handshake the server completed or failed, waiting up to five seconds. */
    Handshake nextHandshake() throws InterruptedException {
        Handshake handshake = handshakes.poll(5, TimeUnit.SECONDS);
        if (handshake == null) {
            throw new AssertionError("no handshake reached the server within 5 s");
        }
        return handshake;
    }

    /**
     * Connects a Netty client whose pipeline is {@code sslHandler} and waits for the handshake.
     *
     * @return the channel, handshaken; the caller closes it
     * @throws Exception the handshake failure
     */
    static Channel connect(EventLoopGroup group, int port, Function<Channel, SslHandler> sslHandler)
            throws Exception {
        Channel channel = client(group, sslHandler).connect("127.0.0.1", port).sync().channel();
        Future<Channel> handshake = channel.pipeline().get(SslHandler.class).handshakeFuture();
        if (!handshake.await(5, TimeUnit.SECONDS)) {
            channel.close();
            throw new AssertionError("client handshake did not finish within 5 s");
        }
        if (!handshake.isSuccess()) {
            channel.close();
            Throwable cause = handshake.cause();
            throw cause instanceof Exception ? (Exception) cause : new Exception(cause);
        }
        return channel;
    }

    /** A client bootstrap whose pipeline is {@code sslHandler}; a failure closes the channel. */
    static Bootstrap client(EventLoopGroup group, Function<Channel, SslHandler> sslHandler) {
        return new Bootstrap()
                .group(group)
                .channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(sslHandler.apply(ch), new CloseOnException());
                    }
                });
    }

    @Override
    public void close() {
        serverChannel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Ends a client connection on a failure, which the handshake future reports to the test. */
    private static final class CloseOnException extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** Echoes what it reads and records handshakes. */
    private static final class Echo extends ChannelInboundHandlerAdapter {
        private final BlockingQueue<Handshake> handshakes;
        private String sniHostname;

        Echo(BlockingQueue<Handshake> handshakes) {
            this.handshakes = handshakes;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.writeAndFlush(msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof SniCompletionEvent) {
                sniHostname = ((SniCompletionEvent) evt).hostname();
            } else if (evt instanceof SslHandshakeCompletionEvent && handshakes != null) {
                SslHandshakeCompletionEvent done = (SslHandshakeCompletionEvent) evt;
                SSLSession session = done.isSuccess() ? ctx.pipeline().get(SslHandler.class).engine().getSession() : null;
                handshakes.add(new Handshake(sniHostname, session, done.cause()));
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // A failed handshake arrives here too; it is recorded above and the client sees it.
            ctx.close();
        }
    }
}
