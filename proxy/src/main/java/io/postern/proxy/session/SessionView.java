package io.postern.proxy.session;

import java.time.Instant;

/**
 * What the admin API shows of one session at one moment: taken on the session's event loop by
 * {@link ClientSession#view()}.
 *
 * @param user the login name, or {@code null} before a login
 * @param routeKey the routing key of the user (after {@code routing.normalize}), or {@code null}
 * @param backend the backend the session is (or is being) logged in to, or {@code null}
 * @param state {@code connected}, {@code logging-in}, {@code relay} or {@code closed}
 * @param since when the client connected
 */
public record SessionView(
        String id, String listener, String client, String user, String routeKey, String backend, String state,
        Instant since) {}
