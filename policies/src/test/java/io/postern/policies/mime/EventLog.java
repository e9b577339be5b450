package io.postern.policies.mime;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;

/** Records a parser's events as text lines, and each leaf's decoded bytes, for comparisons. */
final class EventLog implements MimeListener {

    final List<String> events = new ArrayList<>();
    final Map<Integer, ByteArrayOutputStream> bodies = new LinkedHashMap<>();
    final Map<Integer, String> partStartedHeaders = new LinkedHashMap<>();
    private final boolean keepBodies;

    EventLog(boolean keepBodies) {
        this.keepBodies = keepBodies;
    }

    @Override
    public void partStarted(MimePart part, MimeHeaders headers) {
        events.add("start " + part.index() + " [" + part.section() + "] parent=" + part.parentIndex() + " depth=" + part.depth()
                + " " + part.mediaType() + " cte=" + part.transferEncoding() + " disp=" + part.disposition().orElse("-")
                + " file=" + part.filename().orElse("-") + " params=" + part.contentTypeParameters()
                + " leaf=" + part.isLeaf() + " hs=" + part.headerStart() + " bs=" + part.bodyStart() + " fields=" + headers.fields().size());
        partStartedHeaders.put(part.index(), headers.fields().toString());
    }

    @Override
    public void bodyChunk(MimePart part, ByteBuffer decoded) {
        if (!decoded.isReadOnly()) {
            throw new AssertionError("a body chunk must be read-only");
        }
        byte[] bytes = new byte[decoded.remaining()];
        decoded.get(bytes);
        CRC32 crc = new CRC32();
        crc.update(bytes);
        events.add("chunk " + part.index() + " " + bytes.length + " " + Long.toHexString(crc.getValue()));
        if (keepBodies) {
            bodies.computeIfAbsent(part.index(), k -> new ByteArrayOutputStream()).writeBytes(bytes);
        }
    }

    @Override
    public void partEnded(MimePart part) {
        events.add("end " + part.index() + " end=" + part.end() + " decoded=" + part.decodedSize());
    }

    @Override
    public void defect(MimeDefect defect) {
        events.add("defect " + defect.kind() + " @" + defect.offset() + " part=" + defect.partIndex() + " " + defect.detail());
    }

    byte[] body(int partIndex) {
        ByteArrayOutputStream b = bodies.get(partIndex);
        return b == null ? new byte[0] : b.toByteArray();
    }
}
