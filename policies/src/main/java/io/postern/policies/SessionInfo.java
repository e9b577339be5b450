package io.postern.policies;

import java.net.InetAddress;
import java.time.Instant;
import java.util.Locale;
import java.util.Set;

/**
 * What a policy knows about the session it decides for. Immutable; the same instance is passed
 * to every event of one session.
 *
 * @param sessionId Postern's session id, as in its log lines
 * @param user the login name as the client gave it; {@code null} before login (greeting and
 *     pre-login CAPABILITY)
 * @param groups the groups the user belongs to (the {@code groups:} configuration); empty before login
 * @param listener the name of the listener the client connected to
 * @param clientAddress the client's address (the one a PROXY header named, where one did); may be {@code null}
 * @param tls whether the client connection is encrypted (implicit TLS, or after STARTTLS)
 * @param mechanism how the client logged in ({@code LOGIN}, {@code PLAIN}, {@code XOAUTH2} ...); {@code null} before login
 * @param backend the name of the backend the session is relayed to; {@code null} before one was chosen
 * @param connectedAt when the client connected; may be {@code null}
 * @param tlsProtocol the client connection's TLS protocol ({@code TLSv1.3}); {@code null} without TLS
 * @param tlsCipher the client connection's cipher suite; {@code null} without TLS
 */
public record SessionInfo(
        String sessionId, String user, Set<String> groups, String listener, InetAddress clientAddress, boolean tls,
        String mechanism, String backend, Instant connectedAt, String tlsProtocol, String tlsCipher) {

    public SessionInfo {
        groups = Set.copyOf(groups);
    }

    /** Without the connection's time and TLS parameters. */
    public SessionInfo(String sessionId, String user, Set<String> groups, String listener, InetAddress clientAddress, boolean tls,
            String mechanism, String backend) {
        this(sessionId, user, groups, listener, clientAddress, tls, mechanism, backend, null, null, null);
    }

    /** Without the login mechanism and the backend (tests, and policies that do not need them). */
    public SessionInfo(String sessionId, String user, Set<String> groups, String listener, InetAddress clientAddress, boolean tls) {
        this(sessionId, user, groups, listener, clientAddress, tls, null, null);
    }

    /** A connection before login: only the listener, the address and TLS are known. */
    public static SessionInfo connection(String sessionId, String listener, InetAddress clientAddress, boolean tls) {
        return new SessionInfo(sessionId, null, Set.of(), listener, clientAddress, tls);
    }

    /** The part of the user name after the last {@code @}, in lower case; empty when there is none. */
    public String domain() {
        int at = user == null ? -1 : user.lastIndexOf('@');
        return at < 0 ? "" : user.substring(at + 1).toLowerCase(Locale.ROOT);
    }

    public boolean loggedIn() {
        return user != null;
    }
}
