package io.postern.policies.engine;

import io.postern.policies.ContentInspector;
import io.postern.policies.ContentVerdict;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/** Stands in for a content policy that failed to make an inspector: the message is refused (fail closed). */
final class FailedInspector implements ContentInspector {

    private final String error;

    private FailedInspector(String error) {
        this.error = error;
    }

    static ContentInspector of(RuntimeException e) {
        return new FailedInspector(e.toString());
    }

    @Override
    public void onData(ByteBuffer chunk) {}

    @Override
    public CompletableFuture<ContentVerdict> onEnd() {
        return CompletableFuture.completedFuture(ContentVerdict.refuse("failed_closed", "SERVERBUG",
                "The message could not be inspected (" + error + ")."));
    }

    @Override
    public void close() {}
}
