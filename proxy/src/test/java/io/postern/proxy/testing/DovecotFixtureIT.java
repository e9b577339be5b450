package io.postern.proxy.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jakarta.mail.AuthenticationFailedException;
import jakarta.mail.Folder;
import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.Store;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ConnectException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import org.eclipse.angus.mail.imap.IMAPFolder;
import org.eclipse.angus.mail.imap.IMAPMessage;
import org.eclipse.angus.mail.imap.IMAPStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The Dovecot fixture itself, checked with a real client (Angus Mail) talking to Dovecot directly. */
class DovecotFixtureIT {

    private static final String USER = "alice";
    private static final String PASSWORD = "alice-secret";
    private static final String ARCHIVE = "Archive/2024";

    private static final List<byte[]> INBOX_MESSAGES = List.of(
            message("hello", "Hello, Alice.\r\n".getBytes(StandardCharsets.US_ASCII)),
            message("eight-bit, long lines", eightBitBody(30, 10_000)),
            message("=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=", "Gr\u00fc\u00dfe aus Z\u00fcrich.\r\n"
                    .getBytes(StandardCharsets.UTF_8)));
    private static final byte[] ARCHIVED_MESSAGE =
            message("archived", "Old news.\r\n".getBytes(StandardCharsets.US_ASCII));

    private static DovecotFixture dovecot;

    @BeforeAll
    static void startDovecot() throws IOException {
        dovecot = DovecotFixture.builder().name("fixture-it").user(USER, PASSWORD).start();
        for (byte[] message : INBOX_MESSAGES) {
            dovecot.seedMessage(USER, "INBOX", message);
        }
        dovecot.seedMessage(USER, ARCHIVE, ARCHIVED_MESSAGE);
    }

    @AfterAll
    static void stopDovecot() throws IOException {
        if (dovecot != null) {
            dovecot.close();
        }
    }

    @Test
    void seededMessagesArriveByteIdenticalInSeedOrder() throws Exception {
        try (Store store = connect(USER, PASSWORD)) {
            IMAPFolder inbox = (IMAPFolder) store.getFolder("INBOX");
            inbox.open(Folder.READ_ONLY);
            Message[] messages = inbox.getMessages();
            assertThat(messages).hasSize(INBOX_MESSAGES.size());
            for (int i = 0; i < messages.length; i++) {
                assertThat(inbox.getUID(messages[i])).as("UID of message %d", i + 1).isEqualTo(i + 1);
                assertSameBytes(rawBytes(messages[i]), INBOX_MESSAGES.get(i), "INBOX message " + (i + 1));
            }
        }
        assertThat(Files.readString(dovecot.logPath(), StandardCharsets.ISO_8859_1))
                .contains("Login: user=<" + USER + ">");
    }

    @Test
    void seededFolderIsListedAndHoldsItsMessage() throws Exception {
        try (Store store = connect(USER, PASSWORD)) {
            List<String> names = new ArrayList<>();
            for (Folder folder : store.getDefaultFolder().list("*")) {
                names.add(folder.getFullName());
            }
            assertThat(names).contains("INBOX", ARCHIVE);
            Folder archive = store.getFolder(ARCHIVE);
            archive.open(Folder.READ_ONLY);
            assertThat(archive.getMessageCount()).isEqualTo(1);
            assertSameBytes(rawBytes(archive.getMessage(1)), ARCHIVED_MESSAGE, ARCHIVE + " message 1");
        }
    }

    @Test
    void serverIdNamesTheInstance() throws Exception {
        try (Store store = connect(USER, PASSWORD)) {
            Map<String, String> id = ((IMAPStore) store).id(null);
            assertThat(id).containsEntry("x-backend", dovecot.name());
        }
    }

    @Test
    void usersAndMessagesAddedAfterStartAreSeen() throws Exception {
        dovecot.addUser("bob", "bob-secret");
        try (Store store = connect("bob", "bob-secret")) {
            Folder inbox = store.getFolder("INBOX");
            inbox.open(Folder.READ_ONLY);
            assertThat(inbox.getMessageCount()).isZero();
        }
        byte[] late = message("late", "Delivered after the first login.\r\n".getBytes(StandardCharsets.US_ASCII));
        dovecot.seedMessage("bob", "INBOX", late);
        try (Store store = connect("bob", "bob-secret")) {
            Folder inbox = store.getFolder("INBOX");
            inbox.open(Folder.READ_ONLY);
            assertThat(inbox.getMessageCount()).isEqualTo(1);
            assertSameBytes(rawBytes(inbox.getMessage(1)), late, "bob's INBOX message 1");
        }
    }

    @Test
    void wrongPasswordFails() {
        assertThatThrownBy(() -> connect(USER, "not-" + PASSWORD).close())
                .isInstanceOf(AuthenticationFailedException.class);
    }

    @Test
    void badSeedingArgumentsAreRejected() {
        byte[] message = message("x", "x\r\n".getBytes(StandardCharsets.US_ASCII));
        assertThatThrownBy(() -> dovecot.seedMessage("nobody", "INBOX", message))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unknown user nobody");
        assertThatThrownBy(() -> dovecot.seedMessage(USER, "Dotted.Name", message))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("folder: Dotted.Name");
        assertThatThrownBy(() -> dovecot.addUser(USER, "again"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("exists already");
    }

    @Test
    void stopEndsDovecotAndDeletesItsDirectory() throws Exception {
        DovecotFixture other = DovecotFixture.builder().name("fixture-it-stop").start();
        try {
            Path directory = other.directory();
            int port = other.port();
            assertThat(other.isRunning()).isTrue();
            other.stop();
            assertThat(other.isRunning()).isFalse();
            assertThat(directory).doesNotExist();
            assertThatThrownBy(() -> new Socket(other.host(), port).close()).isInstanceOf(ConnectException.class);
        } finally {
            other.close();
        }
    }

    private static Store connect(String user, String password) throws MessagingException {
        Properties properties = new Properties();
        properties.put("mail.imap.connectiontimeout", "5000");
        properties.put("mail.imap.timeout", "10000");
        Store store = Session.getInstance(properties).getStore("imap");
        store.connect(dovecot.host(), dovecot.port(), user, password);
        return store;
    }

    /** The message as FETCH BODY.PEEK[] returns it. */
    private static byte[] rawBytes(Message message) throws IOException, MessagingException {
        IMAPMessage imapMessage = (IMAPMessage) message;
        imapMessage.setPeek(true);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        imapMessage.writeTo(out);
        return out.toByteArray();
    }

    private static void assertSameBytes(byte[] actual, byte[] expected, String what) {
        int mismatch = Arrays.mismatch(actual, expected);
        assertThat(mismatch)
                .as("%s: first differing byte (-1: none) of %d fetched and %d seeded bytes",
                        what, actual.length, expected.length)
                .isEqualTo(-1);
    }

    private static byte[] message(String subject, byte[] body) {
        String header = "From: Postern Test <test@postern.invalid>\r\n"
                + "To: " + USER + "@postern.invalid\r\n"
                + "Subject: " + subject + "\r\n"
                + "Date: Sat, 22 Nov 2026 10:00:00 +0000\r\n"
                + "Message-ID: <" + Integer.toHexString(subject.hashCode()) + "@postern.invalid>\r\n"
                + "MIME-Version: 1.0\r\n"
                + "Content-Type: text/plain; charset=UTF-8\r\n"
                + "Content-Transfer-Encoding: 8bit\r\n"
                + "\r\n";
        byte[] head = header.getBytes(StandardCharsets.US_ASCII);
        byte[] message = Arrays.copyOf(head, head.length + body.length);
        System.arraycopy(body, 0, message, head.length, body.length);
        return message;
    }

    /** Lines of every byte value but NUL, CR and LF, each line ending in CRLF. */
    private static byte[] eightBitBody(int lines, int lineLength) {
        Random random = new Random(42);
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (int line = 0; line < lines; line++) {
            for (int i = 0; i < lineLength; i++) {
                int b;
                do {
                    b = random.nextInt(256);
                } while (b == 0 || b == '\r' || b == '\n');
                body.write(b);
            }
            body.write('\r');
            body.write('\n');
        }
        return body.toByteArray();
    }
}
