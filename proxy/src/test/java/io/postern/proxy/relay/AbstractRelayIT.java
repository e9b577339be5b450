package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jakarta.mail.AuthenticationFailedException;
import jakarta.mail.Flags;
import jakarta.mail.Folder;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Store;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.eclipse.angus.mail.imap.IMAPFolder;
import org.eclipse.angus.mail.imap.IMAPMessage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The relay, exercised with Angus Mail and a raw client through Postern against a real IMAP
 * server; each check compares with the same server reached directly. Subclasses bring the server.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class AbstractRelayIT {

    /** A running IMAP server that tests can add users to. */
    interface Backend {
        String host();

        int port();

        void addUser(String user, String password) throws Exception;

        /** Whether the server implements MOVE, UIDPLUS ... as Dovecot does; GreenMail has gaps. */
        boolean fullFeatured();

        void close() throws Exception;
    }

    static final String PASSWORD = "pw-" + "s3cret";
    private static final Pattern UID_IN_APPENDUID = Pattern.compile("\\[APPENDUID \\d+ (\\d+)]");
    private static final Pattern DOVECOT_TIMING = Pattern.compile(" \\(\\d+\\.\\d+ \\+ \\d+\\.\\d+( \\+ \\d+\\.\\d+)? secs\\)\\.");

    Backend backend;
    PosternHarness postern;
    private int users;

    abstract Backend startBackend() throws Exception;

    @BeforeAll
    void start() throws Exception {
        backend = startBackend();
        postern = PosternHarness.inFrontOf(backend.host(), backend.port());
    }

    @AfterAll
    void stop() throws Exception {
        if (postern != null) {
            postern.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    /** A fresh user per test, so tests never see each other's mail. */
    String newUser() throws Exception {
        String user = "user" + (++users);
        backend.addUser(user, PASSWORD);
        return user;
    }

    InetSocketAddress direct() {
        return new InetSocketAddress(backend.host(), backend.port());
    }

    // ------------------------------------------------------------ Angus Mail

    Store angus(String user, InetSocketAddress target, String... extraProperties) throws Exception {
        Properties props = new Properties();
        props.put("mail.imap.host", target.getHostString());
        props.put("mail.imap.port", String.valueOf(target.getPort()));
        props.put("mail.imap.connectiontimeout", "5000");
        props.put("mail.imap.timeout", "20000");
        for (int i = 0; i < extraProperties.length; i += 2) {
            props.put(extraProperties[i], extraProperties[i + 1]);
        }
        Store store = Session.getInstance(props).getStore("imap");
        store.connect(user, PASSWORD);
        return store;
    }

    @Test
    void angusLogsInWithAuthenticatePlainAndWithAuthenticateLogin() throws Exception {
        String user = newUser();
        for (String mechanism : List.of("PLAIN", "LOGIN")) {
            Store store = angus(user, postern.address(), "mail.imap.auth.mechanisms", mechanism);
            try {
                Folder inbox = store.getFolder("INBOX");
                inbox.open(Folder.READ_ONLY);
                assertThat(inbox.getMessageCount()).isZero();
                inbox.close(false);
            } finally {
                store.close();
            }
        }
    }

    @Test
    void wrongPasswordFailsWithAuthenticationFailed() throws Exception {
        String user = newUser();
        Properties props = new Properties();
        props.put("mail.imap.host", postern.host());
        props.put("mail.imap.port", String.valueOf(postern.port()));
        Store store = Session.getInstance(props).getStore("imap");
        assertThatThrownBy(() -> store.connect(user, "wrong"))
                .isInstanceOf(AuthenticationFailedException.class)
                .hasMessageContaining("Authentication failed");
    }

    @Test
    void listShowsTheSameFoldersAsTheBackend() throws Exception {
        String user = newUser();
        Store direct = angus(user, direct());
        try {
            for (String name : List.of("Archive", "Projects", "Entwürfe")) {
                assertThat(direct.getFolder(name).create(Folder.HOLDS_MESSAGES)).isTrue();
            }
        } finally {
            direct.close();
        }
        List<String> viaPostern = rawSession(postern.address(), user, List.of("l1 LIST \"\" \"*\""));
        List<String> viaBackend = rawSession(direct(), user, List.of("l1 LIST \"\" \"*\""));
        assertThat(viaPostern).isEqualTo(viaBackend);
        assertThat(String.join("", viaPostern)).contains("Archive").contains("Projects");
    }

    @Test
    void multiMegabyteMessageIsFetchedByteIdentical() throws Exception {
        String user = newUser();
        byte[] original = bigMessage(3 * 1024 * 1024, 7);
        long uid = appendRaw(direct(), user, "INBOX", original);

        for (String partial : List.of("false", "true")) {
            Store store = angus(user, postern.address(), "mail.imap.partialfetch", partial);
            try {
                IMAPFolder inbox = (IMAPFolder) store.getFolder("INBOX");
                inbox.open(Folder.READ_ONLY);
                IMAPMessage m = (IMAPMessage) inbox.getMessageByUID(uid);
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                m.writeTo(out);
                assertThat(sha256(out.toByteArray())).as("partialfetch=" + partial).isEqualTo(sha256(original));
                inbox.close(false);
            } finally {
                store.close();
            }
        }
        List<String> fetch = List.of("f1 EXAMINE INBOX", "f2 UID FETCH " + uid + " (BODY.PEEK[])");
        assertThat(rawSession(postern.address(), user, fetch)).isEqualTo(rawSession(direct(), user, fetch));
    }

    @Test
    void capabilitiesAfterLoginHideWhatPosternCannotRelayAndOfferPosternsOwnCompress() throws Exception {
        String user = newUser();
        try (RawImapClient c = login(postern.address(), user)) {
            c.send("c1 CAPABILITY\r\n");
            List<String> responses = c.until("c1");
            String capability = responses.get(0);
            assertThat(capability).startsWith("* CAPABILITY IMAP4rev1").endsWith("\r\n");
            assertThat(capability).doesNotContain("AUTH=").doesNotContain("STARTTLS").doesNotContain("SASL-IR");
            // COMPRESS=DEFLATE is Postern's own (it inflates and parses); the backend's is never shown
            assertThat(capability.split("COMPRESS=", -1)).hasSize(2);
            assertThat(capability.trim()).endsWith(" COMPRESS=DEFLATE");
            c.send("c2 COMPRESS GZIP\r\nc3 STARTTLS\r\nc4 LOGIN x y\r\nc5 NOOP\r\n");
            assertThat(c.tagged("c2")).startsWith("c2 BAD ");
            assertThat(c.tagged("c3")).startsWith("c3 BAD ");
            assertThat(c.tagged("c4")).startsWith("c4 BAD ");
            assertThat(c.tagged("c5")).startsWith("c5 OK");
        }
        try (RawImapClient c = login(direct(), user)) {
            c.send("c1 CAPABILITY\r\n");
            String direct = c.until("c1").get(0);
            // what Postern shows is the backend's list less the filtered names, in the backend's order
            List<String> expected = Arrays.stream(direct.trim().split(" "))
                    .skip(2)
                    .filter(name -> !name.startsWith("AUTH=") && !name.startsWith("COMPRESS=")
                            && !List.of("STARTTLS", "LOGINDISABLED", "SASL-IR", "LOGIN-REFERRALS").contains(name))
                    .collect(java.util.stream.Collectors.toCollection(ArrayList::new));
            expected.add("COMPRESS=DEFLATE");
            try (RawImapClient p = login(postern.address(), user)) {
                p.send("c1 CAPABILITY\r\n");
                assertThat(p.until("c1").get(0).trim()).isEqualTo("* CAPABILITY " + String.join(" ", expected));
            }
        }
    }

    @Test
    void posternsOwnAnswersNeverLandInsideARelayedLiteral() throws Exception {
        String user = newUser();
        // more than the socket buffers between backend and client hold (several MiB here): the FETCH
        // is still running when the client's next commands arrive, whatever Postern's read sizes
        byte[] original = bigMessage(25 * 1024 * 1024, 31);
        appendRaw(direct(), user, "INBOX", original);
        try (RawImapClient c = login(postern.address(), user)) {
            c.send("r1 EXAMINE INBOX\r\n");
            c.tagged("r1");
            c.send("r2 FETCH 1 (BODY.PEEK[])\r\n");
            String head = c.line(); // * 1 FETCH (BODY[] {n}: the literal is on its way, unread
            assertThat(head).startsWith("* 1 FETCH (").endsWith("{" + original.length + "}");
            // COMPRESS is answered by Postern itself (not while a command runs), as the literal is still being relayed
            c.send("r3 COMPRESS DEFLATE\r\nr4 NOOP\r\n");
            byte[] body = c.bytes(original.length);
            assertThat(sha256(body)).isEqualTo(sha256(original));
            assertThat(c.line()).isEqualTo(")");
            List<String> rest = new ArrayList<>();
            while (rest.size() < 3) {
                rest.add(new String(c.response(), StandardCharsets.US_ASCII).trim());
            }
            assertThat(rest).anyMatch(r -> r.startsWith("r2 OK")).anyMatch(r -> r.startsWith("r3 NO"))
                    .anyMatch(r -> r.startsWith("r4 OK"));
        }
    }

    @Test
    void slowClientDoesNotMakePosternHoldALargeFetch() throws Exception {
        String user = newUser();
        byte[] original = bigMessage(25 * 1024 * 1024, 25);
        appendRaw(direct(), user, "INBOX", original);
        try (RawImapClient c = login(postern.address(), user)) {
            c.send("b1 EXAMINE INBOX\r\n");
            c.tagged("b1");
            c.send("b2 FETCH 1 (BODY.PEEK[])\r\n");
            long maxPending = 0;
            for (int i = 0; i < 30; i++) { // the client reads nothing for 1.5 s
                Thread.sleep(50);
                maxPending = Math.max(maxPending, postern.server().pendingClientBytes());
            }
            byte[] response = c.response();
            String tagged = c.tagged("b2");
            assertThat(tagged).startsWith("b2 OK");
            String head = new String(response, 0, 100, StandardCharsets.ISO_8859_1);
            int start = head.indexOf("}\r\n") + 3;
            byte[] body = Arrays.copyOfRange(response, start, start + original.length);
            assertThat(sha256(body)).isEqualTo(sha256(original));
            // a high-water mark's worth, not the 25 MB message
            assertThat(maxPending).isLessThan(1024 * 1024);
        }
    }

    @Test
    void ioSectionSetsTheEventLoopsAndTheWaterMarks() throws Exception {
        assertThat(postern.server().eventLoopThreads()).as("default: one per core")
                .isEqualTo(Runtime.getRuntime().availableProcessors());
        String user = newUser();
        // more than the kernel's socket buffers take from a client that reads nothing (several MiB here)
        byte[] original = bigMessage(25 * 1024 * 1024, 43);
        appendRaw(direct(), user, "INBOX", original);
        try (PosternHarness small = PosternHarness.inFrontOf(backend.host(), backend.port(), """
                io:
                  event_loop_threads: 1
                  write_buffer_low: 8KiB
                  write_buffer_high: 32KiB
                """);
                RawImapClient c = login(small.address(), user)) {
            assertThat(small.server().eventLoopThreads()).isEqualTo(1);
            c.send("w1 EXAMINE INBOX\r\n");
            c.tagged("w1");
            c.send("w2 FETCH 1 (BODY.PEEK[])\r\n");
            long maxPending = 0;
            int afterFirst = 0;
            // the client reads nothing: until Postern queues something and for a second after (10 s at most)
            for (int i = 0; i < 200 && afterFirst < 20; i++) {
                Thread.sleep(50);
                maxPending = Math.max(maxPending, small.server().pendingClientBytes());
                afterFirst += maxPending > 0 ? 1 : 0;
            }
            byte[] response = c.response();
            assertThat(c.tagged("w2")).startsWith("w2 OK");
            String head = new String(response, 0, 100, StandardCharsets.ISO_8859_1);
            int start = head.indexOf("}\r\n") + 3;
            assertThat(sha256(Arrays.copyOfRange(response, start, start + original.length))).isEqualTo(sha256(original));
            // the 32 KiB mark and at most one more read buffer (64 KiB), not the default 256 KiB mark's worth
            assertThat(maxPending).isPositive().isLessThan(128 * 1024);
        }
    }

    @Test
    void appendWithLiteralPlusThroughAngusIsStoredByteIdentical() throws Exception {
        String user = newUser();
        byte[] original = bigMessage(200 * 1024, 11);
        MimeMessage message = new MimeMessage(Session.getInstance(new Properties()), new ByteArrayInputStream(original));
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        message.writeTo(expected);
        Store store = angus(user, postern.address());
        try {
            Folder inbox = store.getFolder("INBOX");
            inbox.appendMessages(new Message[] {message});
        } finally {
            store.close();
        }
        assertThat(sha256(fetchDirect(user, "INBOX", 1))).isEqualTo(sha256(expected.toByteArray()));
    }

    @Test
    void appendWithSynchronizingAndNonSynchronizingLiteralsIsByteIdentical() throws Exception {
        String user = newUser();
        byte[] first = bigMessage(150 * 1024, 3);
        byte[] second = bigMessage(90 * 1024, 5);
        try (RawImapClient c = login(postern.address(), user)) {
            c.send("a1 APPEND INBOX {" + first.length + "}\r\n");
            assertThat(c.line()).startsWith("+");
            c.send(first);
            c.send("\r\n");
            assertThat(c.tagged("a1")).startsWith("a1 OK");
            c.send("a2 APPEND INBOX {" + second.length + "+}\r\n");
            c.send(second);
            c.send("\r\na3 NOOP\r\n");
            assertThat(c.tagged("a2")).startsWith("a2 OK");
            assertThat(c.tagged("a3")).startsWith("a3 OK");
        }
        assertThat(sha256(fetchDirect(user, "INBOX", 1))).isEqualTo(sha256(first));
        assertThat(sha256(fetchDirect(user, "INBOX", 2))).isEqualTo(sha256(second));
    }

    @Test
    void binaryAppendAndFetchWithLiteral8() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(backend.fullFeatured(), "the backend implements BINARY (RFC 3516)");
        String user = newUser();
        byte[] head = ("From: a@postern.test\r\nSubject: binary\r\nMIME-Version: 1.0\r\n"
                + "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        byte[] body = new byte[3000];
        new Random(8).nextBytes(body);
        byte[] message = new byte[head.length + body.length];
        System.arraycopy(head, 0, message, 0, head.length);
        System.arraycopy(body, 0, message, head.length, body.length);
        try (RawImapClient c = login(postern.address(), user)) {
            c.send("b1 APPEND INBOX ~{" + message.length + "+}\r\n");
            c.send(message);
            c.send("\r\n");
            assertThat(c.tagged("b1")).startsWith("b1 OK");
        }
        List<String> fetch = List.of("b2 EXAMINE INBOX", "b3 FETCH 1 (BINARY.PEEK[] BINARY.SIZE[])");
        List<String> viaPostern = rawSession(postern.address(), user, fetch);
        assertThat(viaPostern).isEqualTo(rawSession(direct(), user, fetch));
        assertThat(String.join("", viaPostern)).contains("BINARY[] ~{" + message.length + "}");
    }

    @Test
    void refusedSynchronizingLiteralIsNotSentAndTheSessionGoesOn() throws Exception {
        String user = newUser();
        byte[] message = bigMessage(2000, 13);
        try (RawImapClient c = login(postern.address(), user)) {
            c.send("a1 APPEND \"No such folder\" {" + message.length + "}\r\n");
            String answer = c.line();
            if (backend.fullFeatured()) {
                // Dovecot refuses at once: the client must not send the literal (raw-refused-001)
                assertThat(answer).startsWith("a1 NO [TRYCREATE]");
            } else if (answer.startsWith("+")) {
                // GreenMail takes the literal first, then refuses
                c.send(message);
                c.send("\r\n");
                assertThat(c.tagged("a1")).startsWith("a1 NO");
            }
            c.send("a2 NOOP\r\n");
            assertThat(c.tagged("a2")).startsWith("a2 OK");
            c.send("a3 APPEND INBOX {" + message.length + "}\r\n");
            assertThat(c.line()).startsWith("+");
            c.send(message);
            c.send("\r\n");
            assertThat(c.tagged("a3")).startsWith("a3 OK");
        }
        assertThat(fetchDirect(user, "INBOX", 1)).isEqualTo(message);
    }

    @Test
    void idleReceivesExistsWhenAnotherSessionAppends() throws Exception {
        String user = newUser();
        appendRaw(direct(), user, "INBOX", bigMessage(1000, 1));
        try (RawImapClient idler = login(postern.address(), user)) {
            idler.send("i1 SELECT INBOX\r\n");
            assertThat(idler.tagged("i1")).startsWith("i1 OK");
            idler.send("i2 IDLE\r\n");
            assertThat(idler.line()).startsWith("+");
            appendRaw(direct(), user, "INBOX", bigMessage(1000, 2));
            String update;
            do {
                update = idler.line();
            } while (!update.endsWith(" EXISTS"));
            assertThat(update).isEqualTo("* 2 EXISTS");
            idler.send("DONE\r\n");
            assertThat(idler.tagged("i2")).startsWith("i2 OK");
            idler.send("i3 NOOP\r\n");
            assertThat(idler.tagged("i3")).startsWith("i3 OK");
        }
    }

    @Test
    void moveAndExpungeThroughAngus() throws Exception {
        String user = newUser();
        for (int i = 0; i < 4; i++) {
            appendRaw(direct(), user, "INBOX", bigMessage(3000, 20 + i));
        }
        Store store = angus(user, postern.address());
        try {
            Folder archive = store.getFolder("Archive");
            assertThat(archive.create(Folder.HOLDS_MESSAGES)).isTrue();
            IMAPFolder inbox = (IMAPFolder) store.getFolder("INBOX");
            inbox.open(Folder.READ_WRITE);
            inbox.moveMessages(new Message[] {inbox.getMessage(1)}, archive);
            // Angus counts the MOVE's EXPUNGE only after the next command (directly as well): reopen
            inbox.close(false);
            inbox.open(Folder.READ_WRITE);
            assertThat(inbox.getMessageCount()).isEqualTo(3);
            inbox.getMessage(1).setFlag(Flags.Flag.DELETED, true);
            Message[] expunged = inbox.expunge();
            assertThat(expunged).hasSize(1);
            assertThat(inbox.getMessageCount()).isEqualTo(2);
            inbox.close(false);
        } finally {
            store.close();
        }
        List<String> status = List.of("s1 STATUS INBOX (MESSAGES)", "s2 STATUS Archive (MESSAGES)");
        List<String> direct = rawSession(direct(), user, status);
        assertThat(String.join("", direct).replace("\"", ""))
                .contains("STATUS INBOX (MESSAGES 2)")
                .contains("STATUS Archive (MESSAGES 1)");
    }

    @Test
    void searchWithALiteralArgumentMatchesTheBackend() throws Exception {
        String user = newUser();
        appendRaw(direct(), user, "INBOX", message("Quokka sighting", "A quokka was seen.\r\n"));
        appendRaw(direct(), user, "INBOX", message("Budget", "Numbers.\r\n"));
        List<String> results = new ArrayList<>();
        for (InetSocketAddress target : List.of(postern.address(), direct())) {
            try (RawImapClient c = login(target, user)) {
                c.send("s1 SELECT INBOX\r\n");
                c.tagged("s1");
                c.send("s2 SEARCH SUBJECT {6}\r\n");
                assertThat(c.line()).startsWith("+");
                c.send("Quokka\r\n");
                List<String> responses = c.until("s2");
                assertThat(responses.get(responses.size() - 1)).startsWith("s2 OK");
                results.add(responses.get(0));
            }
        }
        assertThat(results.get(0)).isEqualTo("* SEARCH 1\r\n").isEqualTo(results.get(1));
    }

    @Test
    void manyPipelinedCommandsAllComplete() throws Exception {
        String user = newUser();
        for (int i = 0; i < 5; i++) {
            appendRaw(direct(), user, "INBOX", bigMessage(2000, 40 + i));
        }
        try (RawImapClient c = login(postern.address(), user)) {
            c.send("p0 SELECT INBOX\r\n");
            c.tagged("p0");
            StringBuilder burst = new StringBuilder();
            int n = 150;
            for (int i = 1; i <= n; i++) {
                String command = switch (i % 3) {
                    case 0 -> "NOOP";
                    case 1 -> "FETCH " + (1 + i % 5) + " (FLAGS UID)";
                    default -> "UID SEARCH ALL";
                };
                burst.append('p').append(i).append(' ').append(command).append("\r\n");
            }
            c.send(burst.toString());
            Set<String> completed = new HashSet<>();
            while (completed.size() < n) {
                String r = new String(c.response(), StandardCharsets.UTF_8);
                if (r.startsWith("p")) {
                    assertThat(r).matches("p\\d+ OK [\\s\\S]*");
                    assertThat(completed.add(r.substring(0, r.indexOf(' ')))).isTrue();
                }
            }
            assertThat(completed).hasSize(n);
        }
    }

    @Test
    void scriptedSessionSeesExactlyWhatTheBackendSends() throws Exception {
        String user = newUser();
        appendRaw(direct(), user, "INBOX", message("First", "one\r\n"));
        appendRaw(direct(), user, "INBOX", bigMessage(40_000, 9));
        // commands that leave the mailbox as they found it, so that both runs see the same state
        List<String> script = new ArrayList<>(List.of(
                "t1 LIST \"\" \"*\"",
                "t2 SELECT INBOX",
                "t3 FETCH 1:* (FLAGS UID RFC822.SIZE)",
                "t4 FETCH 2 (BODY.PEEK[HEADER])",
                "t4b FETCH 2 (BODY.PEEK[TEXT])",
                "t5 STORE 1 FLAGS (\\Flagged)",
                "t6 UID SEARCH FLAGGED",
                "t7 STATUS INBOX (MESSAGES UIDNEXT)",
                "t8 EXAMINE INBOX",
                "t9 FETCH 1 (BODY.PEEK[]<0.10> ENVELOPE)",
                "t10 NOOP"));
        if (backend.fullFeatured()) {
            script.add("t11 ID NIL");
            script.add("t12 NAMESPACE");
            script.add("t13 LIST (SUBSCRIBED) \"\" \"*\" RETURN (CHILDREN STATUS (MESSAGES))");
            // two literals in one response (GreenMail orders such items differently from run to run)
            script.add("t13b FETCH 2 (BODY.PEEK[HEADER] BODY.PEEK[TEXT])");
            script.add("t14 FETCH 2 (BINARY.PEEK[1] BINARY.SIZE[1] BODYSTRUCTURE)"); // literal8 ~{n} responses
            script.add("t15 ENABLE QRESYNC");
        }
        rawSession(direct(), user, script); // the first SELECT clears \Recent; compare the runs after it
        List<String> viaPostern = rawSession(postern.address(), user, script);
        List<String> direct = rawSession(direct(), user, script);
        assertThat(viaPostern).isEqualTo(direct);
        assertThat(viaPostern.size()).isGreaterThan(script.size() + 8);
    }

    // ------------------------------------------------------------ helpers

    RawImapClient login(InetSocketAddress target, String user) throws Exception {
        RawImapClient c = new RawImapClient(target);
        c.line(); // greeting
        c.send("L1 LOGIN " + user + " " + PASSWORD + "\r\n");
        String reply = c.tagged("L1");
        assertThat(reply).startsWith("L1 OK");
        return c;
    }

    /** Runs commands one by one after a login; returns every response, Dovecot's timings removed. */
    List<String> rawSession(InetSocketAddress target, String user, List<String> commands) throws Exception {
        List<String> all = new ArrayList<>();
        try (RawImapClient c = login(target, user)) {
            for (String command : commands) {
                String tag = command.substring(0, command.indexOf(' '));
                c.send(command + "\r\n");
                for (String r : c.until(tag)) {
                    all.add(DOVECOT_TIMING.matcher(r).replaceAll("."));
                }
            }
        }
        return all;
    }

    long appendRaw(InetSocketAddress target, String user, String folder, byte[] message) throws Exception {
        try (RawImapClient c = login(target, user)) {
            c.send("A1 APPEND " + folder + " {" + message.length + "}\r\n");
            String cont = c.line();
            assertThat(cont).startsWith("+");
            c.send(message);
            c.send("\r\n");
            String reply = c.tagged("A1");
            assertThat(reply).startsWith("A1 OK");
            Matcher m = UID_IN_APPENDUID.matcher(reply);
            if (m.find()) {
                return Long.parseLong(m.group(1));
            }
            c.send("A2 SELECT " + folder + "\r\nA3 UID SEARCH ALL\r\n");
            String search = c.until("A3").stream().filter(r -> r.startsWith("* SEARCH")).findFirst().orElseThrow();
            String[] uids = search.trim().split(" ");
            return Long.parseLong(uids[uids.length - 1]);
        }
    }

    /** BODY.PEEK[] of a message, straight from the backend. */
    byte[] fetchDirect(String user, String folder, int sequence) throws Exception {
        try (RawImapClient c = login(direct(), user)) {
            c.send("F1 EXAMINE " + folder + "\r\n");
            c.tagged("F1");
            c.send("F2 FETCH " + sequence + " (BODY.PEEK[])\r\n");
            byte[] response = c.response();
            while (!new String(response, 0, Math.min(response.length, 20), StandardCharsets.US_ASCII)
                    .startsWith("* " + sequence + " FETCH")) {
                response = c.response();
            }
            c.tagged("F2");
            String head = new String(response, 0, Math.min(response.length, 200), StandardCharsets.ISO_8859_1);
            Matcher m = Pattern.compile("\\{(\\d+)}\r\n").matcher(head);
            assertThat(m.find()).as("literal in %s", head).isTrue();
            int start = m.end();
            return Arrays.copyOfRange(response, start, start + Integer.parseInt(m.group(1)));
        }
    }

    static byte[] message(String subject, String body) {
        return ("From: alice@postern.test\r\nTo: bob@postern.test\r\nSubject: " + subject
                + "\r\nMessage-ID: <" + subject.hashCode() + "@postern.test>\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\n" + body)
                .getBytes(StandardCharsets.UTF_8);
    }

    /** A message of about {@code size} bytes: text lines, 8-bit UTF-8, and lines that look like IMAP. */
    static byte[] bigMessage(int size, long seed) {
        Random random = new Random(seed);
        StringBuilder body = new StringBuilder(size + 200);
        String[] traps = {"a001 OK fake completion", "* 1 FETCH (BODY[] {12}", "+ fake continuation", "DONE", "x {5}"};
        while (body.length() < size) {
            int kind = random.nextInt(10);
            if (kind == 0) {
                body.append(traps[random.nextInt(traps.length)]);
            } else if (kind == 1) {
                body.append("Grüße aus Zürich, ça va? ");
            }
            int len = 20 + random.nextInt(60);
            for (int i = 0; i < len; i++) {
                body.append((char) ('!' + random.nextInt(90)));
            }
            body.append("\r\n");
        }
        return (new String(message("Big " + seed, ""), StandardCharsets.UTF_8) + body).getBytes(StandardCharsets.UTF_8);
    }

    static String sha256(byte[] data) throws Exception {
        byte[] d = MessageDigest.getInstance("SHA-256").digest(data);
        return Arrays.stream(new int[d.length]).mapToObj(i -> "").collect(Collectors.joining())
                + java.util.HexFormat.of().formatHex(d);
    }
}
