package io.postern.proxy.server;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol.AddressFamily;
import io.netty.util.NetUtil;
import io.netty.util.ReferenceCountUtil;
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
 * from {@code proxy_trusted} addresses; from anywhere else the connection is closed, as it is for
 * a malformed header, and nothing the peer sent after the header goes further. The real client
 * address (of an IPv4 or IPv6 {@code PROXY} header) goes into {@link #CLIENT}, where logs, limits
 * and routing read it.
 */
public final class ProxyProtocolHandler extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(ProxyProtocolHandler.class);

    /** The client's address as the load balancer saw it; absent without a PROXY header. */
    public static final AttributeKey<InetSocketAddress> CLIENT = AttributeKey.valueOf("postern.proxy-client");

    private final List<Cidr> trusted;
    /** The header was malformed or not to be believed: the connection is closing, nothing goes on. */
    private boolean refused;

    public ProxyProtocolHandler(List<Cidr> trusted) {
        this.trusted = trusted;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // While this handler is here, only the PROXY decoder in front of it reads: any decoder
        // failure is a malformed header (Netty 4.2.18 throws a DecoderException around an
        // IndexOutOfBoundsException for a v2 TLV longer than its header, not an HAProxyProtocolException)
        if (cause instanceof DecoderException) {
            log.debug("no valid PROXY header from {}: {}", ctx.channel().remoteAddress(), cause.getMessage());
            refuse(ctx);
            return;
        }
        ctx.fireExceptionCaught(cause);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (refused) {
            // what the peer sent after a refused header: the decoder passes it on as it leaves
            ReferenceCountUtil.release(msg);
            return;
        }
        if (!(msg instanceof HAProxyMessage header)) {
            ctx.fireChannelRead(msg);
            return;
        }
        try {
            InetAddress peer = ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress();
            if (trusted.stream().noneMatch(c -> c.contains(peer))) {
                log.warn("PROXY header from {}, which is not in proxy_trusted: connection closed", peer.getHostAddress());
                refuse(ctx);
                return;
            }
            AddressFamily family = header.proxiedProtocol().addressFamily();
            if (header.command() == HAProxyCommand.PROXY
                    && (family == AddressFamily.AF_IPv4 || family == AddressFamily.AF_IPv6)) {
                // an address literal (the decoder checked it), never a name to resolve
                InetAddress client = NetUtil.createInetAddressFromIpAddressString(header.sourceAddress());
                if (client == null) {
                    log.warn("PROXY header with an unusable source address {}: connection closed", header.sourceAddress());
                    refuse(ctx);
                    return;
                }
                ctx.channel().attr(CLIENT).set(new InetSocketAddress(client, header.sourcePort()));
            }
            // LOCAL (the balancer's own health check), UNKNOWN, AF_UNIX: no client address to believe
            ctx.pipeline().remove(this);
        } finally {
            header.release();
        }
    }

    private void refuse(ChannelHandlerContext ctx) {
        refused = true;
        ctx.close();
    }
}
