package io.postern.policies;

/**
 * Told of each untagged data response with a keyword it registered for
 * ({@link Policy.Builder#onUntagged}) as it passes to the client: {@code * 3 EXPUNGE},
 * {@code * VANISHED 4:7}, {@code * 12 FETCH (UID 40 ...}, or an untagged status response
 * ({@code OK}: {@code * OK [COPYUID 7 3 2] Moved}). Observes only; unlike a
 * {@link ResponsePolicy} it holds nothing back, so it is cheap enough for FETCH.
 *
 * <p>Threading: called on the session's event loop; must not block.
 */
@FunctionalInterface
public interface UntaggedListener {

    /**
     * @param keyword the data keyword, upper case
     * @param number the number before the keyword, or -1
     * @param data the rest of the response's first line after the keyword (up to 256 characters,
     *     without a literal's data); message data never appears here beyond that first line
     */
    void onUntagged(SessionInfo session, String keyword, long number, String data);
}
