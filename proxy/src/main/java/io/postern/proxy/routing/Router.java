package io.postern.proxy.routing;

/** Picks the backend that holds a user's mailbox. Decided as data; the session carries it out. */
@FunctionalInterface
public interface Router {

    /**
     * Where a user goes, and why.
     *
     * @param backend the name of a backend under {@code backends}
     * @param reason how it was chosen, for {@code postern.jar route} and the logs:
     *     {@code static}, {@code hash} or {@code default}
     * @param key the routing key: the login name after {@code routing.normalize}
     */
    record Route(String backend, String reason, String key) {}

    /** The route of a login name. Pure and fast: called on the event loop. */
    Route route(String user);
}
