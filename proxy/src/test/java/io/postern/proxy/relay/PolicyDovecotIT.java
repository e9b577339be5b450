package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.postern.proxy.testing.DovecotFixture;
import jakarta.mail.AuthenticationFailedException;
import jakarta.mail.Flags;
import jakarta.mail.Folder;
import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.Store;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayInputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The policies against a real Dovecot, through Postern: read-only users, hidden mailboxes,
 * source rules, rate limits, capability rewriting and its enforcement. What must not change is
 * checked afterwards on Dovecot directly.
 */
class PolicyDovecotIT {

    private static final String PASSWORD = "secret";

    static final String POLICIES = """
            groups:
              auditors: [auditor]
              legal: [erin]
              stripped: [capuser]
            policies:
              - name: auditors-read-only
                match: { groups: [auditors] }
                acl: { read_only: true }
              - name: legal-hold
                unless: { groups: [legal] }
                acl:
                  mailboxes:
                    - { pattern: "Legal Hold", action: hide }
                    - { pattern: "Legal Hold/*", action: hide }
                    - { pattern: "Ärger", action: hide }
                    - { pattern: "Board", action: deny }
              - name: far-away
                match: { users: [far] }
                acl: { allowed_addresses: [10.0.0.0/8] }
              - name: slow
                match: { users: [rate] }
                acl: { rate_limit: { commands_per_second: 5, max_delay: 1s } }
              - name: strip
                match: { groups: [stripped] }
                capabilities: { remove: [MOVE, "THREAD=*", CONDSTORE, QRESYNC], add: [X-POSTERN, STARTTLS, AUTH=PLAIN] }
              - name: greeting
                match: { listeners: [imap] }
                capabilities: { remove: [AUTH=LOGIN] }
            """;

    private static DovecotFixture dovecot;
    private static PosternHarness postern;

    @BeforeAll
    static void start() throws Exception {
        DovecotFixture.assumeAvailable();
        dovecot = DovecotFixture.builder().name("policy").start();
        for (String user : List.of("auditor", "alice", "erin", "far", "rate", "capuser")) {
            dovecot.addUser(user, PASSWORD);
            dovecot.seedMessage(user, "INBOX", message("Hello " + user));
            dovecot.seedMessage(user, "INBOX", message("Second for " + user));
            dovecot.seedMessage(user, "Legal Hold", message("Held for " + user));
            dovecot.seedMessage(user, "Legal Hold/2025", message("Held 2025"));
            dovecot.seedMessage(user, "Board", message("Board minutes"));
            dovecot.seedMessage(user, "Archive", message("Archived"));
        }
        for (String user : List.of("alice", "erin")) {
            try (RawImapClient c = login(direct(), user)) {
                assertThat(exchange(c, "c1", "CREATE \"&AMQ-rger\"")).last().asString().startsWith("c1 OK");
                assertThat(exchange(c, "c2", "SUBSCRIBE \"Legal Hold\"")).last().asString().startsWith("c2 OK");
            }
        }
        postern = PosternHarness.inFrontOf(dovecot.host(), dovecot.port(), POLICIES);
    }

    @AfterAll
    static void stop() throws Exception {
        if (postern != null) {
            postern.close();
        }
        if (dovecot != null) {
            dovecot.close();
        }
    }

    static byte[] message(String subject) {
        return ("From: a@example.com\r\nTo: b@example.com\r\nSubject: " + subject
                + "\r\nMessage-ID: <" + subject.hashCode() + "@example.com>\r\n\r\n" + subject + " body\r\n")
                .getBytes(StandardCharsets.US_ASCII);
    }

    static InetSocketAddress direct() {
        return new InetSocketAddress(dovecot.host(), dovecot.port());
    }

    static RawImapClient login(InetSocketAddress target, String user) throws Exception {
        RawImapClient c = new RawImapClient(target);
        assertThat(c.line()).startsWith("* OK");
        c.send("l0 LOGIN " + user + " " + PASSWORD + "\r\n");
        assertThat(c.tagged("l0")).startsWith("l0 OK");
        return c;
    }

    /** Sends {@code tag command} and returns every response up to the tagged one, as text. */
    static List<String> exchange(RawImapClient c, String tag, String command) throws Exception {
        c.send(tag + " " + command + "\r\n");
        return c.until(tag).stream().map(String::stripTrailing).toList();
    }

    static Store angus(String user, InetSocketAddress target) throws Exception {
        Properties props = new Properties();
        props.put("mail.imap.host", target.getHostString());
        props.put("mail.imap.port", String.valueOf(target.getPort()));
        props.put("mail.imap.connectiontimeout", "5000");
        props.put("mail.imap.timeout", "20000");
        Store store = Session.getInstance(props).getStore("imap");
        store.connect(user, PASSWORD);
        return store;
    }

    /** Every mailbox of a user on Dovecot directly: name, then each message's UID, flags and size. */
    static String backendState(String user) throws Exception {
        TreeMap<String, String> state = new TreeMap<>();
        try (RawImapClient c = login(direct(), user)) {
            List<String> names = new ArrayList<>();
            for (String r : exchange(c, "s1", "LIST \"\" \"*\"")) {
                if (r.startsWith("* LIST")) {
                    names.add(r.substring(r.indexOf("\"/\" ") + 4));
                }
            }
            names.add("subscriptions: " + exchange(c, "s2", "LSUB \"\" \"*\"").stream().filter(l -> l.startsWith("* "))
                    .sorted().collect(Collectors.joining("|")));
            int n = 0;
            for (String name : names) {
                if (name.startsWith("subscriptions")) {
                    state.put(name, "");
                    continue;
                }
                List<String> out = new ArrayList<>(exchange(c, "e" + n, "EXAMINE " + name));
                out.addAll(exchange(c, "f" + n, "FETCH 1:* (UID FLAGS RFC822.SIZE)"));
                n++;
                // \Recent belongs to whichever session saw a message first, not to the mailbox
                state.put(name, out.stream().filter(l -> l.contains("FETCH") || l.contains("EXISTS"))
                        .map(l -> l.replace("\\Recent", "").replace("( ", "(").replace(" )", ")"))
                        .map(l -> l.replaceAll(" \\(\\d+\\.\\d+ \\+ \\d+\\.\\d+ secs\\)", ""))
                        .sorted().collect(Collectors.joining("|")));
            }
        }
        return state.toString();
    }

    // ------------------------------------------------------------ read-only

    @Test
    void aReadOnlyUserReadsEverythingAndChangesNothing() throws Exception {
        String before = backendState("auditor");
        Store store = angus("auditor", postern.address());
        try {
            Folder inbox = store.getFolder("INBOX");
            // SELECT went as EXAMINE: the client sees [READ-ONLY]
            assertThatThrownBy(() -> inbox.open(Folder.READ_WRITE)).isInstanceOf(jakarta.mail.ReadOnlyFolderException.class);
            inbox.open(Folder.READ_ONLY);
            Message[] messages = inbox.getMessages();
            assertThat(messages).hasSize(2);
            for (Message m : messages) {
                assertThat(m.getContent().toString()).contains("body"); // BODY[] read: no \Seen on a read-only mailbox
            }
            assertThatThrownBy(() -> messages[0].setFlag(Flags.Flag.DELETED, true)).isInstanceOf(MessagingException.class);
            assertThatThrownBy(() -> inbox.copyMessages(messages, store.getFolder("Archive"))).isInstanceOf(MessagingException.class);
            MimeMessage upload = new MimeMessage(Session.getInstance(new Properties()), new ByteArrayInputStream(message("Upload")));
            assertThatThrownBy(() -> store.getFolder("Archive").appendMessages(new Message[] {upload}))
                    .isInstanceOf(MessagingException.class);
            assertThat(store.getFolder("Created").create(Folder.HOLDS_MESSAGES)).isFalse();
            Folder archive = store.getFolder("Archive");
            assertThat(archive.delete(true)).isFalse();
            assertThat(store.getFolder("Board").renameTo(store.getFolder("Renamed"))).isFalse();
            inbox.close(true); // CLOSE on a read-only mailbox expunges nothing
        } finally {
            store.close();
        }
        try (RawImapClient c = login(postern.address(), "auditor")) {
            assertThat(exchange(c, "a1", "SELECT INBOX")).last().asString().startsWith("a1 OK [READ-ONLY]");
            String[] writes = {
                "STORE 1 +FLAGS (\\Seen)", "UID STORE 1 FLAGS (\\Deleted)", "EXPUNGE", "UID EXPUNGE 1", "COPY 1 Archive",
                "UID COPY 1 Archive", "MOVE 1 Archive", "UID MOVE 1 Archive", "CREATE New", "DELETE Archive",
                "RENAME Archive Other", "SUBSCRIBE Archive", "UNSUBSCRIBE INBOX", "SETACL INBOX bob lr",
                "DELETEACL INBOX bob", "SETMETADATA INBOX (/private/comment \"x\")", "APPEND Archive {3+}\r\nabc",
                "XAPPLEPUSHSERVICE aps-version 2", "X-VENDOR-WRITE INBOX", "REPLACE 1 Archive {3+}\r\nabc"
            };
            int n = 0;
            for (String w : writes) {
                String tag = "w" + n++;
                assertThat(exchange(c, tag, w)).as(w).last().asString().startsWith(tag + " NO [NOPERM]");
            }
            assertThat(exchange(c, "r1", "FETCH 1 (BODY[])")).last().asString().startsWith("r1 OK");
            assertThat(exchange(c, "r2", "STATUS \"Legal Hold\" (MESSAGES)")).last().asString().startsWith("r2 NO [NONEXISTENT]");
            assertThat(exchange(c, "r3", "NOOP")).last().asString().startsWith("r3 OK");
        }
        assertThat(backendState("auditor")).isEqualTo(before);
    }

    // ------------------------------------------------------------ hidden mailboxes

    @Test
    void aHiddenMailboxIsInvisibleThroughEveryCommand() throws Exception {
        String before = backendState("alice");
        try (RawImapClient c = login(postern.address(), "alice")) {
            List<String> visible = new ArrayList<>();
            visible.addAll(exchange(c, "h1", "LIST \"\" \"*\""));
            visible.addAll(exchange(c, "h2", "LIST \"\" \"Legal*\""));
            visible.addAll(exchange(c, "h3", "LSUB \"\" \"*\""));
            visible.addAll(exchange(c, "h4", "LIST (SUBSCRIBED) \"\" \"*\" RETURN (STATUS (MESSAGES) CHILDREN)"));
            visible.addAll(exchange(c, "h5", "LIST \"Legal Hold/\" \"%\""));
            visible.addAll(exchange(c, "h6", "LIST \"\" \"%\" RETURN (STATUS (MESSAGES UIDNEXT))"));
            visible.addAll(exchange(c, "h7", "LIST \"\" \"*rger\""));
            assertThat(visible).noneMatch(r -> r.contains("Legal") || r.contains("&AMQ-rger"));
            assertThat(visible).anyMatch(r -> r.startsWith("* LIST") && r.endsWith("Archive"));
            assertThat(visible).anyMatch(r -> r.startsWith("* STATUS Archive"));

            String[][] refused = {
                {"SELECT \"Legal Hold\"", "NO [NONEXISTENT]"},
                {"EXAMINE \"Legal Hold/2025\"", "NO [NONEXISTENT]"},
                {"SELECT \"Legal Hold/\"", "NO [NONEXISTENT]"},
                {"SELECT \"&AMQ-rger\"", "NO [NONEXISTENT]"},
                {"SELECT \"Ärger\"", "NO [NONEXISTENT]"},
                {"SELECT \"&AMQ-rg&-er\"", "NO"},
                {"STATUS \"Legal Hold\" (MESSAGES)", "NO [NONEXISTENT]"},
                {"DELETE \"Legal Hold\"", "NO [NONEXISTENT]"},
                {"RENAME \"Legal Hold\" Out", "NO [NONEXISTENT]"},
                {"RENAME Archive \"Legal Hold/Archive\"", "NO [NOPERM]"},
                {"CREATE \"Legal Hold/New\"", "NO [NOPERM]"},
                {"SUBSCRIBE \"Legal Hold\"", "NO [NONEXISTENT]"},
                {"UNSUBSCRIBE \"Legal Hold\"", "NO [NONEXISTENT]"},
                {"GETACL \"Legal Hold\"", "NO [NONEXISTENT]"},
                {"MYRIGHTS \"Legal Hold\"", "NO [NONEXISTENT]"},
                {"GETMETADATA \"Legal Hold\" /private/comment", "NO [NONEXISTENT]"},
                {"APPEND \"Legal Hold\" {3+}\r\nabc", "NO [TRYCREATE]"},
                {"SELECT Board", "NO [NOPERM]"},
                {"APPEND Archive CATENATE (URL \"/Legal%20Hold;UIDVALIDITY=1/;UID=1\")", "NO [CANNOT]"},
                {"GENURLAUTH \"imap://alice@localhost/Legal%20Hold/;uid=1;urlauth=user+alice\" INTERNAL", "NO [CANNOT]"},
                {"SELECT {10+}\r\nLegal Hold", "NO [NONEXISTENT]"},
                {"RENAME Archive {16+}\r\nLegal Hold/Other", "NO [NOPERM]"},
                {"APPEND {10+}\r\nLegal Hold (\\Seen) {3+}\r\nabc", "NO [TRYCREATE]"},
            };
            int n = 0;
            for (String[] r : refused) {
                String tag = "x" + n++;
                assertThat(exchange(c, tag, r[0])).as(r[0]).last().asString().startsWith(tag + " " + r[1]);
            }
            // a synchronizing literal: Postern says "+" itself, checks the whole name, then decides
            c.send("y1 EXAMINE {10}\r\n");
            assertThat(c.line()).startsWith("+");
            c.send("Legal Hold\r\n");
            assertThat(c.tagged("y1")).startsWith("y1 NO [NONEXISTENT]");
            c.send("y2 EXAMINE {5}\r\n");
            assertThat(c.line()).startsWith("+");
            c.send("INBOX\r\n");
            assertThat(c.tagged("y2")).startsWith("y2 OK [READ-ONLY]");
            assertThat(exchange(c, "s1", "SELECT INBOX")).last().asString().startsWith("s1 OK [READ-WRITE]");
            for (String copy : List.of("COPY 1 \"Legal Hold\"", "UID COPY 1 \"Legal Hold\"", "MOVE 1 \"Legal Hold\"",
                    "UID MOVE 1 \"Legal Hold/2025\"", "COPY 1 \"&AMQ-rger\"")) {
                String tag = "x" + n++;
                assertThat(exchange(c, tag, copy)).as(copy).last().asString().startsWith(tag + " NO [TRYCREATE]");
            }
        }
        try (RawImapClient c = login(postern.address(), "alice")) {
            // input that breaks off while a command is gathered: the answer carries that command's tag
            c.send("y3 APPEND {7}\r\n");
            assertThat(c.line()).startsWith("+");
            c.send("Archive {999999999}\r\n");
            assertThat(c.line()).startsWith("y3 BAD [TOOBIG]");
            assertThat(c.line()).startsWith("* BYE");
            assertThat(c.closedByServer()).isTrue();
        }
        Store store = angus("alice", postern.address());
        try {
            assertThat(store.getFolder("Legal Hold").exists()).isFalse();
            assertThat(Arrays.stream(store.getDefaultFolder().list("*")).map(Folder::getFullName))
                    .contains("INBOX", "Archive", "Board").doesNotContain("Legal Hold", "Legal Hold/2025", "Ärger");
        } finally {
            store.close();
        }
        assertThat(backendState("alice")).isEqualTo(before);
    }

    @Test
    void theLegalGroupSeesTheHiddenMailbox() throws Exception {
        try (RawImapClient c = login(postern.address(), "erin")) {
            // APPEND with the mailbox as a literal: gathered, checked, sent on; a small message comes along
            c.send("g1 APPEND {7}\r\n");
            assertThat(c.line()).startsWith("+");
            c.send("Archive (\\Seen) {5}\r\n");
            assertThat(c.line()).startsWith("+");
            c.send("small\r\n");
            assertThat(c.tagged("g1")).startsWith("g1 OK");
            // a large message is not gathered: its literal goes through the backend's own "+"
            byte[] large = message("x".repeat(20_000));
            c.send("g2 APPEND {7}\r\n");
            assertThat(c.line()).startsWith("+");
            c.send("Archive {" + large.length + "}\r\n");
            assertThat(c.line()).startsWith("+");
            c.send(large);
            c.send("\r\n");
            assertThat(c.tagged("g2")).startsWith("g2 OK");
            assertThat(exchange(c, "g3", "STATUS Archive (MESSAGES)")).first().asString().contains("MESSAGES 3");
            assertThat(exchange(c, "a1", "LIST \"\" \"*\"")).anyMatch(r -> r.endsWith("\"Legal Hold\""))
                    .anyMatch(r -> r.endsWith("&AMQ-rger"));
            assertThat(exchange(c, "a2", "SELECT \"Legal Hold\"")).last().asString().startsWith("a2 OK");
        }
    }

    // ------------------------------------------------------------ source rules, rates

    @Test
    void aUserOutsideTheAllowedAddressesIsRefusedAtLogin() throws Exception {
        assertThatThrownBy(() -> angus("far", postern.address())).isInstanceOf(AuthenticationFailedException.class);
        try (RawImapClient c = new RawImapClient(postern.address())) {
            c.line();
            assertThat(exchange(c, "a1", "LOGIN far " + PASSWORD)).last().asString()
                    .startsWith("a1 NO [AUTHORIZATIONFAILED]");
            assertThat(exchange(c, "a2", "SELECT INBOX")).last().asString().startsWith("a2 BAD");
            assertThat(exchange(c, "a3", "LOGIN alice " + PASSWORD)).last().asString().startsWith("a3 OK");
        }
    }

    @Test
    void rateLimitingSlowsThenRefuses() throws Exception {
        try (RawImapClient c = login(postern.address(), "rate")) {
            StringBuilder burst = new StringBuilder();
            for (int i = 0; i < 30; i++) {
                burst.append("n").append(i).append(" NOOP\r\n");
            }
            long start = System.nanoTime();
            c.send(burst.toString());
            // Postern's refusals may overtake the backend's answer to an earlier NOOP: collect by tag
            java.util.Map<String, String> byTag = new java.util.HashMap<>();
            while (byTag.size() < 30) {
                String r = new String(c.response(), StandardCharsets.US_ASCII).stripTrailing();
                if (r.startsWith("n")) {
                    byTag.put(r.substring(0, r.indexOf(' ')), r);
                }
            }
            List<String> answers = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                answers.add(byTag.get("n" + i));
            }
            long elapsedMillis = (System.nanoTime() - start) / 1_000_000;
            assertThat(answers.subList(0, 6)).allMatch(a -> a.contains(" OK"));
            assertThat(answers).anyMatch(a -> a.contains(" NO [LIMIT]"));
            assertThat(answers.get(29)).contains(" NO [LIMIT]");
            // the 6th to 10th waited 0.2 + 0.4 + 0.6 + 0.8 + 1.0 s before the first refusal
            assertThat(elapsedMillis).isGreaterThanOrEqualTo(2000);
            Thread.sleep(3000);
            assertThat(exchange(c, "later", "NOOP")).last().asString().startsWith("later OK");
        }
    }

    // ------------------------------------------------------------ capabilities

    @Test
    void capabilityRewritingOnGreetingCapabilityAndLoginAndEnforcement() throws Exception {
        try (RawImapClient c = new RawImapClient(postern.address())) {
            String greeting = c.line();
            assertThat(greeting).contains("AUTH=PLAIN").doesNotContain("AUTH=LOGIN");
            assertThat(exchange(c, "p1", "CAPABILITY").get(0)).contains("AUTH=PLAIN").doesNotContain("AUTH=LOGIN");
            List<String> login = exchange(c, "l1", "LOGIN capuser " + PASSWORD);
            String loginCaps = login.get(login.size() - 1);
            assertThat(loginCaps).startsWith("l1 OK [CAPABILITY").contains("X-POSTERN", "IDLE", "UIDPLUS")
                    .doesNotContain(" MOVE", "THREAD=", "CONDSTORE", "QRESYNC", "STARTTLS", "AUTH=");
            String caps = exchange(c, "c1", "CAPABILITY").get(0);
            assertThat(caps).startsWith("* CAPABILITY").contains("X-POSTERN")
                    .doesNotContain(" MOVE", "THREAD=", "CONDSTORE", "STARTTLS", "AUTH=");
            assertThat(exchange(c, "e1", "ENABLE CONDSTORE")).containsExactly("* ENABLED", "e1 OK ENABLE completed.");
            assertThat(exchange(c, "s1", "SELECT INBOX")).last().asString().startsWith("s1 OK");
            assertThat(exchange(c, "m1", "MOVE 1 Archive")).last().asString().startsWith("m1 BAD");
            assertThat(exchange(c, "m2", "UID MOVE 1 Archive")).last().asString().startsWith("m2 BAD");
            assertThat(exchange(c, "t1", "THREAD REFERENCES UTF-8 ALL")).last().asString().startsWith("t1 BAD");
            assertThat(exchange(c, "f1", "FETCH 1 (FLAGS)")).noneMatch(r -> r.contains("MODSEQ"));
            // a removed extension's arguments to base commands are refused like its commands
            assertThat(exchange(c, "f2", "FETCH 1:* (FLAGS) (CHANGEDSINCE 1)")).containsExactly(
                    "f2 BAD FETCH uses CONDSTORE syntax, and the CONDSTORE extension is disabled here.");
            assertThat(exchange(c, "f3", "FETCH 1 (MODSEQ)")).last().asString().startsWith("f3 BAD");
            assertThat(exchange(c, "u1", "UID STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Flagged)")).last().asString()
                    .startsWith("u1 BAD");
            assertThat(exchange(c, "st1", "STATUS INBOX (MESSAGES HIGHESTMODSEQ)")).last().asString().startsWith("st1 BAD");
            assertThat(exchange(c, "f4", "FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (MODSEQ)])")).last().asString()
                    .as("a header field called MODSEQ is no CONDSTORE").startsWith("f4 OK");
        }
        // others keep what the backend offers (less AUTH=LOGIN before login, which is everyone's)
        try (RawImapClient c = login(postern.address(), "alice")) {
            assertThat(exchange(c, "c1", "CAPABILITY").get(0)).contains(" MOVE", "THREAD=REFERENCES", "CONDSTORE");
        }
        assertThat(backendState("capuser")).contains("Archive=* 1 EXISTS");
        assertThat(backendState("capuser")).as("the refused UID STORE never reached the backend").doesNotContain("\\Flagged");
    }
}
