package io.postern.proxy.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.postern.proxy.server.PosternServer;
import io.postern.proxy.testing.DovecotFixture;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
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

    /** A password in ISO-8859-1 (one byte a char; 0xE4 is not UTF-8 on its own). */
    private static final String LEGACY_PASSWORD = "p\u00e4ss";

    private static DovecotFixture dovecot;
    private static WireTap tap;
    private static PosternServer postern;

    @BeforeAll
    static void start() throws Exception {
        DovecotFixture.assumeAvailable();
        dovecot = DovecotFixture.builder().name("hostile").user("alice", "secret").user("watcher", "pw")
                .user("legacy", "replaced-below").start();
        // a password set in ISO-8859-1, as legacy systems have them: "p\u00e4ss" as the 4 bytes 70 E4 73 73
        Files.write(dovecot.directory().resolve("passwd.d/legacy"),
                HostileSocket.bytes("legacy:{PLAIN}" + LEGACY_PASSWORD + "::::::\n"));
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
                    beforeLogin("a1 AUTHENTICATE PLAIN " + plain + "\r\n"));
            // a user name that is not UTF-8 cannot be routed or throttled as the name it is:
            // refused by Postern (Dovecot itself answers NO after its failure delay)
            assertThat(beforeLogin("a1 LOGIN \"ali\u00ffce\" secret\r\n").get())
                    .isEqualTo("a1 BAD Invalid arguments: User name is not valid UTF-8");
            assertThat(beforeLogin("a1 AUTHENTICATE PLAIN "
                    + Base64.getEncoder().encodeToString(HostileSocket.bytes("\0ali\u00ffce\0secret")) + "\r\n").get())
                    .isEqualTo("a1 BAD User name is not valid UTF-8.");
            // a NUL in a user name or password would shift the fields of the SASL PLAIN message
            // Postern logs in with at the backend: refused by Postern, the backend never asked
            String nulInUser = beforeLogin("a1 LOGIN {12}\r\n", "alice\0secret secret\r\n").get();
            String nulInPassword = beforeLogin("a1 LOGIN alice {7}\r\n", "sec\0ret\r\n").get();
            assertThat(nulInUser).isEqualTo("a1 BAD NUL in a user name or password.");
            assertThat(nulInPassword).isEqualTo("a1 BAD NUL in a user name or password.");
            for (CompletableFuture<String> answer : answers) {
                assertThat(answer.get()).isEqualTo("a1 NO [AUTHENTICATIONFAILED] Authentication failed.");
            }
            return "smuggling user names: a1 NO [AUTHENTICATIONFAILED] Authentication failed. (the backend's "
                    + "refusal); invalid UTF-8 user name: a1 BAD ... User name is not valid UTF-8; NUL in user or "
                    + "password: a1 BAD NUL in a user name or password. (Postern's); session goes on";
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
        assertThat(tap.commandStreamsWith("sec\0ret")).isEmpty();
        assertThat(tap.commandStreamsWith("alice\0secret")).isEmpty();
    }

    /**
     * A password in ISO-8859-1 reaches Dovecot byte for byte, however the client sends it (quoted,
     * literal, SASL PLAIN), and logs in; the same login straight at Dovecot is the reference.
     */
    @Test
    void aLatin1PasswordReachesTheBackendByteForByte() throws Exception {
        String plain = Base64.getEncoder().encodeToString(HostileSocket.bytes("\0legacy\0" + LEGACY_PASSWORD));
        List<String> ways = List.of(
                "a1 LOGIN legacy \"" + LEGACY_PASSWORD + "\"\r\n",
                "a1 LOGIN legacy {4+}\r\n" + LEGACY_PASSWORD + "\r\n",
                "a1 AUTHENTICATE PLAIN " + plain + "\r\n");
        for (InetSocketAddress server : List.of(direct(), postern.address("imap"))) {
            for (String login : ways) {
                try (HostileSocket s = HostileSocket.connect(server)) {
                    s.line();
                    s.send(login);
                    assertThat(s.tagged("a1")).as("%s at %s", login, server).startsWith("a1 OK");
                }
            }
        }
        // Postern logs in at Dovecot with SASL-IR PLAIN: the very base64 the client sent, E4 and all
        assertThat(tap.commandStreams()).anyMatch(stream -> stream.contains(plain));
    }

    /**
     * After login Postern refuses a NUL or a bare CR inside a command line itself, and relays
     * nothing of it: Dovecot ends a command at a bare CR and drops the rest, so a policy would
     * judge another command than the one Dovecot runs. A bare LF ends a line for both.
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
            // Dovecot creates "CrD", cut at the CR, where a policy would see "CrD<CR>a2 DELETE Keep"
            assertThat(afterLogin(postern.address("imap"), "a1 CREATE CrP\ra2 DELETE Keep\r\n"))
                    .containsExactly("a1 BAD Invalid character in command (CR without LF).");
            assertThat(afterLogin(direct(), "a1 CREATE CrD\ra2 DELETE Keep\r\n"))
                    .containsExactly("a1 OK Create completed.");
            assertThat(afterLogin(postern.address("imap"), "a1 SELECT IN\0BOX\r\n"))
                    .containsExactly("a1 BAD Invalid character in command (NUL).");
            assertThat(afterLogin(direct(), "a1 SELECT IN\0BOX\r\n"))
                    .containsExactly("a1 BAD Error in IMAP command SELECT: Invalid characters in atom.");
            assertThat(afterLogin(postern.address("imap"), "a1 SELECT INBOX\ra2 CREATE Smuggled\r\n"))
                    .containsExactly("a1 BAD Invalid character in command (CR without LF).");
            assertThat(afterLogin(direct(), "a1 SELECT INBOX\ra2 CREATE Smuggled\r\n"))
                    .containsExactly("a1 BAD Error in IMAP command SELECT: CR sent without LF.");
            assertThat(afterLogin(postern.address("imap"), "a1 NOOP\na2 CREATE LfP\n"))
                    .containsExactly("a1 OK NOOP completed.", "a2 OK Create completed.");
            assertThat(afterLogin(direct(), "a1 NOOP\na2 CREATE LfD\n"))
                    .containsExactly("a1 OK NOOP completed.", "a2 OK Create completed.");
            // after a literal the command's start is at the backend already: BAD, BYE, close
            try (HostileSocket s = HostileSocket.connect(postern.address("imap"))) {
                s.line();
                s.send("a0 LOGIN alice secret\r\n");
                assertThat(s.tagged("a0")).startsWith("a0 OK");
                s.send("a1 CREATE {3+}\r\nCrL\ra2 DELETE Keep\r\n");
                assertThat(s.linesUntilClosed(Duration.ofSeconds(30))).containsExactly(
                        "a1 BAD Invalid character in command (CR without LF).", "* BYE Invalid input.");
            }
            return "NUL or bare CR in a command line: a1 BAD Invalid character in command (NUL). / "
                    + "(CR without LF). (Postern's, nothing relayed); after a literal the same, then * BYE and close; "
                    + "bare LF ends a line on both";
        }).assertOthersUnharmed();
        assertThat(alicesFolders()).contains("Keep", "CrD", "LfP", "LfD").doesNotContain("Smuggled", "CrP", "CrL");
        // through Postern, none of it reached Dovecot (the tap sees Postern's backend connections only)
        for (String refused : List.of("CrP\r", "IN\0BOX", "INBOX\ra2", "CrL\r")) {
            assertThat(tap.commandStreamsWith(refused)).as("backend connections with %s", refused).isEmpty();
        }
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
