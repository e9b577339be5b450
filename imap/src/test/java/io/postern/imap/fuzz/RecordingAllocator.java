package io.postern.imap.fuzz;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import java.util.ArrayList;
import java.util.List;

/**
 * Unpooled heap buffers, each remembered, so that a fuzz target can check after every input that
 * all of them were released: exact and immediate, where Netty's leak detector needs a garbage
 * collection.
 *
 * <p>When the committed inputs are replayed (a normal build), each buffer also goes to Netty's
 * leak detector, as Netty's own allocators do: PARANOID in tests, its reports recorded by
 * {@code LeakDetectionExtension}. While fuzzing it does not: PARANOID tracking takes a stack trace
 * per buffer access, which slows fuzzing a hundredfold, and the refCnt check already sees every
 * buffer of the input that leaked.
 */
public final class RecordingAllocator extends AbstractByteBufAllocator {

    /** Jazzer fuzzes (rather than replays) when this variable is set to anything. */
    private static final boolean FUZZING = !System.getenv().getOrDefault("JAZZER_FUZZ", "").isEmpty();

    private final List<ByteBuf> allocated = new ArrayList<>();

    public RecordingAllocator() {
        super(false);
    }

    @Override
    protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
        ByteBuf buf = new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity);
        allocated.add(buf);
        return FUZZING ? buf : toLeakAwareBuffer(buf);
    }

    @Override
    protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
        return newHeapBuffer(initialCapacity, maxCapacity);
    }

    @Override
    public boolean isDirectBufferPooled() {
        return false;
    }

    /** Fails when a buffer from this allocator is still referenced. */
    public void assertAllReleased() {
        for (int i = 0; i < allocated.size(); i++) {
            ByteBuf buf = allocated.get(i);
            if (buf.refCnt() != 0) {
                throw new AssertionError("buffer " + (i + 1) + " of " + allocated.size() + " not released: refCnt "
                        + buf.refCnt() + ", capacity " + buf.capacity());
            }
        }
    }
}
