package io.postern.proxy.server;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.util.AttributeKey;
import io.postern.proxy.config.Cidr;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes the PROXY protocol header (v1 or v2, decoded by Netty's {@code HAProxyMessageDecoder}
 * in front of it) of a listener with {@code proxy_protocol: true}. The header is believed only
 * from {@code proxy_trusted} addresses; from anywhere else the connection is closed. The real
 * client address goes into {@link #CLIENT}, where logs, limits and routing read it.
 */
public final class ProxyProtocolHandler extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(ProxyProtocolHandler.class);

    /** The client's address as the load balancer saw it; absent without a PROXY header. */
    public static final AttributeKey<InetSocketAddress> CLIENT = AttributeKey.valueOf("postern.proxy-client");

    private final List<Cidr> trusted;

    public ProxyProtocolHandler(List<Cidr> trusted) {
        this.trusted = trusted;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof io.netty.handler.codec.haproxy.HAProxyProtocolException) {
            log.debug("no valid PROXY header from {}: {}", ctx.channel().remoteAddress(), cause.getMessage());
            ctx.close();
            return;
        }
        ctx.fireExceptionCaught(cause);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof HAProxyMessage header)) {
            ctx.fireChannelRead(msg);
            return;
        }
        try {
            InetAddress peer = ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress();
            if (trusted.stream().noneMatch(c -> c.contains(peer))) {
                log.warn("PROXY header from {}, which is not in proxy_trusted: connection closed", peer.getHostAddress());
                ctx.close();
                return;
            }
            if (header.command() == HAProxyCommand.PROXY && header.sourceAddress() != null) {
                ctx.channel().attr(CLIENT).set(new InetSocketAddress(
                        InetAddress.getByName(header.sourceAddress()), header.sourcePort()));
            }
            ctx.pipeline().remove(this);
        } catch (java.net.UnknownHostException e) {
            log.warn("PROXY header with an unusable source address {}: connection closed", header.sourceAddress());
            ctx.close();
        } finally {
            header.release();
        }
    }
}
