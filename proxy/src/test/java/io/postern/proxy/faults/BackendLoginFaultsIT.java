package io.postern.proxy.faults;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * Backends that fail between Postern's connect and the end of the login: the client gets a
 * tagged {@code NO [UNAVAILABLE]} (at once when the failure is plain, after
 * {@code backends[].login_timeout} when the backend just stays silent), the backend connection is
 * closed, and the session stays usable: the same client then logs in to a working backend. No
 * upper time bounds but the client's read timeout, which a loaded machine does not reach.
 */
class BackendLoginFaultsIT extends AbstractFaultIT {

    /**
     * LOGIN as {@code user} must be answered {@code NO [UNAVAILABLE]}, not before {@code atLeast};
     * then the session must still work: another LOGIN, to GreenMail, succeeds on the same connection.
     */
    private void assertUnavailable(String user, Duration atLeast) throws Exception {
        try (ClientConnection c = connect()) {
            long start = System.nanoTime();
            c.send("a1 LOGIN " + user + " " + ScriptedBackend.PASSWORD + "\r\n");
            assertThat(c.line()).isEqualTo("a1 " + UNAVAILABLE);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(atLeast);
            c.send("a2 LOGIN " + HEALTHY_USER + " " + ScriptedBackend.PASSWORD + "\r\n");
            assertThat(c.line()).startsWith("a2 OK [CAPABILITY ");
            c.send("a3 NOOP\r\n");
            assertThat(c.line()).isEqualTo("a3 OK NOOP completed.");
        }
    }

    /**
     * Answered at once: the scripted backend's login timeout (30 s) is beyond the client's read
     * timeout, so an answer that waited for it would fail the read.
     */
    private void assertUnavailableAtOnce() throws Exception {
        assertUnavailable(SCRIPTED_USER, Duration.ZERO);
    }

    @Test
    void slowGreetingWithinTheLoginTimeoutLogsIn() throws Exception {
        Duration delay = LOGIN_TIMEOUT.dividedBy(5);
        backend.next(b -> {
            Thread.sleep(delay.toMillis());
            b.healthy();
        });
        try (ClientConnection c = connect()) {
            long start = System.nanoTime();
            c.send("a1 LOGIN " + IMPATIENT_USER + " " + ScriptedBackend.PASSWORD + "\r\n");
            assertThat(c.line()).isEqualTo("a1 OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE UIDPLUS COMPRESS=DEFLATE] Logged in");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(delay);
            c.send("a2 NOOP\r\n");
            assertThat(c.line()).isEqualTo("a2 OK NOOP completed.");
        }
    }

    @Test
    void noGreetingIsUnavailableAfterTheLoginTimeout() throws Exception {
        backend.next(b -> b.awaitClosedByPeer(LOGIN_TIMEOUT.plus(CLOSE_WITHIN)));
        assertUnavailable(IMPATIENT_USER, LOGIN_TIMEOUT);
    }

    @Test
    void noAnswerToTheLoginIsUnavailableAfterTheLoginTimeout() throws Exception {
        backend.next(b -> {
            b.greet();
            b.expect("AUTHENTICATE");
            b.awaitClosedByPeer(LOGIN_TIMEOUT.plus(CLOSE_WITHIN));
        });
        assertUnavailable(IMPATIENT_USER, LOGIN_TIMEOUT);
    }

    @Test
    void stalledTlsHandshakeIsUnavailableAfterTheLoginTimeout() throws Exception {
        // tls: implicit, and the server reads the ClientHello and says nothing
        backend.next(b -> assertThat(b.awaitClosedByPeer(LOGIN_TIMEOUT.plus(CLOSE_WITHIN))).isPositive());
        assertUnavailable(TLS_USER, LOGIN_TIMEOUT);
    }

    @Test
    void refusedConnectIsUnavailableAtOnce() throws Exception {
        assertUnavailable(NOBODY_USER, Duration.ZERO);
    }

    @Test
    void closeAfterTheGreetingIsUnavailableAtOnce() throws Exception {
        backend.next(b -> {
            b.greet();
            b.expect("AUTHENTICATE");
            b.close();
        });
        assertUnavailableAtOnce();
    }

    @Test
    void closeInTheMiddleOfTheLoginAnswerIsUnavailableAtOnce() throws Exception {
        backend.next(b -> {
            b.greet();
            b.send(b.expect("AUTHENTICATE").tag() + " OK [CAPABILITY IMAP4rev1 ID");
            b.close();
        });
        assertUnavailableAtOnce();
    }

    @Test
    void byeAsGreetingIsUnavailableAtOnce() throws Exception {
        backend.next(b -> {
            b.send("* BYE Too many connections, try later.\r\n");
            b.awaitClosedByPeer(CLOSE_WITHIN);
        });
        assertUnavailableAtOnce();
    }

    @Test
    void garbageGreetingIsUnavailableAtOnce() throws Exception {
        backend.next(b -> {
            b.send("SSH-2.0-OpenSSH_9.6\r\n");
            b.awaitClosedByPeer(CLOSE_WITHIN);
        });
        assertUnavailableAtOnce();
    }

    @Test
    void endlessGreetingLineIsUnavailableAtOnce() throws Exception {
        backend.next(b -> {
            b.send("* OK " + "x".repeat(MAX_RESPONSE_LINE * 2));
            b.awaitClosedByPeer(CLOSE_WITHIN);
        });
        assertUnavailableAtOnce();
    }
}
