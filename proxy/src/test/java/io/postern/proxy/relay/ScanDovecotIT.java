package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.postern.policies.testing.ClamdFixture;
import io.postern.proxy.testing.DovecotFixture;
import jakarta.mail.Folder;
import jakarta.mail.Message;
import jakarta.mail.Multipart;
import jakarta.mail.Part;
import jakarta.mail.Session;
import jakarta.mail.Store;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The {@code scan} policy through Postern against a real Dovecot and a real clamd: uploads
 * (APPEND, MULTIAPPEND) are held, scanned and forwarded byte-identical or refused with the
 * backend never seeing them; what is stored is read on Dovecot directly.
 */
class ScanDovecotIT {

    private static final String PASSWORD = "secret";

    private static ClamdFixture clamd;
    private static DovecotFixture dovecot;
    private static PosternHarness postern;
    private static Path spillDir;

    @BeforeAll
    static void start() throws Exception {
        DovecotFixture.assumeAvailable();
        clamd = ClamdFixture.start();
        dovecot = DovecotFixture.builder().name("scan").start();
        for (String user : List.of("alice", "bob", "carol", "open", "closed", "plain", "big", "odd", "dana", "erin", "frank",
                "gina", "hank", "ivan", "judy")) {
            dovecot.addUser(user, PASSWORD);
        }
        spillDir = Files.createTempDirectory("postern-scan-spill-");
        postern = PosternHarness.inFrontOf(dovecot.host(), dovecot.port(), """
                policies:
                  - name: scan-all
                    match: { users: [alice, bob, carol, big, odd, dana, frank, gina, hank, ivan, judy] }
                    scan:
                      clamd: { address: "%s", timeout: 10s }
                      spill_threshold: 1MiB
                      temp_dir: "%s"
                      malformed: pass
                  - name: read-only
                    match: { users: [judy] }
                    acl: { read_only: true }
                  - name: scan-refuse
                    match: { users: [erin] }
                    scan: { clamd: { address: "%s" }, download: refuse }
                  - name: scan-open
                    match: { users: [open] }
                    scan: { clamd: { address: "127.0.0.1:1", timeout: 2s, on_failure: fail-open } }
                  - name: scan-closed
                    match: { users: [closed] }
                    scan: { clamd: { address: "127.0.0.1:1", timeout: 2s, on_failure: fail-closed } }
                """.formatted(clamd.unixAddress(), spillDir, clamd.tcpAddress()));
    }

    @AfterAll
    static void stop() throws Exception {
        if (postern != null) {
            postern.close();
        }
        if (dovecot != null) {
            dovecot.close();
        }
        if (clamd != null) {
            clamd.close();
        }
    }

    // ---------------------------------------------------------------- messages

    static byte[] crlf(String text) {
        return text.replace("\r\n", "\n").replace("\n", "\r\n").getBytes(StandardCharsets.ISO_8859_1);
    }

    static byte[] withAttachment(String subject, String filename, String type, byte[] content) {
        return crlf("""
                From: alice@example.org
                To: bob@example.org
                Subject: %s
                MIME-Version: 1.0
                Content-Type: multipart/mixed; boundary="sep-1"

                --sep-1
                Content-Type: text/plain; charset=us-ascii

                Please find the file attached.
                --sep-1
                Content-Type: %s; name="%s"
                Content-Disposition: attachment; filename="%s"
                Content-Transfer-Encoding: base64

                %s
                --sep-1--
                """.formatted(subject, type, filename, filename,
                Base64.getMimeEncoder(76, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(content)));
    }

    static byte[] clean(String subject) {
        return withAttachment(subject, "report.pdf", "application/pdf",
                "%PDF-1.4\n% a small pretend PDF\n%%EOF\n".getBytes(StandardCharsets.US_ASCII));
    }

    static byte[] eicar(String subject) {
        return withAttachment(subject, "invoice.txt", "text/plain", ClamdFixture.eicar());
    }

    static byte[] exeAsPdf(String subject) {
        byte[] pe = new byte[512];
        pe[0] = 'M';
        pe[1] = 'Z';
        pe[0x3c] = (byte) 0x80;
        pe[0x80] = 'P';
        pe[0x81] = 'E';
        return withAttachment(subject, "invoice.pdf", "application/pdf", pe);
    }

    // ---------------------------------------------------------------- clients

    static RawImapClient login(InetSocketAddress address, String user) throws IOException {
        RawImapClient c = new RawImapClient(address);
        c.line(); // greeting
        c.send("l LOGIN " + user + " " + PASSWORD + "\r\n");
        assertThat(c.tagged("l")).startsWith("l OK");
        return c;
    }

    static RawImapClient viaPostern(String user) throws IOException {
        return login(new InetSocketAddress(postern.host(), postern.port()), user);
    }

    static RawImapClient direct(String user) throws IOException {
        return login(new InetSocketAddress(dovecot.host(), dovecot.port()), user);
    }

    /** APPEND with a synchronizing literal: waits for the {@code +}, then sends the message; the tagged answer. */
    static String append(RawImapClient c, String tag, String mailbox, byte[] message) throws IOException {
        c.send(tag + " APPEND " + mailbox + " (\\Seen) {" + message.length + "}\r\n");
        String plus = c.line();
        if (!plus.startsWith("+")) {
            return plus;
        }
        c.send(message);
        c.send("\r\n");
        return c.tagged(tag);
    }

    /** The messages of a mailbox, read from Dovecot directly, byte for byte. */
    static List<byte[]> stored(String user, String mailbox) throws IOException {
        try (RawImapClient d = direct(user)) {
            d.send("s EXAMINE " + mailbox + "\r\n");
            List<String> answers = d.until("s");
            if (!answers.get(answers.size() - 1).startsWith("s OK")) {
                return List.of();
            }
            d.send("f FETCH 1:* BODY.PEEK[]\r\n");
            List<byte[]> bodies = new ArrayList<>();
            for (String r : d.until("f")) {
                int brace = r.indexOf("BODY[] {");
                if (brace < 0) {
                    continue;
                }
                int close = r.indexOf("}\r\n", brace);
                int size = Integer.parseInt(r.substring(brace + 8, close));
                bodies.add(r.substring(close + 3, close + 3 + size).getBytes(StandardCharsets.ISO_8859_1));
            }
            return bodies;
        }
    }

    static int count(String user, String mailbox) throws IOException {
        return stored(user, mailbox).size();
    }

    // ---------------------------------------------------------------- upload

    @Test
    void aCleanMessageReachesDovecotByteIdentical() throws Exception {
        byte[] message = clean("clean upload");
        try (RawImapClient c = viaPostern("alice")) {
            assertThat(append(c, "a1", "INBOX", message)).startsWith("a1 OK");
            c.send("a2 CREATE Sent\r\n");
            c.tagged("a2");
            // LITERAL+ from the client too
            c.send("a3 APPEND Sent {" + message.length + "+}\r\n");
            c.send(message);
            c.send("\r\n");
            assertThat(c.tagged("a3")).startsWith("a3 OK");
            c.send("a4 NOOP\r\n");
            assertThat(c.tagged("a4")).startsWith("a4 OK");
        }
        assertThat(stored("alice", "INBOX")).anySatisfy(b -> assertThat(b).isEqualTo(message));
        assertThat(stored("alice", "Sent")).singleElement().satisfies(b -> assertThat(b).isEqualTo(message));
    }

    static double scans(String result) {
        var counter = postern.server().metrics().registry().find("postern.scans").tag("result", result).counter();
        return counter == null ? 0 : counter.count();
    }

    @Test
    void aBackendWithoutLiteralPlusGetsSynchronizingLiteralsAfterItsOwnContinuation() throws Exception {
        try (DovecotFixture plainDovecot = DovecotFixture.builder().name("scan-nolitplus")
                .setting("imap_capability = IMAP4rev1 SASL-IR ID ENABLE IDLE MULTIAPPEND UNSELECT NAMESPACE UIDPLUS")
                .start();
                PosternHarness p = PosternHarness.inFrontOf(plainDovecot.host(), plainDovecot.port(), """
                        policies:
                          - name: scan
                            scan: { clamd: { address: "%s" } }
                        """.formatted(clamd.unixAddress()))) {
            plainDovecot.addUser("sam", PASSWORD);
            byte[] good = clean("without literal+");
            try (RawImapClient c = login(new InetSocketAddress(p.host(), p.port()), "sam")) {
                c.send("c CAPABILITY\r\n");
                assertThat(c.until("c").get(0)).doesNotContain("LITERAL+");
                assertThat(append(c, "a1", "INBOX", good)).startsWith("a1 OK");
                assertThat(append(c, "a2", "INBOX", eicar("no literal+ eicar"))).startsWith("a2 NO [POLICY]");
                c.send("a3 APPEND INBOX {" + good.length + "}\r\n");
                assertThat(c.line()).startsWith("+");
                c.send(good);
                c.send(" {" + good.length + "}\r\n");
                assertThat(c.line()).startsWith("+");
                c.send(good);
                c.send("\r\n");
                assertThat(c.tagged("a3")).startsWith("a3 OK");
                // a refusal from the backend instead of its + reaches the client, and the session goes on
                assertThat(append(c, "a4", "Missing", good)).startsWith("a4 NO");
                c.send("a5 NOOP\r\n");
                assertThat(c.tagged("a5")).startsWith("a5 OK");
            }
            try (RawImapClient d = login(new InetSocketAddress(plainDovecot.host(), plainDovecot.port()), "sam")) {
                d.send("s EXAMINE INBOX\r\n");
                d.tagged("s");
                d.send("f FETCH 1:* BODY.PEEK[]\r\n");
                List<String> answers = d.until("f");
                long stored = answers.stream().filter(r -> r.startsWith("* ")).filter(r -> r.contains("BODY[] {" + good.length + "}\r\n"
                        + new String(good, StandardCharsets.ISO_8859_1))).count();
                assertThat(stored).as("byte-identical copies on Dovecot").isEqualTo(3);
                assertThat(answers.stream().filter(r -> r.contains(" FETCH ")).count()).isEqualTo(3);
            }
        }
    }

    @Test
    void anEicarMessageIsRefusedAndNeverReachesDovecot() throws Exception {
        int before = count("bob", "INBOX");
        double blocked = scans("blocked");
        try (RawImapClient c = viaPostern("bob")) {
            String answer = append(c, "b1", "INBOX", eicar("eicar upload"));
            assertThat(answer).startsWith("b1 NO [POLICY]").contains(ClamdFixture.SIGNATURE);
            assertThat(scans("blocked")).as("postern.scans{result=blocked}").isEqualTo(blocked + 1);
            c.send("b2 NOOP\r\n");
            assertThat(c.tagged("b2")).startsWith("b2 OK");
        }
        assertThat(count("bob", "INBOX")).isEqualTo(before);
    }

    @Test
    void anExecutableNamedPdfIsRefused() throws Exception {
        int before = count("bob", "INBOX");
        try (RawImapClient c = viaPostern("bob")) {
            String answer = append(c, "e1", "INBOX", exeAsPdf("exe as pdf"));
            assertThat(answer).startsWith("e1 NO [POLICY]").contains("invoice.pdf");
        }
        assertThat(count("bob", "INBOX")).isEqualTo(before);
    }

    @Test
    void aMultiappendWithOneBadMessageStoresNone() throws Exception {
        byte[] good = clean("multi good");
        byte[] bad = eicar("multi bad");
        try (RawImapClient c = viaPostern("carol")) {
            c.send("m0 CREATE Multi\r\n");
            c.tagged("m0");
            c.send("m1 APPEND Multi {" + good.length + "}\r\n");
            assertThat(c.line()).startsWith("+");
            c.send(good);
            c.send(" (\\Flagged) {" + bad.length + "}\r\n");
            assertThat(c.line()).startsWith("+");
            c.send(bad);
            c.send("\r\n");
            assertThat(c.tagged("m1")).startsWith("m1 NO [POLICY]");
            // both clean: both stored, byte-identical
            c.send("m2 APPEND Multi {" + good.length + "+}\r\n");
            c.send(good);
            c.send(" {" + good.length + "+}\r\n");
            c.send(good);
            c.send("\r\n");
            assertThat(c.tagged("m2")).startsWith("m2 OK");
        }
        assertThat(stored("carol", "Multi")).hasSize(2).allSatisfy(b -> assertThat(b).isEqualTo(good));
    }

    @Test
    void angusMailAppendsThroughAScanningSession() throws Exception {
        Properties p = new Properties();
        p.put("mail.imap.host", postern.host());
        p.put("mail.imap.port", String.valueOf(postern.port()));
        Session session = Session.getInstance(p);
        byte[] good = clean("angus clean");
        Store store = session.getStore("imap");
        store.connect("alice", PASSWORD);
        try {
            Folder f = store.getFolder("Angus");
            if (!f.exists()) {
                f.create(Folder.HOLDS_MESSAGES);
            }
            f.appendMessages(new Message[] {new MimeMessage(session, new ByteArrayInputStream(good))});
            jakarta.mail.MessagingException refused = null;
            try {
                f.appendMessages(new Message[] {new MimeMessage(session, new ByteArrayInputStream(eicar("angus bad")))});
            } catch (jakarta.mail.MessagingException e) {
                refused = e;
            }
            assertThat(refused).as("the EICAR append is refused").isNotNull();
            assertThat(String.valueOf(refused.getMessage())).contains("POLICY");
        } finally {
            store.close();
        }
        assertThat(stored("alice", "Angus")).singleElement()
                .satisfies(b -> assertThat(new String(b, StandardCharsets.ISO_8859_1)).contains("Subject: angus clean"));
    }

    @Test
    void aClientGoneMidLiteralLeavesNoTemporaryFile() throws Exception {
        byte[] big = new byte[3 * 1024 * 1024];
        java.util.Arrays.fill(big, (byte) 'a');
        try (RawImapClient c = viaPostern("alice")) {
            c.send("g1 APPEND INBOX {" + (big.length * 2) + "}\r\n");
            assertThat(c.line()).startsWith("+");
            c.send(big);
            waitUntil(() -> spilled() > 0, "the held literal spills to a file");
        }
        waitUntil(() -> spilled() == 0, "the temporary file is deleted when the client is gone");
    }

    @Test
    void clamdDownFailsOpenOrClosedAsConfigured() throws Exception {
        byte[] message = clean("while clamd is down");
        double failedOpen = scans("failed_open");
        double failedClosed = scans("failed_closed");
        try (RawImapClient c = viaPostern("open")) {
            assertThat(append(c, "o1", "INBOX", message)).startsWith("o1 OK");
        }
        assertThat(stored("open", "INBOX")).singleElement().satisfies(b -> assertThat(b).isEqualTo(message));
        try (RawImapClient c = viaPostern("closed")) {
            assertThat(append(c, "c1", "INBOX", message)).startsWith("c1 NO [UNAVAILABLE]");
            c.send("c2 NOOP\r\n");
            assertThat(c.tagged("c2")).startsWith("c2 OK");
        }
        assertThat(count("closed", "INBOX")).isZero();
        assertThat(scans("failed_open")).as("clamd failures, fail-open").isEqualTo(failedOpen + 1);
        assertThat(scans("failed_closed")).as("clamd failures, fail-closed").isEqualTo(failedClosed + 1);
    }

    @Test
    void malformedMessagesLeaveTheSessionStanding() throws Exception {
        List<Path> corpus;
        try (Stream<Path> files = Files.list(Path.of("src/test/resources/scan/malformed"))) {
            corpus = files.sorted().toList();
        }
        assertThat(corpus).hasSizeGreaterThanOrEqualTo(8);
        try (RawImapClient c = viaPostern("odd")) {
            int n = 0;
            for (Path file : corpus) {
                byte[] message = Files.readAllBytes(file);
                String answer = append(c, "x" + n, "INBOX", message);
                assertThat(answer).as(file.getFileName().toString()).matches("x" + n + " (OK|NO) .*");
                c.send("y" + n + " NOOP\r\n");
                assertThat(c.tagged("y" + n)).as(file.getFileName().toString()).startsWith("y" + n + " OK");
                n++;
            }
        }
    }

    @Test
    void aLargeUploadIsHeldOnDiskNotOnTheHeap() throws Exception {
        int size = 25 * 1024 * 1024;
        byte[] message = largeMessage(size);
        var memory = ManagementFactory.getMemoryMXBean();
        try (RawImapClient c = viaPostern("big")) {
            c.send("L1 APPEND INBOX {" + message.length + "}\r\n");
            assertThat(c.line()).startsWith("+");
            int firstPart = message.length - 1024 * 1024;
            long baseline = usedAfterGc(memory);
            c.send(java.util.Arrays.copyOf(message, firstPart));
            waitUntil(() -> spilled() >= firstPart - 1024 * 1024, "most of the literal is held in a file");
            long held = usedAfterGc(memory) - baseline;
            assertThat(held).as("heap held while 24 MiB of the upload wait in Postern").isLessThan(8L * 1024 * 1024);
            c.send(java.util.Arrays.copyOfRange(message, firstPart, message.length));
            c.send("\r\n");
            assertThat(c.tagged("L1")).startsWith("L1 OK");
        }
        List<byte[]> stored = stored("big", "INBOX");
        assertThat(stored).hasSize(1);
        assertThat(sha256(stored.get(0))).isEqualTo(sha256(message));
        waitUntil(() -> spilled() == 0, "no temporary file is left");
    }

    // ---------------------------------------------------------------- download

    /** FETCH through Postern: each message's item value, by the response's sequence number ({@code null} for NIL). */
    static List<byte[]> fetched(RawImapClient c, String tag, String command, String item) throws IOException {
        c.send(tag + " " + command + "\r\n");
        List<byte[]> out = new ArrayList<>();
        for (String r : c.until(tag)) {
            int at = r.indexOf(item + " ");
            if (!r.startsWith("* ") || at < 0) {
                continue;
            }
            String rest = r.substring(at + item.length() + 1);
            if (rest.startsWith("NIL")) {
                out.add(null);
                continue;
            }
            int close = rest.indexOf("}\r\n");
            int size = Integer.parseInt(rest.substring(rest.indexOf('{') + 1, close));
            out.add(rest.substring(close + 3, close + 3 + size).getBytes(StandardCharsets.ISO_8859_1));
        }
        return out;
    }

    @Test
    void aStoredEicarAttachmentIsReplacedInAnOtherwiseIntactMessage() throws Exception {
        byte[] message = eicar("stored eicar");
        dovecot.seedMessage("dana", "INBOX", message);
        byte[] clean = clean("stored clean");
        dovecot.seedMessage("dana", "INBOX", clean);
        try (RawImapClient c = viaPostern("dana")) {
            c.send("s SELECT INBOX\r\n");
            c.tagged("s");
            List<byte[]> bodies = fetched(c, "f1", "FETCH 1:2 BODY.PEEK[]", "BODY[]");
            assertThat(bodies).hasSize(2);
            assertThat(bodies.get(1)).isEqualTo(clean); // a clean message passes byte-identical
            byte[] rewritten = bodies.get(0);
            String text = new String(rewritten, StandardCharsets.ISO_8859_1);
            String original = new String(message, StandardCharsets.ISO_8859_1);
            assertThat(text).doesNotContain(new String(ClamdFixture.eicar(), StandardCharsets.ISO_8859_1))
                    .contains("Postern removed the attachment \"invoice.txt\"").contains(ClamdFixture.SIGNATURE);
            // everything up to the blocked part's header and from its closing boundary on is unchanged
            int partStart = original.indexOf("Content-Type: text/plain; name=\"invoice.txt\"");
            int partEnd = original.indexOf("\r\n--sep-1--");
            assertThat(text).startsWith(original.substring(0, partStart)).endsWith(original.substring(partEnd));
            MimeMessage parsed = new MimeMessage(Session.getInstance(new Properties()), new ByteArrayInputStream(rewritten));
            assertThat(parsed.getSubject()).isEqualTo("stored eicar");
            List<Part> leaves = leaves(parsed);
            assertThat(leaves).hasSize(2);
            assertThat(leaves.get(0).getContent().toString()).contains("Please find the file attached.");
            assertThat(leaves.get(1).isMimeType("text/plain")).isTrue();
            assertThat(leaves.get(1).getContent().toString()).contains("invoice.txt");
            // header-only fetches are not scanned: Dovecot's bytes
            List<byte[]> headers = fetched(c, "f2", "FETCH 1 BODY.PEEK[HEADER]", "BODY[HEADER]");
            assertThat(headers).singleElement().satisfies(h -> assertThat(h).isEqualTo(original.substring(0,
                    original.indexOf("\r\n\r\n") + 4).getBytes(StandardCharsets.ISO_8859_1)));
            // sections fetched on their own: the attachment is refused, the text part passes
            assertThat(fetched(c, "f3", "FETCH 1 BODY.PEEK[2]", "BODY[2]")).containsExactly((byte[]) null);
            assertThat(fetched(c, "f4", "FETCH 1 BINARY.PEEK[2]", "BINARY[2]")).containsExactly((byte[]) null);
            assertThat(fetched(c, "f5", "FETCH 1 BODY.PEEK[1]", "BODY[1]")).singleElement()
                    .satisfies(b -> assertThat(new String(b, StandardCharsets.ISO_8859_1)).contains("Please find the file attached."));
            // a partial fetch is checked as the bytes it carries
            assertThat(fetched(c, "f6", "FETCH 2 BODY.PEEK[]<0.100>", "BODY[]<0>")).singleElement()
                    .satisfies(b -> assertThat(b).isEqualTo(java.util.Arrays.copyOf(clean, 100)));
            // RFC822 as well, and a second fetch gets the same (cached) verdict
            List<byte[]> again = fetched(c, "f7", "FETCH 1 RFC822", "RFC822");
            assertThat(again).singleElement().satisfies(b -> assertThat(b).isEqualTo(rewritten));
            c.send("n NOOP\r\n");
            assertThat(c.tagged("n")).startsWith("n OK");
        }
        try (RawImapClient c = viaPostern("erin")) {
            dovecot.seedMessage("erin", "INBOX", message);
            c.send("s SELECT INBOX\r\n");
            c.tagged("s");
            assertThat(fetched(c, "f1", "FETCH 1 BODY.PEEK[]", "BODY[]")).containsExactly((byte[]) null);
        }
    }

    @Test
    void aLargeMessageFetchedThroughAScanningSessionIsByteIdentical() throws Exception {
        byte[] message = largeMessage(25 * 1024 * 1024);
        dovecot.seedMessage("frank", "INBOX", message);
        try (RawImapClient c = viaPostern("frank")) {
            c.setTimeout(60_000);
            c.send("s SELECT INBOX\r\n");
            c.tagged("s");
            List<byte[]> bodies = fetched(c, "f", "FETCH 1 BODY.PEEK[]", "BODY[]");
            assertThat(bodies).hasSize(1);
            assertThat(sha256(bodies.get(0))).isEqualTo(sha256(message));
        }
        waitUntil(() -> spilled() == 0, "no temporary file is left");
    }

    @Test
    void malformedMessagesFetchedLeaveTheSessionStanding() throws Exception {
        List<Path> corpus;
        try (Stream<Path> files = Files.list(Path.of("src/test/resources/scan/malformed"))) {
            corpus = files.sorted().toList();
        }
        for (Path file : corpus) {
            dovecot.seedMessage("gina", "INBOX", Files.readAllBytes(file));
        }
        try (RawImapClient c = viaPostern("gina")) {
            c.send("s SELECT INBOX\r\n");
            c.tagged("s");
            for (int i = 1; i <= corpus.size(); i++) {
                List<byte[]> got = fetched(c, "f" + i, "FETCH " + i + " BODY.PEEK[]", "BODY[]");
                assertThat(got).as(corpus.get(i - 1).getFileName().toString()).hasSize(1);
                c.send("n" + i + " NOOP\r\n");
                assertThat(c.tagged("n" + i)).startsWith("n" + i + " OK");
            }
        }
    }

    // ---------------------------------------------------------------- partial fetches

    /** One whole response to {@code command} (a FETCH of one item of one message), with its tagged reply checked. */
    static byte[] oneResponse(RawImapClient c, String tag, String command) throws IOException {
        c.send(tag + " " + command + "\r\n");
        byte[] response = c.response();
        assertThat(c.tagged(tag)).startsWith(tag + " OK");
        return response;
    }

    /** Selects {@code mailbox} and returns the UID of its first message. */
    static String selectFirstUid(RawImapClient c, String mailbox) throws IOException {
        c.send("s SELECT " + mailbox + "\r\n");
        assertThat(c.tagged("s")).startsWith("s OK");
        return firstUid(c);
    }

    static String firstUid(RawImapClient c) throws IOException {
        c.send("u UID FETCH 1:* (UID)\r\n");
        return c.until("u").get(0).replaceAll("(?s).*UID (\\d+).*", "$1");
    }

    /** The literal of a one-item FETCH response, or {@code null} when the item is NIL. */
    static byte[] literalOf(byte[] response) {
        String r = new String(response, StandardCharsets.ISO_8859_1);
        int open = r.indexOf('{');
        int close = r.indexOf("}\r\n");
        if (open < 0 || close < 0) {
            assertThat(r).endsWith(" NIL)\r\n");
            return null;
        }
        int size = Integer.parseInt(r.substring(open + 1, close));
        return java.util.Arrays.copyOfRange(response, close + 3, close + 3 + size);
    }

    /** Reads message 1's {@code item} (BODY.PEEK[], BODY.PEEK[2] ...) in ranges of {@code chunk} bytes; each response checked. */
    static byte[] inRanges(RawImapClient c, String command, String item, String responseItem, int chunk) throws IOException {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (int i = 0; i < 10_000; i++) {
            int origin = all.size();
            byte[] response = oneResponse(c, "r" + i, command + " (" + item + "<" + origin + "." + chunk + ">)");
            String head = new String(response, 0, Math.min(response.length, 200), StandardCharsets.ISO_8859_1);
            assertThat(head).as("the item is named with its origin, and nothing else is added")
                    .matches("(?s)\\* 1 FETCH \\(" + (command.startsWith("UID ") ? "UID \\d+ " : "")
                            + java.util.regex.Pattern.quote(responseItem + "<" + origin + ">") + " \\{\\d+\\}\r\n.*");
            byte[] got = literalOf(response);
            assertThat(new String(response, StandardCharsets.ISO_8859_1)).endsWith(")\r\n");
            all.writeBytes(got);
            if (got.length < chunk) {
                return all.toByteArray();
            }
        }
        throw new AssertionError("more than 10,000 ranges");
    }

    @Test
    void anEicarSignatureSplitAcrossTwoRangesIsCaughtAndTheRangesAreThoseOfTheReplacedMessage() throws Exception {
        byte[] message = eicar("ranged eicar");
        dovecot.seedMessage("hank", "INBOX", message);
        String text = new String(message, StandardCharsets.ISO_8859_1);
        String encoded = Base64.getMimeEncoder(76, "\r\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(ClamdFixture.eicar());
        int at = text.indexOf(encoded.substring(0, 40));
        assertThat(at).isPositive();
        int chunk = at + 30; // the first range ends inside the encoded signature, the second has the rest of it
        try (RawImapClient c = viaPostern("hank")) {
            c.send("s SELECT INBOX\r\n");
            c.tagged("s");
            byte[] whole = literalOf(oneResponse(c, "w", "FETCH 1 BODY.PEEK[]"));
            assertThat(new String(whole, StandardCharsets.ISO_8859_1)).contains("Postern removed the attachment \"invoice.txt\"")
                    .doesNotContain(encoded.substring(0, 40));
            byte[] assembled = inRanges(c, "FETCH 1", "BODY.PEEK[]", "BODY[]", chunk);
            assertThat(assembled).as("the ranges put together are the full fetch's replaced message").isEqualTo(whole);
            // the same through UID FETCH, with a range that starts inside the replacement notice
            String uid = firstUid(c);
            byte[] middle = literalOf(oneResponse(c, "m", "UID FETCH " + uid + " (BODY.PEEK[]<" + (whole.length / 2) + ".100>)"));
            assertThat(middle).isEqualTo(java.util.Arrays.copyOfRange(whole, whole.length / 2, whole.length / 2 + 100));
            // a range of the blocked part on its own: NIL, as the part fetched whole is
            byte[] part = oneResponse(c, "p", "FETCH 1 (BODY.PEEK[2]<0.40>)");
            assertThat(new String(part, StandardCharsets.ISO_8859_1)).isEqualTo("* 1 FETCH (BODY[2]<0> NIL)\r\n");
            byte[] binary = oneResponse(c, "b", "FETCH 1 (BINARY.PEEK[2]<10.40>)");
            assertThat(new String(binary, StandardCharsets.ISO_8859_1)).isEqualTo("* 1 FETCH (BINARY[2]<10> NIL)\r\n");
            // the text part's range passes, byte for byte what Dovecot gives
            byte[] textPart = literalOf(oneResponse(c, "t", "FETCH 1 (BODY.PEEK[1]<2.10>)"));
            assertThat(new String(textPart, StandardCharsets.ISO_8859_1)).isEqualTo("ease find ");
            c.send("n NOOP\r\n");
            assertThat(c.tagged("n")).startsWith("n OK");
        }
        // Angus Mail reading the message in 64-byte ranges gets the replaced message too
        Properties p = new Properties();
        p.put("mail.imap.host", postern.host());
        p.put("mail.imap.port", String.valueOf(postern.port()));
        p.put("mail.imap.partialfetch", "true");
        p.put("mail.imap.fetchsize", "64");
        p.put("mail.imap.peek", "true");
        Store store = Session.getInstance(p).getStore("imap");
        store.connect("hank", PASSWORD);
        try {
            Folder f = store.getFolder("INBOX");
            f.open(Folder.READ_ONLY);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            f.getMessage(1).writeTo(out);
            String read = out.toString(StandardCharsets.ISO_8859_1);
            assertThat(read).doesNotContain(encoded.substring(0, 40)).contains("Postern removed the attachment \"invoice.txt\"");
            f.close(false);
        } finally {
            store.close();
        }
        // download: refuse: a range is NIL, as the full fetch is
        dovecot.seedMessage("erin", "Ranges", message);
        try (RawImapClient c = viaPostern("erin")) {
            c.send("s SELECT Ranges\r\n");
            c.tagged("s");
            byte[] refused = oneResponse(c, "r", "FETCH 1 (BODY.PEEK[]<0." + chunk + ">)");
            assertThat(new String(refused, StandardCharsets.ISO_8859_1)).isEqualTo("* 1 FETCH (BODY[]<0> NIL)\r\n");
        }
    }

    @Test
    void aPartialFetchOfAUserWhoseCommandsGoThroughAPolicyIsTakenAsWell() throws Exception {
        byte[] message = eicar("read-only ranges");
        dovecot.seedMessage("judy", "INBOX", message);
        try (RawImapClient c = viaPostern("judy")) {
            c.send("s SELECT INBOX\r\n");
            c.tagged("s");
            byte[] whole = literalOf(oneResponse(c, "w", "FETCH 1 BODY.PEEK[]"));
            assertThat(new String(whole, StandardCharsets.ISO_8859_1)).contains("Postern removed the attachment \"invoice.txt\"");
            assertThat(inRanges(c, "FETCH 1", "BODY.PEEK[]", "BODY[]", 100)).isEqualTo(whole);
            c.send("x STORE 1 +FLAGS (\\Deleted)\r\n");
            assertThat(c.tagged("x")).startsWith("x NO"); // the command policy still decides
        }
    }

    static double backendResponseBytes() {
        var counter = postern.server().metrics().registry().find("postern.bytes").tag("side", "backend")
                .tag("direction", "response").counter();
        return counter == null ? 0 : counter.count();
    }

    @Test
    void rangesOfALargeMessageWithAReplacedPartFetchOnlyWhatTheyNeed() throws Exception {
        byte[] bigClean = largeMessage(2 * 1024 * 1024);
        String big = new String(bigClean, StandardCharsets.ISO_8859_1);
        String dataPart = big.substring(big.indexOf("--big\r\n") + 7, big.lastIndexOf("\r\n--big--"));
        String eicarPart = new String(eicar("x"), StandardCharsets.ISO_8859_1);
        eicarPart = eicarPart.substring(eicarPart.indexOf("Content-Type: text/plain; name="), eicarPart.lastIndexOf("\r\n--sep-1--"));
        byte[] message = crlf("""
                From: alice@example.org
                Subject: windows
                MIME-Version: 1.0
                Content-Type: multipart/mixed; boundary="w"

                --w
                """ + eicarPart.replace("\r\n", "\n") + """

                --w
                """ + dataPart.replace("\r\n", "\n") + """

                --w--
                """);
        dovecot.seedMessage("hank", "Windows", message);
        int chunk = 64 * 1024;
        try (RawImapClient c = viaPostern("hank")) {
            c.setTimeout(60_000);
            String uid = selectFirstUid(c, "Windows");
            // a full fetch by UID: the verdict (the EICAR part replaced) is remembered
            byte[] whole = literalOf(oneResponse(c, "w", "UID FETCH " + uid + " BODY.PEEK[]"));
            assertThat(new String(whole, StandardCharsets.ISO_8859_1)).contains("Postern removed the attachment \"invoice.txt\"");
            double blocked = scans("blocked");
            double before = backendResponseBytes();
            byte[] assembled = inRanges(c, "FETCH 1", "BODY.PEEK[]", "BODY[]", chunk);
            double fetched = backendResponseBytes() - before;
            assertThat(assembled).as("the ranges put together are the full fetch's replaced message").isEqualTo(whole);
            assertThat(scans("blocked")).as("nothing scanned again").isEqualTo(blocked);
            assertThat(fetched).as("bytes from the backend for %d ranges of a %d-byte message", (whole.length + chunk - 1) / chunk,
                    message.length).isLessThan(message.length * 1.5);
        }
    }

    @Test
    void aCleanMessageReadInRangesIsByteIdenticalAndScannedOnce() throws Exception {
        // -Dscan.ranges.mib=25 for the figure of a 25 MiB message; 4 MiB keeps the suite quick
        byte[] message = largeMessage(Integer.getInteger("scan.ranges.mib", 4) * 1024 * 1024);
        dovecot.seedMessage("ivan", "INBOX", message);
        int chunk = 64 * 1024;
        double clean = scans("clean");
        long rangesNanos;
        try (RawImapClient c = viaPostern("ivan"); RawImapClient d = direct("ivan")) {
            c.setTimeout(60_000);
            c.send("s SELECT INBOX\r\n");
            c.tagged("s");
            d.send("s SELECT INBOX\r\n");
            d.tagged("s");
            long start = System.nanoTime();
            byte[] assembled = inRanges(c, "FETCH 1", "BODY.PEEK[]", "BODY[]", chunk);
            rangesNanos = System.nanoTime() - start;
            assertThat(sha256(assembled)).isEqualTo(sha256(message));
            assertThat(scans("clean")).as("the whole message is scanned once for all its ranges").isEqualTo(clean + 1);
            // each response byte for byte what Dovecot answers (no UID added by Postern, nothing else changed)
            for (String command : List.of("FETCH 1 (BODY.PEEK[]<0.100>)", "FETCH 1 (UID BODY.PEEK[]<65536.100>)",
                    "FETCH 1 (BODY.PEEK[1]<7.50> RFC822.SIZE)", "FETCH 1 BINARY.PEEK[1]<1000.64>",
                    "FETCH 1 (BODY.PEEK[]<" + (message.length - 10) + ".100>)")) {
                assertThat(new String(oneResponse(c, "x", command), StandardCharsets.ISO_8859_1)).as(command)
                        .isEqualTo(new String(oneResponse(d, "x", command), StandardCharsets.ISO_8859_1));
            }
            long directStart = System.nanoTime();
            assertThat(sha256(inRanges(d, "FETCH 1", "BODY.PEEK[]", "BODY[]", chunk))).isEqualTo(sha256(message));
            long directNanos = System.nanoTime() - directStart;
            long fullStart = System.nanoTime();
            byte[] full = literalOf(oneResponse(c, "f", "FETCH 1 BODY.PEEK[]"));
            long fullNanos = System.nanoTime() - fullStart;
            assertThat(full).isEqualTo(message);
            System.out.printf("partial fetch figure: %d bytes in %d ranges of 64 KiB through a scanning Postern: %d ms"
                    + " (%.1f MB/s); the same ranges from Dovecot directly: %d ms; one full fetch through Postern: %d ms (%.1f MB/s)%n",
                    message.length, (message.length + chunk - 1) / chunk, rangesNanos / 1_000_000,
                    message.length / (rangesNanos / 1e3), directNanos / 1_000_000, fullNanos / 1_000_000,
                    message.length / (fullNanos / 1e3));
        }
        // another session (Thunderbird's way: UID FETCH) finds the verdict known: nothing is scanned again
        double before = scans("clean");
        try (RawImapClient c = viaPostern("ivan")) {
            c.setTimeout(60_000);
            String uid = selectFirstUid(c, "INBOX");
            byte[] first = literalOf(oneResponse(c, "a", "UID FETCH " + uid + " (BODY.PEEK[]<0." + chunk + ">)"));
            byte[] last = literalOf(oneResponse(c, "b", "UID FETCH " + uid + " (BODY.PEEK[]<" + (message.length - 1000) + "." + chunk + ">)"));
            assertThat(first).isEqualTo(java.util.Arrays.copyOf(message, chunk));
            assertThat(last).isEqualTo(java.util.Arrays.copyOfRange(message, message.length - 1000, message.length));
            long start = System.nanoTime();
            assertThat(sha256(inRanges(c, "UID FETCH " + uid, "BODY.PEEK[]", "BODY[]", chunk))).isEqualTo(sha256(message));
            System.out.printf("partial fetch figure: the same by UID FETCH with the verdict known: %d ms%n",
                    (System.nanoTime() - start) / 1_000_000);
        }
        assertThat(scans("clean")).as("ranges of a message known clean are not scanned again").isEqualTo(before);
        waitUntil(() -> spilled() == 0, "no temporary file is left");
    }

    static byte[] largeMessage(int size) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(size + 4096);
        out.writeBytes(crlf("""
                From: big@example.org
                Subject: large
                MIME-Version: 1.0
                Content-Type: multipart/mixed; boundary="big"

                --big
                Content-Type: application/octet-stream; name="data.bin"
                Content-Transfer-Encoding: base64

                """));
        java.util.Random random = new java.util.Random(7);
        byte[] raw = new byte[57];
        while (out.size() < size - 100) {
            random.nextBytes(raw);
            out.writeBytes(Base64.getEncoder().encode(raw));
            out.writeBytes(new byte[] {'\r', '\n'});
        }
        out.writeBytes(crlf("--big--\n"));
        return out.toByteArray();
    }

    static long usedAfterGc(java.lang.management.MemoryMXBean memory) throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
        }
        return memory.getHeapMemoryUsage().getUsed();
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    static long spilled() {
        try (Stream<Path> files = Files.list(spillDir)) {
            return files.mapToLong(f -> {
                try {
                    return Files.size(f);
                } catch (IOException e) {
                    return 0; // deleted between listing and sizing
                }
            }).sum();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    interface Condition {
        boolean holds() throws Exception;
    }

    static void waitUntil(Condition c, String what) throws Exception {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!c.holds()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 30 s: " + what);
            }
            Thread.sleep(20);
        }
    }

    static List<Part> leaves(Part p) throws Exception {
        List<Part> out = new ArrayList<>();
        if (p.getContent() instanceof Multipart m) {
            for (int i = 0; i < m.getCount(); i++) {
                out.addAll(leaves(m.getBodyPart(i)));
            }
        } else {
            out.add(p);
        }
        return out;
    }
}
