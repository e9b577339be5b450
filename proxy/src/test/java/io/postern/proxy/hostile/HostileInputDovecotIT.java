package io.postern.proxy.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.postern.proxy.server.PosternServer;
import io.postern.proxy.testing.DovecotFixture;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Hostile input whose effect depends on how the backend parses what Postern passes on, against
 * a real Dovecot: a command smuggled in a user name, NUL and bare CR or LF inside command lines,
 * invalid UTF-8. The relayed cases are sent twice, through Postern and straight to Dovecot, and
 * a recording relay shows what Dovecot was asked to parse. Dovecot answers a failed login after
 * two seconds ({@code auth_failure_delay}), so failing logins run side by side.
 */
class HostileInputDovecotIT {

    /** A user name that a proxy pasting it into {@code LOGIN "..." "..."} turns into alice's login and two commands. */
    private static final String SMUGGLING_USER = "alice\" \"secret\"\r\na2 DELETE Keep\r\na3 CREATE Smuggled\r\na4 NOOP \"";

    private static DovecotFixture dovecot;
    private static WireTap tap;
    private static PosternServer postern;

    @BeforeAll
    static void start() throws Exception {
        DovecotFixture.assumeAvailable();
        dovecot = DovecotFixture.builder().name("hostile").user("alice", "secret").user("watcher", "pw").start();
        dovecot.seedMessage("alice", "Keep", "Subject: keep\r\n\r\nkeep me\r\n".getBytes(StandardCharsets.US_ASCII));
        tap = new WireTap(dovecot.host(), dovecot.port());
        postern = HostileSetup.postern("127.0.0.1", tap.port(), """
                timeouts:
                  pre_auth: 10s
                limits:
                  login_failure_delay: 0s
                """);
    }

    @AfterAll
    static void stop() throws IOException {
        AttackWatch.writeReport("HostileInputDovecotIT (Dovecot)");
        if (postern != null) {
            postern.close();
        }
        if (tap != null) {
            tap.close();
        }
        if (dovecot != null) {
            dovecot.close();
        }
    }

    private static AttackWatch.Figures during(String name, AttackWatch.Attack attack) throws Exception {
        return AttackWatch.during(name, postern, "watcher", "pw", attack);
    }

    private static InetSocketAddress direct() {
        return new InetSocketAddress(dovecot.host(), dovecot.port());
    }

    private static List<String> alicesFolders() throws IOException {
        return HostileSetup.folders(dovecot.host(), dovecot.port(), "alice", "secret");
    }

    /**
     * Sends {@code attack} on a connection of its own, on another thread (each part but the last
     * waits for a {@code +}); returns the answer to the last part, after checking that the
     * session goes on.
     */
    private static CompletableFuture<String> beforeLogin(String... attack) {
        return CompletableFuture.supplyAsync(() -> {
            try (HostileSocket s = HostileSocket.greeted(postern.address("imap"))) {
                for (int i = 0; i < attack.length - 1; i++) {
                    s.send(attack[i]);
                    assertThat(s.line()).isEqualTo("+ Ready for literal data");
                }
                s.send(attack[attack.length - 1]);
                String answer = s.line();
                s.send("n1 NOOP\r\n");
                assertThat(s.line()).isEqualTo("n1 OK NOOP completed.");
                return answer;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /**
     * Logs in as alice at {@code server}, sends {@code attack} and a closing {@code z NOOP}, and
     * returns every tagged reply and untagged BAD before the NOOP's, without Dovecot's timings.
     */
    private static List<String> afterLogin(InetSocketAddress server, String attack) throws IOException {
        try (HostileSocket s = HostileSocket.connect(server)) {
            s.line();
            s.send("a0 LOGIN alice secret\r\n");
            assertThat(s.tagged("a0")).startsWith("a0 OK");
            s.send(attack + "z NOOP\r\n");
            List<String> lines = new ArrayList<>();
            for (String line : s.until("z")) {
                if (!line.startsWith("* ") || line.startsWith("* BAD")) {
                    lines.add(line.replaceFirst(" \\([0-9.+ ]+ secs\\)\\.$", "."));
                }
            }
            lines.remove(lines.size() - 1);
            return lines;
        }
    }

    /**
     * Four logins at once (each failure costs two seconds at Dovecot): a command smuggled in a
     * user name, as a LOGIN literal and inside AUTHENTICATE PLAIN; a NUL in a literal user name;
     * invalid UTF-8 in a quoted one.
     */
    @Test
    void loginArgumentsThatAreNoName() throws Exception {
        String plain = Base64.getEncoder().encodeToString(
                ("\0" + SMUGGLING_USER + "\0secret").getBytes(StandardCharsets.UTF_8));
        during("CRLF, NUL, invalid UTF-8 in LOGIN / AUTHENTICATE user names (Dovecot)", () -> {
            List<CompletableFuture<String>> answers = List.of(
                    beforeLogin("a1 LOGIN {" + SMUGGLING_USER.length() + "}\r\n", SMUGGLING_USER + " x\r\n"),
                    beforeLogin("a1 AUTHENTICATE PLAIN " + plain + "\r\n"),
                    beforeLogin("a1 LOGIN {12}\r\n", "alice\0secret secret\r\n"),
                    beforeLogin("a1 LOGIN \"ali\u00ffce\" secret\r\n"));
            // FINDING: NUL and invalid UTF-8 are not refused by Postern (RFC 9051: no NUL in a
            // literal, UTF-8 must be valid); the backend refuses the login after its failure delay
            for (CompletableFuture<String> answer : answers) {
                assertThat(answer.get()).isEqualTo("a1 NO [AUTHENTICATIONFAILED] Authentication failed.");
            }
            return "a1 NO [AUTHENTICATIONFAILED] Authentication failed. (all four, the backend's refusal); "
                    + "session goes on";
        }).assertOthersUnharmed();
        assertThat(alicesFolders()).contains("Keep").doesNotContain("Smuggled");
        // Dovecot offers AUTH=PLAIN and SASL-IR: on the backend connections of the smuggling
        // logins, the name travelled inside the base64 of one AUTHENTICATE line, among lines of
        // Postern's own.
        List<String> carried = new ArrayList<>();
        for (String stream : tap.commandStreams()) {
            List<String> lines = List.of(stream.split("\r\n"));
            for (String line : lines) {
                if (line.matches("postern\\d+ AUTHENTICATE PLAIN \\S+")) {
                    String decoded = new String(Base64.getDecoder().decode(line.substring(line.lastIndexOf(' ') + 1)),
                            StandardCharsets.UTF_8);
                    if (decoded.contains("DELETE Keep")) {
                        carried.add(decoded);
                        assertThat(lines).as("what Dovecot got").allMatch(l -> l.matches("postern\\d+ [A-Z]+( .*)?"));
                    }
                }
            }
        }
        assertThat(carried).containsExactlyInAnyOrder("\0" + SMUGGLING_USER + "\0x", "\0" + SMUGGLING_USER + "\0secret");
    }

    /**
     * After login Postern passes command lines on as they came, framed by LF. Dovecot frames the
     * same way, so no bare CR or NUL ever lets a second command run; but it reads some lines
     * differently from Postern (see the FINDING lines).
     */
    @Test
    void nulAndBareCrAndBareLfInCommandLinesAfterLogin() throws Exception {
        during("NUL, bare CR, bare LF in command lines after login (Dovecot)", () -> {
            // Postern refuses it (tagged, so a1 completes); Dovecot says a1 OK NOOP completed.
            assertThat(afterLogin(postern.address("imap"), "a1 NOOP\ra2 CREATE Smuggled\r\n"))
                    .containsExactly("a1 BAD Invalid character in command name.");
            assertThat(afterLogin(direct(), "a1 NOOP\ra2 CREATE Smuggled\r\n"))
                    .containsExactly("a1 OK NOOP completed.");
            assertThat(afterLogin(postern.address("imap"), "a1 NOOP\0\r\n"))
                    .containsExactly("a1 BAD Invalid character in command name.");
            assertThat(afterLogin(direct(), "a1 NOOP\0\r\n"))
                    .containsExactly("a1 BAD Error in IMAP command: Invalid command name.");
            // FINDING: relayed as it came; Dovecot creates "CrP", cut at the CR, where Postern (and a
            // policy) would see the name "CrP<CR>a2 DELETE Keep"
            assertThat(afterLogin(postern.address("imap"), "a1 CREATE CrP\ra2 DELETE Keep\r\n"))
                    .containsExactly("a1 OK Create completed.");
            assertThat(afterLogin(direct(), "a1 CREATE CrD\ra2 DELETE Keep\r\n"))
                    .containsExactly("a1 OK Create completed.");
            for (InetSocketAddress server : List.of(postern.address("imap"), direct())) {
                assertThat(afterLogin(server, "a1 SELECT IN\0BOX\r\n"))
                        .containsExactly("a1 BAD Error in IMAP command SELECT: Invalid characters in atom.");
                assertThat(afterLogin(server, "a1 SELECT INBOX\ra2 CREATE Smuggled\r\n"))
                        .containsExactly("a1 BAD Error in IMAP command SELECT: CR sent without LF.");
            }
            assertThat(afterLogin(postern.address("imap"), "a1 NOOP\na2 CREATE LfP\n"))
                    .containsExactly("a1 OK NOOP completed.", "a2 OK Create completed.");
            assertThat(afterLogin(direct(), "a1 NOOP\na2 CREATE LfD\n"))
                    .containsExactly("a1 OK NOOP completed.", "a2 OK Create completed.");
            return "bare CR or NUL in the command name: * BAD Invalid character in command name (untagged); "
                    + "elsewhere relayed, Dovecot's answer (a1 BAD ..., or a1 OK for a CREATE cut at the CR); "
                    + "bare LF ends a line on both";
        }).assertOthersUnharmed();
        assertThat(alicesFolders()).contains("Keep", "CrP", "CrD", "LfP", "LfD").doesNotContain("Smuggled");
    }

    @Test
    void invalidUtf8InAMailboxNameIsTheBackendsToRefuse() throws Exception {
        String attack = "a1 CREATE \"Bad\u00ff\u00fe\"\r\na2 SELECT \"Bad\u00c3\u0028\"\r\n";
        during("invalid UTF-8 in a mailbox name (Dovecot)", () -> {
            for (InetSocketAddress server : List.of(postern.address("imap"), direct())) {
                assertThat(afterLogin(server, attack)).containsExactly(
                        "a1 NO Mailbox name is not valid mUTF-7.", "a2 NO Mailbox name is not valid mUTF-7.");
            }
            return "a1 NO Mailbox name is not valid mUTF-7. / a2 the same (Dovecot's, relayed)";
        }).assertOthersUnharmed();
        assertThat(tap.commandStreamsWith(attack)).as("passed on byte for byte").hasSize(1);
    }
}
