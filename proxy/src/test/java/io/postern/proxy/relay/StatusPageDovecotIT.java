package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.server.PosternServer;
import io.postern.proxy.testing.DovecotFixture;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The status page as a browser shows it: headless Chromium loads it from a Postern with a live
 * session in front of Dovecot, saves a screenshot ({@code target/status-page.png}), and dumps the
 * DOM, which must show the session's user and backend, and show a hostile user name from a
 * refused login as text, not markup.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StatusPageDovecotIT {

    private static final String PASSWORD = "status-pw";
    private static final String HOSTILE_USER = "<script>alert(1)</script>";
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");

    private DovecotFixture dovecot;
    private PosternServer postern;

    @BeforeAll
    void start() throws Exception {
        DovecotFixture.assumeAvailable();
        if (!Files.isExecutable(CHROMIUM)) {
            if (DovecotFixture.required()) {
                Assertions.fail("Chromium is required (" + DovecotFixture.REQUIRE_ENV + "=1) but " + CHROMIUM + " is missing");
            }
            Assumptions.abort("Chromium not installed at " + CHROMIUM);
        }
        dovecot = DovecotFixture.builder().name("shard-a").user("alice", PASSWORD).user("auditor", PASSWORD).start();
        postern = PosternServer.start(PosternConfig.parse("""
                listeners: [{name: imap, bind: "127.0.0.1:0"}]
                backends: [{name: shard-a, address: "%s:%d"}]
                routing: {strategy: static, default: shard-a}
                admin: {bind: "127.0.0.1:0"}
                policies:
                  - name: auditors-read-only
                    match: { users: [auditor] }
                    acl: { read_only: true }
                """.formatted(dovecot.host(), dovecot.port())));
    }

    @AfterAll
    void stop() throws Exception {
        if (postern != null) {
            postern.close();
        }
        if (dovecot != null) {
            dovecot.close();
        }
    }

    /** Runs Chromium headless on {@code url} with {@code args}; returns its standard output. */
    private static String chromium(Path profile, String url, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(CHROMIUM.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--user-data-dir=" + profile));
        command.addAll(List.of(args));
        command.add(url);
        Path out = Files.createTempFile(profile.getParent(), "chromium", ".out");
        Process p = new ProcessBuilder(command).redirectOutput(out.toFile())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            throw new AssertionError("chromium did not finish within 120 s: " + command);
        }
        assertThat(p.exitValue()).as("chromium exit status").isZero();
        return Files.readString(out, StandardCharsets.UTF_8);
    }

    @Test
    void theBrowserShowsTheLiveSessionAndEscapesAHostileUserName(@TempDir Path tmp) throws Exception {
        try (RawImapClient alice = new RawImapClient(postern.address("imap"));
                RawImapClient attacker = new RawImapClient(postern.address("imap"))) {
            alice.line();
            alice.send("l LOGIN alice " + PASSWORD + "\r\n");
            assertThat(alice.tagged("l")).startsWith("l OK");
            attacker.line();
            attacker.send("f LOGIN \"" + HOSTILE_USER + "\" wrong\r\n");
            assertThat(attacker.tagged("f")).startsWith("f NO");

            String url = "http://127.0.0.1:" + postern.adminAddress().getPort() + "/";
            Path screenshot = Path.of("target", "status-page.png").toAbsolutePath();
            Files.deleteIfExists(screenshot);
            chromium(tmp.resolve("profile-1"), url, "--window-size=1280,900", "--screenshot=" + screenshot);
            byte[] png = Files.readAllBytes(screenshot);
            assertThat(png.length).isGreaterThan(1000);
            assertThat(new String(png, 1, 3, StandardCharsets.US_ASCII)).isEqualTo("PNG");

            String dom = chromium(tmp.resolve("profile-2"), url, "--dump-dom");
            Files.writeString(Path.of("target", "status-page.dom.html"), dom);
            String sessions = table(dom, "sessions");
            assertThat(rows(sessions)).anySatisfy(row -> assertThat(row).contains("<td>alice</td>").contains("<td>shard-a</td>")
                    .contains("<td>relay</td>").contains("<td>127.0.0.1:" + alice.socket().getLocalPort() + "</td>"));
            assertThat(rows(sessions)).as("the refused login's session names no user and no backend")
                    .anySatisfy(row -> assertThat(row).contains("<td>connected</td>").contains("<td></td><td>127.0.0.1:"
                            + attacker.socket().getLocalPort() + "</td><td>imap</td><td></td>"));
            assertThat(table(dom, "backends")).contains("<td>shard-a</td>").contains("<td>up</td>");
            assertThat(table(dom, "listeners")).contains("<td>imap</td>");
            assertThat(table(dom, "denials")).contains("<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>");
            assertThat(dom).as("no script element made it into the page").doesNotContainIgnoringCase("<script");
        }
    }

    @Test
    void aPolicyRefusalIsListedWithThePolicysName() throws Exception {
        try (RawImapClient auditor = new RawImapClient(postern.address("imap"))) {
            auditor.line();
            auditor.send("l LOGIN auditor " + PASSWORD + "\r\nd CREATE Forbidden\r\n");
            assertThat(auditor.tagged("l")).startsWith("l OK");
            assertThat(auditor.tagged("d")).startsWith("d NO");
        }
        java.net.http.HttpResponse<String> page = new AdminClient(postern.adminAddress(), null).send("GET", "/");
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(rows(table(page.body(), "denials"))).anySatisfy(row -> assertThat(row).contains("<td>auditor</td>")
                .contains("<td>policy auditors-read-only: CREATE: NO "));
    }

    private static String table(String dom, String id) {
        Matcher m = Pattern.compile("<table id=\"" + id + "\">(.*?)</table>", Pattern.DOTALL).matcher(dom);
        assertThat(m.find()).as("table " + id + " in " + dom).isTrue();
        return m.group(1);
    }

    private static List<String> rows(String table) {
        List<String> rows = new ArrayList<>();
        Matcher m = Pattern.compile("<tr[^>]*>(.*?)</tr>", Pattern.DOTALL).matcher(table);
        while (m.find()) {
            rows.add(m.group(1));
        }
        return rows;
    }
}
