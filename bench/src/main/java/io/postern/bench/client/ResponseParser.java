package io.postern.bench.client;

import io.netty.buffer.ByteBuf;
import io.netty.util.ByteProcessor;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.Consumer;
import java.util.zip.CRC32C;

/**
 * Splits what a server sends into whole {@link Response}s, independently of Postern's own
 * decoder (the driver must not share the code it measures). A line runs to LF; when a data
 * response's line ends in {@code {n}}, {@code {n+}} or {@code ~{n}}, exactly n bytes of literal
 * follow, which are counted and fed to a CRC-32C, never scanned for line ends nor kept, and the
 * response goes on with the next line.
 *
 * <p>Not thread-safe: one connection, one event loop.
 */
public final class ResponseParser {

    /** The longest response line kept (a long SEARCH of a big mailbox fits easily). */
    public static final int MAX_LINE = 8 * 1024 * 1024;

    private final Consumer<Response> sink;
    private final CRC32C checksum = new CRC32C();

    private byte[] line = new byte[256];
    private int lineLength;
    /** The text of the response so far: its earlier lines, literal announcements kept. */
    private final StringBuilder text = new StringBuilder();
    private boolean inResponse;
    private boolean literalsAllowed;
    private long literalRemaining;
    private long responseLiteralBytes;
    private int responseLiterals;

    private long literalBytes;
    private long literalCount;

    public ResponseParser(Consumer<Response> sink) {
        this.sink = sink;
    }

    private boolean paused;

    /**
     * Consumes every readable byte of {@code in} (up to a {@link #pauseAfterResponse()}); calls
     * the sink once per whole response.
     */
    public void feed(ByteBuf in) {
        paused = false;
        while (in.isReadable() && !paused) {
            if (literalRemaining > 0) {
                int n = (int) Math.min(literalRemaining, in.readableBytes());
                update(in, in.readerIndex(), n);
                in.skipBytes(n);
                literalRemaining -= n;
                literalBytes += n;
                responseLiteralBytes += n;
                continue;
            }
            int lf = in.forEachByte(ByteProcessor.FIND_LF);
            int end = lf < 0 ? in.writerIndex() : lf + 1;
            append(in, in.readerIndex(), end - in.readerIndex());
            in.readerIndex(end);
            if (lf >= 0) {
                lineEnded();
            }
        }
    }

    /**
     * Called from the sink: {@link #feed} returns after this response and leaves the rest of its
     * buffer unread (what follows a {@code COMPRESS} OK is compressed).
     */
    public void pauseAfterResponse() {
        paused = true;
    }

    private void update(ByteBuf in, int index, int length) {
        if (in.nioBufferCount() == 1) {
            checksum.update(in.nioBuffer(index, length));
        } else {
            for (ByteBuffer part : in.nioBuffers(index, length)) {
                checksum.update(part);
            }
        }
    }

    private void append(ByteBuf in, int index, int length) {
        if (lineLength + length > MAX_LINE) {
            throw new IllegalStateException("response line longer than " + MAX_LINE + " bytes");
        }
        if (lineLength + length > line.length) {
            line = Arrays.copyOf(line, Math.max(line.length * 2, lineLength + length));
        }
        in.getBytes(index, line, lineLength, length);
        lineLength += length;
    }

    private void lineEnded() {
        int end = lineLength - 1; // the LF
        if (end > 0 && line[end - 1] == '\r') {
            end--;
        }
        String piece = new String(line, 0, end, StandardCharsets.ISO_8859_1);
        lineLength = 0;
        if (!inResponse) {
            inResponse = true;
            literalsAllowed = mayCarryLiterals(piece);
        }
        text.append(piece);
        long announced = literalsAllowed ? literalSize(piece) : -1;
        if (announced >= 0) {
            responseLiterals++;
            literalCount++;
            literalRemaining = announced;
            return;
        }
        Response response = Response.of(text.toString(), responseLiterals, responseLiteralBytes);
        text.setLength(0);
        inResponse = false;
        responseLiterals = 0;
        responseLiteralBytes = 0;
        sink.accept(response);
    }

    /** Untagged data responses carry literals; tagged, continuation and status responses do not. */
    private static boolean mayCarryLiterals(String first) {
        if (!first.startsWith("* ")) {
            return false;
        }
        int wordEnd = first.indexOf(' ', 2);
        String word = wordEnd < 0 ? first.substring(2) : first.substring(2, wordEnd);
        switch (word.toUpperCase(java.util.Locale.ROOT)) {
            case "OK":
            case "NO":
            case "BAD":
            case "BYE":
            case "PREAUTH":
                return false;
            default:
                return true;
        }
    }

    /** The n of a line ending in {@code {n}}, {@code {n+}}, {@code ~{n}}; -1 if it does not. */
    static long literalSize(String piece) {
        int end = piece.length() - 1;
        if (end < 2 || piece.charAt(end) != '}') {
            return -1;
        }
        int digitsEnd = piece.charAt(end - 1) == '+' ? end - 1 : end;
        int open = piece.lastIndexOf('{', digitsEnd);
        if (open < 0 || open + 1 == digitsEnd || digitsEnd - open - 1 > 18) {
            return -1;
        }
        long size = 0;
        for (int i = open + 1; i < digitsEnd; i++) {
            char c = piece.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            size = size * 10 + (c - '0');
        }
        return size;
    }

    /** Literal bytes seen since the last {@link #resetLiterals()}. */
    public long literalBytes() {
        return literalBytes;
    }

    /** Literals seen since the last {@link #resetLiterals()}. */
    public long literalCount() {
        return literalCount;
    }

    /** CRC-32C of every literal byte seen since the last {@link #resetLiterals()}, in arrival order. */
    public long literalChecksum() {
        return checksum.getValue();
    }

    public void resetLiterals() {
        checksum.reset();
        literalBytes = 0;
        literalCount = 0;
    }

    /** {@code true} when the input stopped inside a response. */
    public boolean midResponse() {
        return inResponse || lineLength > 0 || literalRemaining > 0;
    }
}
