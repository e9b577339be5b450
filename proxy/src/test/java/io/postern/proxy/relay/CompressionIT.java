package io.postern.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.server.PosternServer;
import io.postern.proxy.testing.DovecotFixture;
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
import java.util.List;
import java.util.Properties;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * COMPRESS=DEFLATE (RFC 4978) offered by Postern on the client leg, in front of a Dovecot that is
 * not asked to compress: a real client (Angus Mail) and a raw client with the JDK's deflate.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CompressionIT {

    private static final String PASSWORD = "zip-pw";

    private DovecotFixture dovecot;
    private PosternHarness postern;
    private PosternServer plainOnly;
    private byte[] seeded;

    @BeforeAll
    void start() throws Exception {
        DovecotFixture.assumeAvailable();
        dovecot = DovecotFixture.builder().name("compress").user("zoe", PASSWORD).user("zed", PASSWORD)
                .user("zack", PASSWORD).start();
        seeded = message("seeded", 300_000);
        dovecot.seedMessage("zoe", "INBOX", seeded);
        postern = PosternHarness.inFrontOf(dovecot.host(), dovecot.port());
        plainOnly = PosternServer.start(PosternConfig.parse("""
                listeners:
                  - {name: imap, bind: "127.0.0.1:0", tls: none, compress: false}
                backends:
                  - {name: backend, address: "%s:%d", tls: none}
                routing: {strategy: static, default: backend}
                """.formatted(dovecot.host(), dovecot.port())));
    }

    @AfterAll
    void stop() throws Exception {
        if (postern != null) {
            postern.close();
        }
        if (plainOnly != null) {
            plainOnly.close();
        }
        if (dovecot != null) {
            dovecot.stop();
        }
    }

    /** Text of a realistic kind (words, not noise), deterministic, about {@code size} bytes. */
    private static byte[] message(String subject, int size) {
        String[] words = {"the", "mailbox", "proxy", "shard", "quarterly", "report", "attached", "please", "review",
            "meeting", "tomorrow", "budget", "draft", "final", "version", "thanks", "regards"};
        Random r = new Random(subject.hashCode());
        StringBuilder b = new StringBuilder("From: a@example.test\r\nTo: b@example.test\r\nSubject: " + subject
                + "\r\nMessage-ID: <" + subject + "@example.test>\r\n\r\n");
        int col = 0;
        while (b.length() < size) {
            String w = words[r.nextInt(words.length)];
            b.append(w);
            col += w.length() + 1;
            if (col > 70) {
                b.append("\r\n");
                col = 0;
            } else {
                b.append(' ');
            }
        }
        b.append("\r\n");
        return b.toString().getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void angusMailCompressesThroughPosternAndEveryByteArrives() throws Exception {
        try (RecordingRelay wire = new RecordingRelay(new InetSocketAddress(postern.host(), postern.port()))) {
            Properties p = new Properties();
            p.setProperty("mail.imap.host", "127.0.0.1");
            p.setProperty("mail.imap.port", Integer.toString(wire.port()));
            p.setProperty("mail.imap.compress.enable", "true");
            p.setProperty("mail.imap.connectiontimeout", "5000");
            p.setProperty("mail.imap.timeout", "15000");
            Store store = Session.getInstance(p).getStore("imap");
            store.connect("zoe", PASSWORD);
            try {
                Folder inbox = store.getFolder("INBOX");
                inbox.open(Folder.READ_WRITE);
                ByteArrayOutputStream got = new ByteArrayOutputStream();
                inbox.getMessage(1).writeTo(got);
                assertThat(got.toByteArray()).isEqualTo(seeded);

                byte[] upload = message("uploaded", 120_000);
                inbox.appendMessages(new Message[] {new MimeMessage(Session.getInstance(p), new ByteArrayInputStream(upload))});
                inbox.close(false);
                inbox.open(Folder.READ_ONLY);
                assertThat(inbox.getMessageCount()).isEqualTo(2);
                inbox.close(false);
            } finally {
                store.close();
            }
            String sent = wire.sentToBackend();
            assertThat(sent).contains("COMPRESS DEFLATE");
            // after COMPRESS the client's commands and the uploaded text are on the wire only compressed
            assertThat(sent).doesNotContain("SELECT").doesNotContain("APPEND").doesNotContain("quarterly");
            assertThat(sent.length()).isLessThan(120_000 / 2);
        }
        // the backend got the upload intact: read directly, uncompressed
        try (RawImapClient direct = new RawImapClient(new InetSocketAddress(dovecot.host(), dovecot.port()))) {
            direct.line();
            direct.send("d1 LOGIN zoe " + PASSWORD + "\r\nd2 EXAMINE INBOX\r\nd3 FETCH 2 BODY.PEEK[HEADER.FIELDS (SUBJECT)]\r\n");
            assertThat(direct.tagged("d1")).startsWith("d1 OK");
            assertThat(direct.tagged("d2")).startsWith("d2 OK");
            assertThat(String.join("", direct.until("d3"))).contains("Subject: uploaded");
        }
    }

    @Test
    void aRawClientPipelinesALargeAppendAndFetchesItBackCompressed() throws Exception {
        byte[] big = message("big", 4_000_000);
        try (RawImapClient c = new RawImapClient(new InetSocketAddress(postern.host(), postern.port()))) {
            c.line();
            c.send("a1 LOGIN zed " + PASSWORD + "\r\n");
            String loginOk = c.tagged("a1");
            assertThat(loginOk).startsWith("a1 OK").contains("COMPRESS=DEFLATE");
            c.send("a2 COMPRESS DEFLATE\r\n");
            assertThat(c.tagged("a2")).isEqualTo("a2 OK DEFLATE active.");
            c.compress();

            c.send("a3 COMPRESS DEFLATE\r\na4 CAPABILITY\r\n");
            assertThat(c.tagged("a3")).startsWith("a3 NO [COMPRESSIONACTIVE]");
            List<String> caps = c.until("a4");
            assertThat(caps.get(0)).startsWith("* CAPABILITY").doesNotContain("COMPRESS");

            ByteArrayOutputStream append = new ByteArrayOutputStream();
            append.writeBytes(("a5 APPEND INBOX {" + big.length + "+}\r\n").getBytes(StandardCharsets.US_ASCII));
            append.writeBytes(big);
            append.writeBytes("\r\na6 SELECT INBOX\r\na7 FETCH 1 BODY.PEEK[]\r\n".getBytes(StandardCharsets.US_ASCII));
            c.send(append.toByteArray());
            assertThat(c.tagged("a5")).startsWith("a5 OK");
            assertThat(c.tagged("a6")).startsWith("a6 OK");
            long before = c.compressedBytesRead();
            List<String> fetch = c.until("a7");
            assertThat(fetch.get(fetch.size() - 1)).startsWith("a7 OK");
            byte[] fetched = fetch.get(0).getBytes(StandardCharsets.ISO_8859_1);
            String head = "* 1 FETCH (BODY[] {" + big.length + "}\r\n";
            assertThat(new String(fetched, 0, head.length(), StandardCharsets.ISO_8859_1)).isEqualTo(head);
            assertThat(java.util.Arrays.copyOfRange(fetched, head.length(), head.length() + big.length)).isEqualTo(big);
            // text of this kind deflates to well under half
            assertThat(c.compressedBytesRead() - before).isLessThan(big.length / 2);
            c.send("a8 LOGOUT\r\n");
            assertThat(c.tagged("a8")).startsWith("a8 OK");
        }
        // byte-identical on the backend, read without compression
        try (RawImapClient direct = new RawImapClient(new InetSocketAddress(dovecot.host(), dovecot.port()))) {
            direct.line();
            direct.send("d1 LOGIN zed " + PASSWORD + "\r\nd2 EXAMINE INBOX\r\nd3 FETCH 1 BODY.PEEK[]\r\n");
            direct.tagged("d2");
            byte[] stored = direct.until("d3").get(0).getBytes(StandardCharsets.ISO_8859_1);
            String head = "* 1 FETCH (BODY[] {" + big.length + "}\r\n";
            assertThat(java.util.Arrays.copyOfRange(stored, head.length(), head.length() + big.length)).isEqualTo(big);
        }
    }

    @Test
    void wrongUsesGetClearAnswersAndTheSessionGoesOnUncompressed() throws Exception {
        try (RawImapClient c = new RawImapClient(new InetSocketAddress(postern.host(), postern.port()))) {
            c.line();
            c.send("b1 COMPRESS DEFLATE\r\n");
            assertThat(c.tagged("b1")).matches("b1 (BAD|NO) .*");
            c.send("b2 LOGIN zack " + PASSWORD + "\r\nb3 COMPRESS GZIP\r\nb4 COMPRESS\r\nb5 NOOP\r\n");
            assertThat(c.tagged("b2")).startsWith("b2 OK");
            assertThat(c.tagged("b3")).startsWith("b3 BAD");
            assertThat(c.tagged("b4")).startsWith("b4 BAD");
            assertThat(c.tagged("b5")).startsWith("b5 OK");
        }
    }

    @Test
    void malformedCompressedInputEndsTheSessionWithAByeTheClientCanRead() throws Exception {
        try (RawImapClient c = new RawImapClient(new InetSocketAddress(postern.host(), postern.port()))) {
            c.line();
            c.send("c1 LOGIN zack " + PASSWORD + "\r\nc2 COMPRESS DEFLATE\r\n");
            assertThat(c.tagged("c1")).startsWith("c1 OK");
            assertThat(c.tagged("c2")).startsWith("c2 OK");
            java.io.OutputStream raw = c.socket().getOutputStream();
            c.compress();
            raw.write(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x13, 0x37});
            raw.flush();
            assertThat(c.line()).isEqualTo("* BYE Malformed compressed data.");
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void aBackendThatOffersCompressionIsAskedForItWhenConfigured() throws Exception {
        byte[] mail = message("backend-leg", 1_500_000);
        dovecot.seedMessage("zack", "INBOX", mail);
        try (RecordingRelay backendLeg = new RecordingRelay(new InetSocketAddress(dovecot.host(), dovecot.port()));
                PosternServer p = PosternServer.start(PosternConfig.parse("""
                        listeners:
                          - {name: imap, bind: "127.0.0.1:0", tls: none}
                        backends:
                          - {name: backend, address: "127.0.0.1:%d", tls: none, compress: true}
                        routing: {strategy: static, default: backend}
                        """.formatted(backendLeg.port())));
                RawImapClient c = new RawImapClient(p.address("imap"))) {
            c.line();
            // the client leg compressed as well: two independent deflate streams, parsed in between
            c.send("g1 LOGIN zack " + PASSWORD + "\r\ng2 COMPRESS DEFLATE\r\n");
            assertThat(c.tagged("g1")).startsWith("g1 OK");
            assertThat(c.tagged("g2")).startsWith("g2 OK");
            c.compress();
            c.send("g3 EXAMINE INBOX\r\ng4 SEARCH SUBJECT backend-leg\r\n");
            assertThat(c.tagged("g3")).startsWith("g3 OK");
            List<String> search = c.until("g4");
            String seq = search.get(0).trim().replace("* SEARCH ", "");
            c.send("g5 FETCH " + seq + " BODY.PEEK[]\r\ng6 LOGOUT\r\n");
            byte[] fetched = c.until("g5").get(0).getBytes(StandardCharsets.ISO_8859_1);
            String head = "* " + seq + " FETCH (BODY[] {" + mail.length + "}\r\n";
            assertThat(new String(fetched, 0, head.length(), StandardCharsets.ISO_8859_1)).isEqualTo(head);
            assertThat(java.util.Arrays.copyOfRange(fetched, head.length(), head.length() + mail.length)).isEqualTo(mail);
            assertThat(c.tagged("g6")).startsWith("g6 OK");
            String toBackend = backendLeg.sentToBackend();
            assertThat(toBackend).contains(" COMPRESS DEFLATE\r\n");
            // what the client sent after login reached Dovecot only compressed
            assertThat(toBackend).doesNotContain("EXAMINE").doesNotContain("SEARCH").doesNotContain("LOGOUT");
        }
    }

    @Test
    void aListenerWithCompressionOffDoesNotOfferIt() throws Exception {
        try (RawImapClient c = new RawImapClient(plainOnly.address("imap"))) {
            c.line();
            c.send("e1 LOGIN zack " + PASSWORD + "\r\ne2 COMPRESS DEFLATE\r\ne3 NOOP\r\n");
            assertThat(c.tagged("e1")).startsWith("e1 OK").doesNotContain("COMPRESS");
            assertThat(c.tagged("e2")).startsWith("e2 BAD");
            assertThat(c.tagged("e3")).startsWith("e3 OK");
        }
    }
}
