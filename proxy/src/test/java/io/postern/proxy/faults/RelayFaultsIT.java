package io.postern.proxy.faults;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Backends that fail after the login, while Postern relays. Between two responses the client
 * gets {@code * BYE} (the backend's own, or Postern's {@code Backend connection lost.}) and the
 * connection closes. Inside a response, after a literal has begun, nothing can be said that the
 * client would not take for message data: the client gets the bytes relayed so far and the close,
 * and no BYE.
 */
class RelayFaultsIT extends AbstractFaultIT {

    private static final String FETCH_HEADER = "* 1 FETCH (BODY[] {100}\r\n";
    private static final String BYE_LOST = "* BYE Backend connection lost.\r\n";

    /** A logged-in session whose backend connection follows {@code afterLogin}. */
    private ClientConnection session(ScriptedBackend.Script afterLogin) throws Exception {
        backend.next(b -> {
            b.greet();
            b.login();
            afterLogin.run(b);
        });
        return login(SCRIPTED_USER);
    }

    /** After {@code command}, the client gets exactly {@code rest} and then the close. */
    private void assertEnds(ScriptedBackend.Script afterLogin, String command, String rest) throws Exception {
        try (ClientConnection c = session(afterLogin)) {
            c.send(command);
            assertThat(c.restUntilClosed()).isEqualTo(rest);
        }
    }

    @Test
    void closeInsideAFetchLiteralEndsTheClientConnectionWithoutBye() throws Exception {
        assertEnds(b -> {
            b.expect("FETCH");
            b.send(FETCH_HEADER + "x".repeat(40));
            Thread.sleep(100); // the first part reaches the client before the close
            b.close();
        }, "a1 FETCH 1 BODY[]\r\n", FETCH_HEADER + "x".repeat(40));
    }

    @Test
    void literalShorterThanAnnouncedThenCloseEndsWithoutBye() throws Exception {
        // the completion is sent too, but it falls inside the announced 100 bytes
        String tooShort = "x".repeat(30) + ")\r\na1 OK Fetch completed.\r\n";
        assertEnds(b -> {
            b.expect("FETCH");
            b.send(FETCH_HEADER + tooShort);
            b.close();
        }, "a1 FETCH 1 BODY[]\r\n", FETCH_HEADER + tooShort);
    }

    @Test
    void literalLongerThanAnnouncedThenCloseEndsAfterTheAnnouncedBytes() throws Exception {
        // 10 bytes announced, 20 sent: the last 10 start a line that never ends
        assertEnds(b -> {
            b.expect("FETCH");
            b.send("* 1 FETCH (BODY[] {10}\r\n" + "0123456789" + "abcdefghij");
            b.close();
        }, "a1 FETCH 1 BODY[]\r\n", "* 1 FETCH (BODY[] {10}\r\n" + "0123456789");
    }

    @Test
    void literalLongerThanAnnouncedIsRelayedAsTheBackendSentIt() throws Exception {
        // Postern cannot know the literal was meant to be longer: the rest is the next line, as for any client
        String response = "* 1 FETCH (BODY[] {10}\r\n" + "0123456789" + "abcdefghij)\r\n" + "a1 OK Fetch completed.\r\n";
        try (ClientConnection c = session(b -> {
            b.expect("FETCH");
            b.send(response);
            b.serve();
        })) {
            c.send("a1 FETCH 1 BODY[]\r\n");
            assertThat(c.bytes(response.length())).isEqualTo(response);
            c.send("a2 NOOP\r\n");
            assertThat(c.line()).isEqualTo("a2 OK NOOP completed.");
        }
    }

    @Test
    void closeInTheMiddleOfAnAppendLiteralIsByeAndNoCompletion() throws Exception {
        try (ClientConnection c = session(b -> {
            b.expect("APPEND");
            b.send("+ Ready for literal data\r\n");
            b.read(50);
            b.close();
        })) {
            c.send("a1 APPEND INBOX {100}\r\n");
            assertThat(c.line()).isEqualTo("+ Ready for literal data");
            c.send("y".repeat(50));
            assertThat(c.restUntilClosed()).isEqualTo(BYE_LOST);
        }
    }

    @Test
    void closeDuringIdleIsBye() throws Exception {
        try (ClientConnection c = session(b -> {
            b.expect("IDLE");
            b.send("+ idling\r\n");
            b.send("* 1 EXISTS\r\n");
            b.close();
        })) {
            c.send("a1 IDLE\r\n");
            assertThat(c.line()).isEqualTo("+ idling");
            assertThat(c.restUntilClosed()).isEqualTo("* 1 EXISTS\r\n" + BYE_LOST);
        }
    }

    @Test
    void untaggedByeFromTheBackendIsPassedOnAlone() throws Exception {
        try (ClientConnection c = session(b -> {
            b.expect("IDLE");
            b.send("+ idling\r\n");
            b.send("* BYE Shutting down for maintenance.\r\n");
            b.close();
        })) {
            c.send("a1 IDLE\r\n");
            assertThat(c.line()).isEqualTo("+ idling");
            assertThat(c.restUntilClosed()).isEqualTo("* BYE Shutting down for maintenance.\r\n");
        }
    }

    @Test
    void closeBetweenCommandsIsBye() throws Exception {
        assertEnds(b -> {
            b.send(b.expect("NOOP").tag() + " OK NOOP completed.\r\n");
            b.close();
        }, "a1 NOOP\r\n", "a1 OK NOOP completed.\r\n" + BYE_LOST);
    }

    @Test
    void resetBetweenCommandsIsBye() throws Exception {
        assertEnds(b -> {
            b.send(b.expect("NOOP").tag() + " OK NOOP completed.\r\n");
            Thread.sleep(100); // the answer reaches Postern before the reset
            b.reset();
        }, "a1 NOOP\r\n", "a1 OK NOOP completed.\r\n" + BYE_LOST);
    }

    @Test
    void resetAfterTheBackendsByeEndsTheSessionWithoutAnotherBye() throws Exception {
        // Dovecot now and then resets the connection after it answered LOGOUT
        assertEnds(b -> {
            b.send("* BYE Logging out\r\n" + b.expect("LOGOUT").tag() + " OK Logout completed.\r\n");
            Thread.sleep(100);
            b.reset();
        }, "a1 LOGOUT\r\n", "* BYE Logging out\r\na1 OK Logout completed.\r\n");
    }

    @Test
    void closeInTheMiddleOfALineIsBye() throws Exception {
        // the partial line is never passed on, so the client is between responses
        assertEnds(b -> {
            b.expect("NOOP");
            b.send("* 3 EXIS");
            b.close();
        }, "a1 NOOP\r\n", BYE_LOST);
    }

    @Test
    void garbageLinesArePassedOnAndTheSessionGoesOn() throws Exception {
        String garbage = "HTTP/1.1 400 Bad Request\r\n" + "}{ not imap at all\r\n";
        try (ClientConnection c = session(b -> {
            Thread.sleep(50);
            b.send(garbage);
            b.serve();
        })) {
            assertThat(c.bytes(garbage.length())).isEqualTo(garbage);
            c.send("a1 NOOP\r\n");
            assertThat(c.line()).isEqualTo("a1 OK NOOP completed.");
        }
    }

    @Test
    void endlessLineIsByeAndClosesBothConnections() throws Exception {
        assertEnds(b -> {
            b.expect("NOOP");
            b.send("* OK " + "z".repeat(MAX_RESPONSE_LINE));
            // past the limit already: Postern may close before this arrives (it reads several buffers at once)
            b.sendUnlessReset("z".repeat(MAX_RESPONSE_LINE));
            b.awaitClosedByPeer(CLOSE_WITHIN);
        }, "a1 NOOP\r\n", "* BYE Backend protocol error.\r\n");
    }

    @Test
    void endlessLineAfterALiteralClosesWithoutBye() throws Exception {
        assertEnds(b -> {
            b.expect("FETCH");
            b.send("* 1 FETCH (BODY[] {5}\r\nhello" + " FLAGS (" + "\\Seen ".repeat(MAX_RESPONSE_LINE));
            b.awaitClosedByPeer(CLOSE_WITHIN);
        }, "a1 FETCH 1 (BODY[] FLAGS)\r\n", "* 1 FETCH (BODY[] {5}\r\nhello");
    }

    @Test
    void taggedResponseForATagNobodySentIsPassedOnAndTheSessionGoesOn() throws Exception {
        try (ClientConnection c = session(b -> {
            String tag = b.expect("NOOP").tag();
            b.send("zz9 OK Nobody asked.\r\n" + tag + " OK NOOP completed.\r\n");
            b.serve();
        })) {
            c.send("a1 NOOP\r\n");
            assertThat(c.line()).isEqualTo("zz9 OK Nobody asked.");
            assertThat(c.line()).isEqualTo("a1 OK NOOP completed.");
            c.send("a2 NOOP\r\n");
            assertThat(c.line()).isEqualTo("a2 OK NOOP completed.");
        }
    }

    @Test
    void answerPosternGivesItselfWaitsForTheEndOfARelayedResponse() throws Exception {
        try (ClientConnection c = session(b -> {
            String tag = b.expect("FETCH").tag();
            b.send(FETCH_HEADER + "x".repeat(40));
            Thread.sleep(300); // the client's COMPRESS arrives in the middle of the literal
            b.send("x".repeat(60) + ")\r\n" + tag + " OK Fetch completed.\r\n");
            b.serve();
        })) {
            c.send("a1 FETCH 1 BODY[]\r\n");
            assertThat(c.bytes(FETCH_HEADER.length() + 40)).isEqualTo(FETCH_HEADER + "x".repeat(40));
            c.send("a2 COMPRESS DEFLATE\r\n");
            assertThat(c.bytes(60 + 3)).isEqualTo("x".repeat(60) + ")\r\n");
            // any order: both are whole responses now
            assertThat(List.of(c.line(), c.line())).containsExactlyInAnyOrder(
                    "a1 OK Fetch completed.", "a2 NO Commands are in progress; send COMPRESS when they have completed.");
        }
    }

    @Test
    void silentBackendLeavesTheSessionOpenUntilTheClientGoes() throws Exception {
        // no backend timeout after login: the idle timeout (35 min by default) is the bound
        try (ClientConnection c = session(b -> {
            b.expect("NOOP");
            b.awaitClosedByPeer(CLOSE_WITHIN.plusSeconds(1));
        })) {
            c.send("a1 NOOP\r\n");
            c.assertQuietFor(Duration.ofMillis(300));
            assertThat(openClientConnections()).isOne();
        }
    }
}
