package io.postern.proxy.routing;

/** Picks the backend that holds a user's mailbox. Decided as data; the session carries it out. */
@FunctionalInterface
public interface Router {

    /** The name of the backend for {@code user}, as configured under {@code backends}. */
    String route(String user);
}
