package io.postern.proxy.compress;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelPipeline;
import io.postern.proxy.server.HandlerNames;

/**
 * COMPRESS=DEFLATE on one connection: the inflater and deflater placed just below the frame
 * decoder (above TLS, when there is TLS: RFC 4978 compresses the IMAP stream, then TLS encrypts it).
 */
public final class Compression {

    /** zlib's default: most of level 9's ratio on IMAP text at a fraction of its CPU. */
    static final int LEVEL = 6;

    private final InflateHandler inflate;
    private final DeflateHandler deflate;

    private Compression(InflateHandler inflate, DeflateHandler deflate) {
        this.inflate = inflate;
        this.deflate = deflate;
    }

    /**
     * Starts compression on a connection whose pipeline has a frame decoder. Call it on the
     * channel's event loop right after the uncompressed OK was written.
     *
     * @param buffered bytes the frame decoder had read but not framed (they are compressed
     *     already); the inflater takes them over and releases them
     */
    public static Compression install(ChannelPipeline pipeline, ByteBuf buffered) {
        InflateHandler inflate = new InflateHandler(buffered);
        DeflateHandler deflate = new DeflateHandler(LEVEL);
        pipeline.addBefore(HandlerNames.FRAME_DECODER, HandlerNames.INFLATE, inflate);
        pipeline.addBefore(HandlerNames.FRAME_DECODER, HandlerNames.DEFLATE, deflate);
        return new Compression(inflate, deflate);
    }

    /** Compressed bytes received. */
    public long compressedIn() {
        return inflate.bytesIn();
    }

    /** Plain bytes the received ones inflated to. */
    public long plainIn() {
        return inflate.bytesOut();
    }

    /** Plain bytes given to the deflater. */
    public long plainOut() {
        return deflate.bytesIn();
    }

    /** Compressed bytes sent. */
    public long compressedOut() {
        return deflate.bytesOut();
    }
}
