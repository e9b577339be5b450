package io.postern.proxy.session;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/** The PROXY protocol header (HAProxy's v1 text or v2 binary form) Postern opens a backend connection with. */
final class ProxyHeader {

    private static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

    private ProxyHeader() {}

    /** @param source the client; @param destination the Postern listener it connected to */
    static ByteBuf encode(ByteBufAllocator alloc, String version, InetSocketAddress source, InetSocketAddress destination) {
        boolean v4 = source.getAddress() instanceof Inet4Address && destination.getAddress() instanceof Inet4Address;
        ByteBuf out = alloc.buffer(64);
        if (version.equals("v1")) {
            String line = "PROXY " + (v4 ? "TCP4 " : "TCP6 ") + source.getAddress().getHostAddress() + " "
                    + destination.getAddress().getHostAddress() + " " + source.getPort() + " " + destination.getPort() + "\r\n";
            out.writeCharSequence(line, StandardCharsets.US_ASCII);
            return out;
        }
        byte[] src = v4 ? source.getAddress().getAddress() : ipv6(source);
        byte[] dst = v4 ? destination.getAddress().getAddress() : ipv6(destination);
        out.writeBytes(V2_SIGNATURE);
        out.writeByte(0x21); // version 2, PROXY
        out.writeByte(v4 ? 0x11 : 0x21); // TCP over IPv4 / IPv6
        out.writeShort(src.length * 2 + 4);
        out.writeBytes(src).writeBytes(dst);
        out.writeShort(source.getPort()).writeShort(destination.getPort());
        return out;
    }

    private static byte[] ipv6(InetSocketAddress a) {
        byte[] b = a.getAddress().getAddress();
        if (b.length == 16) {
            return b;
        }
        byte[] mapped = new byte[16]; // ::ffff:a.b.c.d
        mapped[10] = (byte) 0xff;
        mapped[11] = (byte) 0xff;
        System.arraycopy(b, 0, mapped, 12, 4);
        return mapped;
    }
}
