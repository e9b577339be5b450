package io.postern.proxy.faults;

import static org.assertj.core.api.Assertions.assertThat;

import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;
import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.server.PosternServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

/**
 * One Postern for a whole test class, in front of a {@link ScriptedBackend} (the default route,
 * with a login timeout far beyond the client's read timeout, so an answer the client gets came
 * at once), the same scripted server with a short login timeout (user {@value #IMPATIENT_USER})
 * and behind {@code tls: implicit} (user {@value #TLS_USER}), a port where nothing listens (user
 * {@value #NOBODY_USER}), and GreenMail (user {@value #HEALTHY_USER}).
 *
 * <p>Health checks are off: a probe would take a script meant for a session. After every case
 * the class checks that the fault left nothing behind: every backend connection of the case was
 * closed and its script passed, a fresh session to GreenMail and one to a healthy scripted
 * connection both log in and run NOOP through the same Postern, and Postern's open client
 * connections and backend sessions are back to zero. Netty's leak detector (PARANOID, via the
 * imap test-jar's extension) checks the buffers after each test as well.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class AbstractFaultIT {

    static final String TLS_USER = "tls";
    static final String NOBODY_USER = "nobody";
    static final String HEALTHY_USER = "carol";
    /** Any user the routing does not name goes to the scripted backend. */
    static final String SCRIPTED_USER = "dave";
    /** To the scripted backend with {@link #LOGIN_TIMEOUT}. */
    static final String IMPATIENT_USER = "erin";
    private static final String[] BACKENDS = {"scripted", "impatient", "tls-stall", "closed", "greenmail"};
    /** Short, so the cases that wait for it stay quick; the other backends have the default (30 s). */
    static final Duration LOGIN_TIMEOUT = Duration.ofMillis(1500);
    static final int MAX_RESPONSE_LINE = 1024;
    static final String UNAVAILABLE = "NO [UNAVAILABLE] Backend unavailable, try again later.";
    /** How long Postern may take to close a connection it has given up on. */
    static final Duration CLOSE_WITHIN = Duration.ofSeconds(10);

    ScriptedBackend backend;
    private GreenMail greenMail;
    private PosternServer postern;

    @BeforeAll
    void start() throws Exception {
        backend = ScriptedBackend.start();
        greenMail = new GreenMail(new ServerSetup(0, "127.0.0.1", ServerSetup.PROTOCOL_IMAP));
        greenMail.start();
        greenMail.setUser(HEALTHY_USER + "@postern.test", HEALTHY_USER, ScriptedBackend.PASSWORD);
        postern = PosternServer.start(PosternConfig.parse("""
                listeners:
                  - name: imap
                    bind: 127.0.0.1:0
                    tls: none
                backends:
                  - name: scripted
                    address: 127.0.0.1:%1$d
                    tls: none
                    health_check: { enabled: false }
                  - name: impatient
                    address: 127.0.0.1:%1$d
                    tls: none
                    login_timeout: %2$dms
                    health_check: { enabled: false }
                  - name: tls-stall
                    address: 127.0.0.1:%1$d
                    tls: implicit
                    insecure: true
                    login_timeout: %2$dms
                    health_check: { enabled: false }
                  - name: closed
                    address: 127.0.0.1:%3$d
                    tls: none
                    health_check: { enabled: false }
                  - name: greenmail
                    address: 127.0.0.1:%4$d
                    tls: none
                    health_check: { enabled: false }
                routing:
                  strategy: static
                  static: { %5$s: tls-stall, %6$s: closed, %7$s: greenmail, %9$s: impatient }
                  default: scripted
                limits:
                  max_response_line_length: %8$d
                """.formatted(backend.port(), LOGIN_TIMEOUT.toMillis(), closedPort(), greenMail.getImap().getPort(),
                TLS_USER, NOBODY_USER, HEALTHY_USER, MAX_RESPONSE_LINE, IMPATIENT_USER)));
    }

    /** A loopback port where nothing listens. */
    private static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @AfterAll
    void stop() throws IOException {
        if (postern != null) {
            postern.close();
        }
        if (greenMail != null) {
            greenMail.stop();
        }
        if (backend != null) {
            backend.close();
        }
    }

    @AfterEach
    void nothingLeftBehind() throws Exception {
        backend.awaitQuiet(CLOSE_WITHIN);
        awaitNoClientConnections();
        for (String user : new String[] {HEALTHY_USER, SCRIPTED_USER}) {
            try (ClientConnection c = login(user)) {
                c.send("n1 NOOP\r\n");
                assertThat(c.line()).isEqualTo("n1 OK NOOP completed.");
                c.send("n2 LOGOUT\r\n");
                assertThat(c.restUntilClosed()).startsWith("* BYE").contains("\r\nn2 OK ");
            }
        }
        backend.awaitQuiet(CLOSE_WITHIN);
        awaitNoClientConnections();
    }

    private void awaitNoClientConnections() throws InterruptedException {
        long deadline = System.nanoTime() + CLOSE_WITHIN.toNanos();
        while (openConnections() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(postern.openClientConnections()).as("client connections open in Postern").isZero();
        for (String name : BACKENDS) {
            assertThat(postern.backendSessions(name)).as("sessions of backend " + name).isZero();
        }
    }

    private int openConnections() {
        int open = postern.openClientConnections();
        for (String name : BACKENDS) {
            open += postern.backendSessions(name);
        }
        return open;
    }

    int openClientConnections() {
        return postern.openClientConnections();
    }

    InetSocketAddress postern() {
        return postern.address("imap");
    }

    /** A client that has read Postern's greeting. */
    ClientConnection connect() throws IOException {
        ClientConnection c = new ClientConnection(postern());
        assertThat(c.line()).startsWith("* OK [CAPABILITY ");
        return c;
    }

    /** A client logged in through Postern as {@code user}. */
    ClientConnection login(String user) throws IOException {
        ClientConnection c = connect();
        c.send("a0 LOGIN " + user + " " + ScriptedBackend.PASSWORD + "\r\n");
        assertThat(c.line()).startsWith("a0 OK [CAPABILITY ").endsWith("] Logged in");
        return c;
    }
}
