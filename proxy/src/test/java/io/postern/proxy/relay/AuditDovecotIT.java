package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.postern.policies.audit.AuditChain;
import io.postern.policies.audit.AuditVerifier;
import io.postern.proxy.cli.CliRun;
import io.postern.proxy.testing.DovecotFixture;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The audit policy through Postern against Dovecot: a scripted session of a user whose every
 * command is audited, a user audited for logins only, a failed login; the log checked record
 * by record and field by field, verified, and searched for the passwords.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AuditDovecotIT {

    private static final String FIN_PASSWORD = "Fin-s3cret-7781";
    private static final String OTHER_PASSWORD = "Oth-s3cret-2290";
    private static final String WRONG_PASSWORD = "Wrong-pw-5519";
    private static final String FULL_PASSWORD = "Full-s3cret-4410";
    private static final String MESSAGE_BODY = "Quarterly-figures-body-8812";
    private static final String ADMIN_TOKEN = "Admin-t0ken-30219-secret";
    private static final String WRONG_ADMIN_TOKEN = "Wrong-admin-t0ken-7730";

    @TempDir
    static Path dir;

    private DovecotFixture dovecot;
    private PosternHarness postern;
    private final ListAppender<ILoggingEvent> debugLog = new ListAppender<>();
    private Level rootLevel;
    private Path log;
    private Path key;
    private final ObjectMapper json = new ObjectMapper();

    @BeforeAll
    void start() throws Exception {
        DovecotFixture.assumeAvailable();
        dovecot = DovecotFixture.builder().name("audit").user("fin", FIN_PASSWORD).user("other", OTHER_PASSWORD)
                .user("full", FULL_PASSWORD).user("drop", FULL_PASSWORD).start();
        for (int i = 1; i <= 3; i++) {
            dovecot.seedMessage("fin", "INBOX", PolicyDovecotIT.message("Report " + i + " " + MESSAGE_BODY));
        }
        dovecot.seedMessage("fin", "Archive", PolicyDovecotIT.message("Old " + MESSAGE_BODY));
        dovecot.seedMessage("other", "INBOX", PolicyDovecotIT.message("Hi " + MESSAGE_BODY));
        log = dir.resolve("audit/audit.log");
        key = dir.resolve("audit.key");
        Files.writeString(key, "an-audit-key-for-the-dovecot-test\n");
        Files.writeString(dir.resolve("admin.token"), ADMIN_TOKEN + "\n");
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        rootLevel = root.getLevel();
        root.setLevel(Level.DEBUG);
        debugLog.start();
        root.addAppender(debugLog);
        postern = PosternHarness.inFrontOf(dovecot.host(), dovecot.port(), """
                groups:
                  finance: [fin]
                policies:
                  - name: audit-finance
                    order: -100
                    match: { groups: [finance] }
                    audit: { file: "%1$s", key_file: "%2$s", events: [login, command], fsync: each }
                  - name: audit-logins
                    order: -100
                    unless: { groups: [finance] }
                    audit: { file: "%1$s", key_file: "%2$s", events: [login], fsync: each }
                  - name: audit-fail-closed
                    order: -100
                    match: { users: [full] }
                    audit: { file: "%3$s", key_file: "%2$s", queue: 1, when_full: fail-closed }
                  - name: audit-drop
                    order: -100
                    match: { users: [drop] }
                    audit: { file: "%4$s", key_file: "%2$s", queue: 1, when_full: drop }
                admin:
                  bind: 127.0.0.1:0
                  token_file: "%5$s"
                """.formatted(log, key, dir.resolve("audit/full.log"), dir.resolve("audit/drop.log"), dir.resolve("admin.token")));
    }

    @AfterAll
    void stop() throws Exception {
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.detachAppender(debugLog);
        root.setLevel(rootLevel);
        if (postern != null) {
            postern.close();
        }
        if (dovecot != null) {
            dovecot.close();
        }
    }

    private List<String> exchange(RawImapClient c, String tag, String command) throws Exception {
        return PolicyDovecotIT.exchange(c, tag, command);
    }

    private List<JsonNode> records(int atLeast) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            out.clear();
            if (Files.exists(log)) {
                for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
                    out.add(json.readTree(line));
                }
            }
            if (out.size() >= atLeast) {
                break;
            }
            Thread.sleep(20);
        }
        return out;
    }

    @Test
    @Order(1)
    void aScriptedSessionIsRecordedCommandByCommand() throws Exception {
        String appended = "From: a@example.com\r\nSubject: upload\r\n\r\n" + MESSAGE_BODY + " appended\r\n";
        int appendSize = appended.getBytes(StandardCharsets.US_ASCII).length;
        try (RawImapClient c = new RawImapClient(postern.address())) {
            assertThat(c.line()).startsWith("* OK");
            c.send("l0 LOGIN fin " + FIN_PASSWORD + "\r\n");
            assertThat(c.tagged("l0")).startsWith("l0 OK");
            assertThat(exchange(c, "s1", "SELECT INBOX")).last().asString().startsWith("s1 OK");
            List<String> fetched = exchange(c, "f1", "FETCH 1:2 (UID FLAGS BODY.PEEK[])");
            assertThat(fetched).last().asString().startsWith("f1 OK");
            assertThat(exchange(c, "u1", "UID STORE 1 +FLAGS (\\Flagged)")).last().asString().startsWith("u1 OK");
            List<String> copied = exchange(c, "c1", "UID COPY 2 Archive");
            assertThat(copied).last().asString().startsWith("c1 OK [COPYUID ");
            copyUid = code(copied.get(copied.size() - 1));
            List<String> moved = exchange(c, "m1", "UID MOVE 3 Archive");
            assertThat(moved).anyMatch(l -> l.startsWith("* OK [COPYUID ")).last().asString().startsWith("m1 OK");
            moveUid = code(moved.stream().filter(l -> l.startsWith("* OK [COPYUID ")).findFirst().orElseThrow());
            c.send("a1 APPEND Archive (\\Seen) {" + appendSize + "}\r\n");
            assertThat(c.line()).startsWith("+");
            c.send(appended + "\r\n");
            String appendOk = c.tagged("a1");
            assertThat(appendOk).startsWith("a1 OK [APPENDUID ");
            appendUid = code(appendOk);
            assertThat(exchange(c, "d1", "STORE 1 +FLAGS (\\Deleted)")).last().asString().startsWith("d1 OK");
            List<String> expunged = exchange(c, "e1", "EXPUNGE");
            assertThat(expunged).contains("* 1 EXPUNGE").last().asString().startsWith("e1 OK");
            // Postern's own UID SEARCH DELETED ahead of it never reaches the client
            assertThat(String.join("\n", expunged)).doesNotContain("SEARCH").doesNotContain("postern6");
            assertThat(exchange(c, "o1", "LOGOUT")).last().asString().startsWith("o1 OK");
        }
        List<JsonNode> r = records(13);
        assertThat(r.stream().map(n -> n.path("type").asText() + ":" + n.path("command").asText()).toList()).containsExactly(
                "connect:", "login:", "command:SELECT", "command:FETCH", "command:UID STORE", "command:UID COPY",
                "command:UID MOVE", "command:APPEND", "command:STORE", "command:EXPUNGE", "command:LOGOUT", "logout:", "close:");
        String session = r.get(0).path("session").asText();
        for (int i = 0; i < r.size(); i++) {
            JsonNode n = r.get(i);
            assertThat(n.path("v").asInt()).isEqualTo(1);
            assertThat(n.path("seq").asLong()).isEqualTo(i + 1);
            assertThat(n.path("mac").asText()).hasSize(64);
            assertThat(n.path("session").asText()).isEqualTo(session);
            assertThat(n.path("user").asText()).isEqualTo("fin");
            assertThat(n.path("client").asText()).isEqualTo("127.0.0.1");
            assertThat(n.path("listener").asText()).isEqualTo("imap");
            assertThat(n.path("backend").asText()).isEqualTo("backend");
            assertThat(n.path("mechanism").asText()).isEqualTo("LOGIN");
            assertThat(n.path("tls").asBoolean(true)).isFalse();
            assertThat(n.path("ts").asText()).matches("\\d{4}-\\d\\d-\\d\\dT.*Z");
        }
        JsonNode connect = r.get(0);
        assertThat(java.time.Instant.parse(connect.path("ts").asText())).isBeforeOrEqualTo(
                java.time.Instant.parse(r.get(1).path("ts").asText()));
        assertThat(connect.has("tls_protocol")).isFalse(); // a plain connection
        assertThat(connect.has("status")).isFalse();
        JsonNode select = r.get(2);
        assertThat(select.path("mailbox").asText()).isEqualTo("INBOX");
        assertThat(select.path("status").asText()).isEqualTo("OK");
        assertThat(select.path("tag").asText()).isEqualTo("s1");
        assertThat(select.path("duration_us").asLong()).isPositive();
        JsonNode fetch = r.get(3);
        assertThat(fetch.path("mailbox").asText()).isEqualTo("INBOX");
        assertThat(fetch.path("seqs").asText()).isEqualTo("1:2");
        assertThat(fetch.path("items").asText()).isEqualTo("(UID FLAGS BODY.PEEK[])");
        assertThat(fetch.path("messages").asLong()).isEqualTo(2);
        assertThat(fetch.path("response_bytes").asLong()).isGreaterThan(2L * MESSAGE_BODY.length());
        JsonNode store = r.get(4);
        assertThat(store.path("uids").asText()).isEqualTo("1");
        assertThat(store.path("store").asText()).isEqualTo("+FLAGS");
        assertThat(store.path("flags").asText()).isEqualTo("(\\Flagged)");
        JsonNode copy = r.get(5);
        assertThat(copy.path("mailbox").asText()).isEqualTo("INBOX");
        assertThat(copy.path("target").asText()).isEqualTo("Archive");
        assertThat(copy.path("uids").asText()).isEqualTo("2");
        assertThat(copy.path("code").asText()).isEqualTo("COPYUID");
        assertThat(copy.path("source_uids").asText()).isEqualTo("2");
        assertThat(copy.path("uidvalidity").asText()).isEqualTo(copyUid[1]);
        assertThat(copy.path("target_uids").asText()).isEqualTo(copyUid[3]);
        JsonNode move = r.get(6);
        assertThat(move.path("uids").asText()).isEqualTo("3");
        assertThat(move.path("target").asText()).isEqualTo("Archive");
        assertThat(move.path("source_uids").asText()).isEqualTo("3");
        assertThat(move.path("target_uids").asText()).isEqualTo(moveUid[3]);
        assertThat(move.path("expunged_seqs").toString()).isEqualTo("[\"3\"]");
        JsonNode append = r.get(7);
        assertThat(append.path("mailbox").asText()).isEqualTo("Archive");
        assertThat(append.path("append_size").asLong()).isEqualTo(appendSize);
        assertThat(append.path("code").asText()).isEqualTo("APPENDUID");
        assertThat(append.path("append_uid").asText()).isEqualTo(appendUid[2]);
        assertThat(append.path("uidvalidity").asText()).isEqualTo(copy.path("uidvalidity").asText());
        JsonNode deleted = r.get(8);
        assertThat(deleted.path("seqs").asText()).isEqualTo("1");
        assertThat(deleted.path("flags").asText()).isEqualTo("(\\Deleted)");
        JsonNode expunge = r.get(9);
        assertThat(expunge.path("mailbox").asText()).isEqualTo("INBOX");
        assertThat(expunge.path("expunged_seqs").toString()).isEqualTo("[\"1\"]");
        assertThat(expunge.path("expunged_uids").toString()).isEqualTo("[\"1\"]"); // Report 1 had UID 1
        assertThat(move.has("expunged_uids")).isFalse(); // MOVE names its UIDs itself
        assertThat(expunge.path("status").asText()).isEqualTo("OK");
        JsonNode close = r.get(12);
        JsonNode logout = r.get(11);
        assertThat(logout.path("status").asText()).isEqualTo("OK");
        assertThat(close.path("reason").asText()).isEqualTo("logout");
        assertThat(close.path("commands").asLong()).isEqualTo(9);
        assertThat(close.path("bytes_from_client").asLong()).isGreaterThan(appendSize);
        assertThat(close.path("bytes_to_client").asLong()).isGreaterThan(fetch.path("response_bytes").asLong());
        for (JsonNode n : r) {
            assertThat(n.toString()).doesNotContain(MESSAGE_BODY);
        }
        // the UIDs the log names are the messages on Dovecot: who copied, moved and uploaded what
        try (RawImapClient d = new RawImapClient(new java.net.InetSocketAddress(dovecot.host(), dovecot.port()))) {
            assertThat(d.line()).startsWith("* OK");
            assertThat(exchange(d, "x0", "LOGIN fin " + FIN_PASSWORD)).last().asString().startsWith("x0 OK");
            exchange(d, "x1", "EXAMINE Archive");
            assertThat(String.join("\n", exchange(d, "x2", "UID FETCH " + copy.path("target_uids").asText()
                    + " BODY.PEEK[HEADER.FIELDS (SUBJECT)]"))).contains("Report 2");
            assertThat(String.join("\n", exchange(d, "x3", "UID FETCH " + move.path("target_uids").asText()
                    + " BODY.PEEK[HEADER.FIELDS (SUBJECT)]"))).contains("Report 3");
            assertThat(String.join("\n", exchange(d, "x4", "UID FETCH " + append.path("append_uid").asText()
                    + " BODY.PEEK[HEADER.FIELDS (SUBJECT)]"))).contains("upload");
            exchange(d, "x5", "EXAMINE INBOX");
            List<String> left = exchange(d, "x6", "UID FETCH 1:* (UID)");
            assertThat(left.stream().filter(l -> l.contains("FETCH (UID")).toList()).containsExactly("* 1 FETCH (UID 2)");
        }
    }

    private static io.postern.policies.audit.AuditFileSink sinkOf(Path file) {
        return io.postern.policies.audit.AuditSinks.all().stream()
                .filter(x -> x instanceof io.postern.policies.audit.AuditFileSink).map(x -> (io.postern.policies.audit.AuditFileSink) x)
                .filter(x -> x.settings().file().toAbsolutePath().equals(file.toAbsolutePath())).findFirst().orElseThrow();
    }

    /** A session of {@code user} logged in through Postern after the sink's writer was paused. */
    private RawImapClient loginWithTheWriterPaused(String user, io.postern.policies.audit.AuditFileSink sink) throws Exception {
        RawImapClient c = new RawImapClient(postern.address());
        assertThat(c.line()).startsWith("* OK");
        sink.pauseWriter();
        c.send("l0 LOGIN " + user + " " + FULL_PASSWORD + "\r\n");
        assertThat(c.tagged("l0")).startsWith("l0 OK");
        return c;
    }

    @Test
    @Order(4)
    void aFullSinkInFailClosedModeRefusesCommandsUntilItRecovers() throws Exception {
        Path file = dir.resolve("audit/full.log");
        io.postern.policies.audit.AuditFileSink sink = sinkOf(file);
        try (RawImapClient c = loginWithTheWriterPaused("full", sink)) { // the login record fills the queue of one
            assertThat(exchange(c, "s1", "SELECT INBOX")).last().asString() // and its record is dropped
                    .isEqualTo("s1 NO [UNAVAILABLE] The audit log is unavailable; try again later.");
            assertThat(sink.dropped()).isGreaterThanOrEqualTo(1);
            assertThat(sink.refusedCommands()).isEqualTo(1);
            sink.unpauseWriter();
            boolean ok = false;
            for (int i = 0; i < 250 && !ok; i++) {
                Thread.sleep(20);
                ok = sink.available();
            }
            assertThat(ok).isTrue();
            assertThat(exchange(c, "n2", "NOOP")).last().asString().startsWith("n2 OK");
            assertThat(exchange(c, "o1", "LOGOUT")).last().asString().startsWith("o1 OK");
        }
        for (int i = 0; i < 250 && sink.queued() > 0; i++) {
            Thread.sleep(20);
        }
        String finding = AuditVerifier.verify(AuditChain.readKey(key), List.of(file)).finding();
        assertThat(finding).contains("full.log:2:").contains("is a gap record");
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        assertThat(lines.get(0)).contains("\"type\":\"connect\""); // it filled the queue of one
        assertThat(lines.get(1)).contains("\"type\":\"gap\",\"dropped\":2"); // login and the refused SELECT
        assertThat(lines.get(2)).contains("\"tag\":\"n2\",\"command\":\"NOOP\"");
    }

    @Test
    @Order(5)
    void aFullSinkInDropModeLetsCommandsThroughAndCountsWhatItDropped() throws Exception {
        Path file = dir.resolve("audit/drop.log");
        io.postern.policies.audit.AuditFileSink sink = sinkOf(file);
        try (RawImapClient c = loginWithTheWriterPaused("drop", sink)) {
            for (int i = 0; i < 5; i++) {
                assertThat(exchange(c, "n" + i, "NOOP")).last().asString().startsWith("n" + i + " OK");
            }
            assertThat(sink.dropped()).isEqualTo(6); // the login record and five NOOPs
            sink.unpauseWriter();
            for (int i = 0; i < 250 && sink.queued() > 0; i++) {
                Thread.sleep(20);
            }
            assertThat(exchange(c, "o1", "LOGOUT")).last().asString().startsWith("o1 OK");
        }
        for (int i = 0; i < 250 && sink.written() < 3; i++) {
            Thread.sleep(20);
        }
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        assertThat(lines.get(0)).contains("\"type\":\"connect\"");
        assertThat(lines.get(1)).contains("\"type\":\"gap\",\"dropped\":6");
        assertThat(AuditVerifier.verify(AuditChain.readKey(key), List.of(file)).finding())
                .contains("drop.log:2:").contains("gap record: 6 event(s) were dropped");
    }

    /**
     * Every secret of the test (passwords given by LOGIN, as a quoted string and as a literal, by
     * AUTHENTICATE PLAIN with an initial response and as a continuation, the admin token, a wrong
     * admin token) is looked for in every line of every audit log and in the whole debug log.
     */
    @Test
    @Order(6)
    void noSecretInAnyAuditLineOrInTheDebugLog() throws Exception {
        String plainFin = Base64.getEncoder().encodeToString(("\0fin\0" + FIN_PASSWORD).getBytes(StandardCharsets.UTF_8));
        String plainOther = Base64.getEncoder().encodeToString(("\0other\0" + OTHER_PASSWORD).getBytes(StandardCharsets.UTF_8));
        String plainWrong = Base64.getEncoder().encodeToString(("\0fin\0" + WRONG_PASSWORD).getBytes(StandardCharsets.UTF_8));
        try (RawImapClient c = new RawImapClient(postern.address())) {
            assertThat(c.line()).startsWith("* OK");
            c.send("p0 AUTHENTICATE PLAIN\r\n");
            assertThat(c.line()).startsWith("+");
            c.send(plainWrong + "\r\n");
            assertThat(c.tagged("p0")).startsWith("p0 NO");
            c.send("p1 AUTHENTICATE PLAIN\r\n");
            assertThat(c.line()).startsWith("+");
            c.send(plainFin + "\r\n");
            assertThat(c.tagged("p1")).startsWith("p1 OK");
            assertThat(exchange(c, "p2", "LOGOUT")).last().asString().startsWith("p2 OK");
        }
        try (RawImapClient c = new RawImapClient(postern.address())) {
            assertThat(c.line()).startsWith("* OK");
            c.send("q0 LOGIN {3}\r\n");
            assertThat(c.line()).startsWith("+");
            c.send("fin {" + FIN_PASSWORD.length() + "}\r\n");
            assertThat(c.line()).startsWith("+");
            c.send(FIN_PASSWORD + "\r\n");
            assertThat(c.tagged("q0")).startsWith("q0 OK");
            assertThat(exchange(c, "q1", "LOGOUT")).last().asString().startsWith("q1 OK");
        }
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        java.net.URI sessions = java.net.URI.create("http://127.0.0.1:" + postern.server().adminAddress().getPort() + "/sessions");
        java.net.http.HttpResponse<String> ok = http.send(java.net.http.HttpRequest.newBuilder(sessions)
                .header("Authorization", "Bearer " + ADMIN_TOKEN).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(ok.statusCode()).isEqualTo(200);
        java.net.http.HttpResponse<String> refused = http.send(java.net.http.HttpRequest.newBuilder(sessions)
                .header("Authorization", "Bearer " + WRONG_ADMIN_TOKEN).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(refused.statusCode()).isEqualTo(401);

        List<Path> logs;
        try (var files = Files.list(log.getParent())) {
            logs = files.sorted().toList();
        }
        assertThat(logs.stream().map(p -> p.getFileName().toString())).contains("audit.log", "full.log", "drop.log");
        for (int i = 0; i < 250 && !Files.readString(log, StandardCharsets.UTF_8).contains("\"mechanism\":\"PLAIN\",\"backend\""); i++) {
            Thread.sleep(20);
        }
        List<String> lines = new ArrayList<>();
        for (Path p : logs) {
            lines.addAll(Files.readAllLines(p, StandardCharsets.UTF_8));
        }
        assertThat(lines).hasSizeGreaterThan(25);
        assertThat(lines).anyMatch(l -> l.contains("\"type\":\"login_failed\"") && l.contains("\"mechanism\":\"PLAIN\""));
        List<String> debug = debugLog.list.stream().map(e -> e.getLoggerName() + " " + e.getFormattedMessage()
                + (e.getThrowableProxy() == null ? "" : " " + e.getThrowableProxy().getMessage())).toList();
        assertThat(debug).anyMatch(l -> l.startsWith("io.postern.proxy.session.")); // the session debug log was captured
        List<String> secrets = List.of(FIN_PASSWORD, OTHER_PASSWORD, WRONG_PASSWORD, FULL_PASSWORD, plainFin, plainOther, plainWrong,
                ADMIN_TOKEN, WRONG_ADMIN_TOKEN);
        for (String secret : secrets) {
            assertThat(lines).as("audit lines holding %s", secret).noneMatch(l -> l.contains(secret));
            assertThat(debug).as("debug lines holding %s", secret).noneMatch(l -> l.contains(secret));
        }
    }

    @Test
    @Order(7)
    void closeRecordsTheUidsItExpungedSilently() throws Exception {
        int before = records(17).size();
        try (RawImapClient c = new RawImapClient(postern.address())) {
            assertThat(c.line()).startsWith("* OK");
            c.send("l0 LOGIN fin " + FIN_PASSWORD + "\r\n");
            assertThat(c.tagged("l0")).startsWith("l0 OK");
            // Archive: the seeded message (UID 1), the copy (2), the moved one (3), the upload (4)
            assertThat(exchange(c, "s1", "SELECT Archive")).last().asString().startsWith("s1 OK");
            assertThat(exchange(c, "d1", "STORE 1,3 +FLAGS.SILENT (\\Deleted)")).last().asString().startsWith("d1 OK");
            List<String> closed = exchange(c, "c1", "CLOSE");
            assertThat(closed).hasSize(1).first().asString().startsWith("c1 OK"); // nothing of Postern's search
            assertThat(exchange(c, "o1", "LOGOUT")).last().asString().startsWith("o1 OK");
        }
        List<JsonNode> r = records(before + 8);
        JsonNode close = r.stream().skip(before).filter(n -> n.path("command").asText().equals("CLOSE")).findFirst().orElseThrow();
        assertThat(close.path("mailbox").asText()).isEqualTo("Archive");
        assertThat(close.path("status").asText()).isEqualTo("OK");
        assertThat(close.path("expunged_uids").toString()).isEqualTo("[\"1\",\"3\"]");
        try (RawImapClient d = new RawImapClient(new java.net.InetSocketAddress(dovecot.host(), dovecot.port()))) {
            assertThat(d.line()).startsWith("* OK");
            assertThat(exchange(d, "x0", "LOGIN fin " + FIN_PASSWORD)).last().asString().startsWith("x0 OK");
            exchange(d, "x1", "EXAMINE Archive");
            List<String> left = exchange(d, "x2", "UID FETCH 1:* (UID)");
            assertThat(left.stream().filter(l -> l.contains("FETCH (UID")).toList())
                    .containsExactly("* 1 FETCH (UID 2)", "* 2 FETCH (UID 4)");
        }
    }

    /** Lines until every one of {@code tags} has had its tagged answer. */
    private static List<String> untilTagged(RawImapClient c, String... tags) throws Exception {
        List<String> lines = new ArrayList<>();
        java.util.Set<String> open = new java.util.HashSet<>(List.of(tags));
        while (!open.isEmpty()) {
            String l = c.line();
            assertThat(l).as("answers for %s", open).isNotNull();
            lines.add(l);
            open.removeIf(t -> l.startsWith(t + " "));
        }
        return lines;
    }

    @Test
    @Order(8)
    void aPipelinedExpungeAndAClientTagThatIsPosternsOwn() throws Exception {
        int before = records(17).size();
        try (RawImapClient c = new RawImapClient(postern.address())) {
            assertThat(c.line()).startsWith("* OK");
            c.send("l0 LOGIN fin " + FIN_PASSWORD + "\r\n");
            assertThat(c.tagged("l0")).startsWith("l0 OK");
            // Archive now holds UIDs 2 and 4
            assertThat(exchange(c, "s1", "SELECT Archive")).last().asString().startsWith("s1 OK");
            assertThat(exchange(c, "d1", "STORE 1 +FLAGS.SILENT (\\Deleted)")).last().asString().startsWith("d1 OK");
            // a command in flight ahead of EXPUNGE: Postern does not search, the record has sequence numbers only
            c.send("postern6 NOOP\r\ne1 EXPUNGE\r\n");
            List<String> first = untilTagged(c, "postern6", "e1");
            assertThat(first).contains("* 1 EXPUNGE").anyMatch(l -> l.startsWith("postern6 OK"))
                    .anyMatch(l -> l.startsWith("e1 OK"));
            assertThat(exchange(c, "d2", "STORE 1 +FLAGS.SILENT (\\Deleted)")).last().asString().startsWith("d2 OK");
            // EXPUNGE alone, the client's own postern6 pipelined behind it: the client gets its answer, not Postern's
            c.send("e2 EXPUNGE\r\npostern6 NOOP\r\n");
            List<String> second = untilTagged(c, "e2", "postern6");
            assertThat(second).contains("* 1 EXPUNGE").noneMatch(l -> l.contains("SEARCH"));
            assertThat(second.stream().filter(l -> l.startsWith("postern6 ")).toList()).singleElement().asString()
                    .startsWith("postern6 OK NOOP");
            assertThat(exchange(c, "o1", "LOGOUT")).last().asString().startsWith("o1 OK");
        }
        List<JsonNode> r = records(before + 12);
        List<JsonNode> expunges = r.stream().skip(before).filter(n -> n.path("command").asText().equals("EXPUNGE")).toList();
        assertThat(expunges).hasSize(2);
        assertThat(expunges.get(0).path("tag").asText()).isEqualTo("e1");
        assertThat(expunges.get(0).has("expunged_uids")).isFalse();
        // with two commands in flight, the untagged EXPUNGE goes to the record of the oldest one still running
        assertThat(r.stream().skip(before).filter(n -> n.path("tag").asText().matches("postern6|e1"))
                .map(n -> n.path("expunged_seqs").toString()).toList()).contains("[\"1\"]");
        assertThat(expunges.get(1).path("tag").asText()).isEqualTo("e2");
        assertThat(expunges.get(1).path("expunged_uids").toString()).isEqualTo("[\"4\"]");
    }

    private String[] copyUid;
    private String[] moveUid;
    private String[] appendUid;

    /** The response code's words: {@code [COPYUID 7 2 5]} as {@code COPYUID, 7, 2, 5}. */
    private static String[] code(String line) {
        return line.substring(line.indexOf('[') + 1, line.indexOf(']')).split(" ");
    }

    @Test
    @Order(2)
    void aUserAuditedForLoginsOnlyAndAFailedLogin() throws Exception {
        int before = records(13).size();
        try (RawImapClient c = new RawImapClient(postern.address())) {
            assertThat(c.line()).startsWith("* OK");
            c.send("b0 LOGIN other " + WRONG_PASSWORD + "\r\n");
            assertThat(c.tagged("b0")).startsWith("b0 NO");
            String plain = Base64.getEncoder().encodeToString(("\0other\0" + OTHER_PASSWORD).getBytes(StandardCharsets.UTF_8));
            c.send("l0 AUTHENTICATE PLAIN " + plain + "\r\n");
            assertThat(c.tagged("l0")).startsWith("l0 OK");
            assertThat(exchange(c, "s1", "SELECT INBOX")).last().asString().startsWith("s1 OK");
            assertThat(exchange(c, "f1", "FETCH 1 BODY[]")).last().asString().startsWith("f1 OK");
        } // closed without LOGOUT
        List<JsonNode> r = records(before + 4);
        List<JsonNode> mine = r.subList(before, r.size());
        for (int i = 0; i < 200 && mine.size() < 4; i++) {
            Thread.sleep(20);
            r = records(before + 4);
            mine = r.subList(before, r.size());
        }
        assertThat(mine.stream().map(n -> n.path("type").asText()).toList())
                .containsExactly("connect", "login_failed", "login", "close"); // one connect record for the session
        assertThat(mine.get(0).path("user").asText()).isEqualTo("other");
        assertThat(mine.get(1).path("user").asText()).isEqualTo("other");
        assertThat(mine.get(1).path("mechanism").asText()).isEqualTo("LOGIN");
        assertThat(mine.get(1).path("reason").asText()).contains("AUTHENTICATIONFAILED");
        assertThat(mine.get(2).path("mechanism").asText()).isEqualTo("PLAIN");
        assertThat(mine.stream().map(n -> n.path("session").asText()).distinct()).hasSize(1);
        assertThat(mine.get(3).path("reason").asText()).isEqualTo("client_closed");
        assertThat(mine.get(3).path("commands").asLong()).isZero(); // commands are not audited for this user
    }

    @Test
    @Order(3)
    void theLogVerifiesAndHoldsNoSecret() throws Exception {
        List<JsonNode> r = records(17);
        AuditVerifier.Result result = AuditVerifier.verify(AuditChain.readKey(key), List.of(log));
        assertThat(result.ok()).as(result.describe()).isTrue();
        assertThat(result.records()).isEqualTo(r.size());
        CliRun.Result cli = CliRun.run("audit", "verify", "--key-file", key.toString(), log.toString());
        assertThat(cli.status()).as(cli.out()).isZero();

        String plain = Base64.getEncoder().encodeToString(("\0other\0" + OTHER_PASSWORD).getBytes(StandardCharsets.UTF_8));
        List<String> secrets = List.of(FIN_PASSWORD, OTHER_PASSWORD, WRONG_PASSWORD, plain);
        String audit = Files.readString(log, StandardCharsets.UTF_8);
        String debug = debugLog.list.stream().map(e -> e.getFormattedMessage()
                + (e.getThrowableProxy() == null ? "" : e.getThrowableProxy().getMessage())).collect(Collectors.joining("\n"));
        assertThat(debugLog.list).hasSizeGreaterThan(20); // the debug log was captured
        assertThat(debug).contains("fin");
        for (String secret : secrets) {
            assertThat(audit).doesNotContain(secret);
            assertThat(debug).doesNotContain(secret);
        }
    }
}
