package io.postern.proxy.session;

import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.ChannelConfig;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.util.UncheckedBooleanSupplier;
import java.util.function.BooleanSupplier;

/**
 * How a session's connections read: Netty's adaptive buffer sizes, and, with {@code AUTO_READ} off,
 * a {@code read()} that goes on to the next buffer (up to {@value #MAX_READS}) while the socket
 * filled the last one and the session would ask for the next read anyway (its {@link #gate}).
 * Netty's own handle stops after one buffer whenever {@code AUTO_READ} is off, so each buffer of
 * a FETCH stream cost an event-loop wake-up, an {@code epoll_wait}, a flush and a {@code writev}
 * of its own. The relay still flushes once per read, at its end.
 */
final class RelayReadAllocator implements RecvByteBufAllocator {

    /** Buffers read in one go at most, as Netty's default for {@code AUTO_READ}. */
    static final int MAX_READS = 16;

    /** Stateless (the sizing state is in each handle), so one serves every connection. */
    private static final RecvByteBufAllocator SIZES = new AdaptiveRecvByteBufAllocator();
    private static final BooleanSupplier CLOSED = () -> false;

    private BooleanSupplier gate;

    /** One buffer per read until a session sets its {@link #gate}, as for a connection made ahead of a login. */
    RelayReadAllocator() {
        this(CLOSED);
    }

    RelayReadAllocator(BooleanSupplier gate) {
        this.gate = gate;
    }

    /** Whether the read in progress may take another buffer; set by the session that owns the connection. */
    void gate(BooleanSupplier gate) {
        this.gate = gate;
    }

    @Override
    public Handle newHandle() {
        return new BatchHandle((ExtendedHandle) SIZES.newHandle());
    }

    private final class BatchHandle extends DelegatingHandle implements ExtendedHandle {
        private int reads;

        BatchHandle(ExtendedHandle sizes) {
            super(sizes);
        }

        @Override
        public void reset(ChannelConfig config) {
            reads = 0;
            super.reset(config);
        }

        @Override
        public void incMessagesRead(int numMessages) {
            reads += numMessages;
            super.incMessagesRead(numMessages);
        }

        /** Whether the last read filled its buffer; made once, not per read. */
        private final UncheckedBooleanSupplier filled = () -> attemptedBytesRead() == lastBytesRead();

        @Override
        public boolean continueReading() {
            return continueReading(filled);
        }

        @Override
        public boolean continueReading(UncheckedBooleanSupplier maybeMoreData) {
            return reads < MAX_READS && lastBytesRead() > 0 && maybeMoreData.get() && gate.getAsBoolean();
        }
    }
}
