package io.postern.proxy.demo;

import com.icegreen.greenmail.user.GreenMailUser;
import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;
import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.server.PosternServer;
import io.postern.tls.SelfSignedCertificates;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeBodyPart;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.Date;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code postern.jar demo}: an embedded GreenMail IMAP server with a demo user and a small
 * mailbox, and Postern in front of it, both on loopback.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, description = "Runs Postern in front of an embedded IMAP server with a demo mailbox.")
public final class Demo implements Callable<Integer> {

    public static final String USER = "demo";
    public static final String PASSWORD = "demo";

    @Option(names = "--port", defaultValue = "1143", description = "Postern's IMAP port (STARTTLS offered) on 127.0.0.1 (default: ${DEFAULT-VALUE}; 0 picks a free one)")
    int port;

    @Option(names = "--tls-port", defaultValue = "1993", description = "Postern's IMAPS port (implicit TLS) on 127.0.0.1 (default: ${DEFAULT-VALUE}; 0 picks a free one)")
    int tlsPort;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        int backendPort = freePort();
        GreenMail greenMail = new GreenMail(new ServerSetup(backendPort, "127.0.0.1", ServerSetup.PROTOCOL_IMAP));
        greenMail.start();
        PosternServer server = null;
        Path certDir = Files.createTempDirectory("postern-demo-");
        try {
            seed(greenMail.setUser("demo@postern.test", USER, PASSWORD));
            SelfSignedCertificates.Generated pair =
                    SelfSignedCertificates.generate("localhost", List.of("localhost", "127.0.0.1"), certDir, Duration.ofDays(30));
            PosternConfig config = PosternConfig.parse("""
                    listeners:
                      - name: imap
                        bind: 127.0.0.1:%d
                        tls: starttls
                      - name: imaps
                        bind: 127.0.0.1:%d
                        tls: implicit
                    tls:
                      certificates:
                        - cert: "%s"
                          key: "%s"
                    backends:
                      - name: greenmail
                        address: 127.0.0.1:%d
                        tls: none
                    routing:
                      strategy: static
                      default: greenmail
                    """.formatted(port, tlsPort, pair.cert(), pair.key(), backendPort));
            server = PosternServer.start(config);
            printHowTo(spec.commandLine().getOut(), server.address("imap"), server.address("imaps"), backendPort);
            PosternServer running = server;
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                running.close();
                greenMail.stop();
                deleteQuietly(certDir);
                stopped.countDown();
            }, "postern-demo-shutdown"));
            stopped.await();
            return 0;
        } catch (Exception e) {
            if (server != null) {
                server.close();
            }
            greenMail.stop();
            deleteQuietly(certDir);
            throw e;
        }
    }

    /** Removes the demo's self-signed pair; what cannot be removed stays in the temp dir. */
    private static void deleteQuietly(Path dir) {
        try (var files = Files.walk(dir)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (java.io.IOException e) {
            System.err.println("postern demo: could not remove " + dir + ": " + e.getMessage());
        }
    }

    private static void printHowTo(PrintWriter out, InetSocketAddress imap, InetSocketAddress imaps, int backendPort) {
        String url = "imap://127.0.0.1:" + imap.getPort();
        String tlsUrl = "imaps://127.0.0.1:" + imaps.getPort();
        String login = " --user " + USER + ":" + PASSWORD;
        out.println();
        out.println("Postern demo is running.");
        out.println("  Postern : 127.0.0.1:" + imap.getPort() + " (IMAP, STARTTLS offered), 127.0.0.1:"
                + imaps.getPort() + " (IMAPS), self-signed certificate for localhost");
        out.println("  backend : GreenMail IMAP on 127.0.0.1:" + backendPort + " (embedded, no TLS)");
        out.println("  login   : user " + USER + ", password " + PASSWORD);
        out.println();
        out.println("List the folders, then read the first message, through Postern:");
        out.println("  curl --url '" + url + "/'" + login);
        out.println("  curl --url '" + url + "/INBOX;UID=1'" + login);
        out.println("The same over TLS (--insecure: the demo certificate is self-signed):");
        out.println("  curl --insecure --url '" + tlsUrl + "/INBOX;UID=1'" + login);
        out.println("  curl --insecure --ssl-reqd --url '" + url + "/INBOX;UID=1'" + login + "   (STARTTLS)");
        out.println();
        out.println("Stop with Ctrl-C.");
        out.flush();
    }

    /** A small mailbox: a few plain messages and one with an attachment. */
    static void seed(GreenMailUser user) throws MessagingException {
        Session session = Session.getInstance(new Properties());
        String[][] texts = {
            {"Welcome to Postern", "This message reached you through Postern, an IMAP proxy.\r\n"},
            {"Quarterly numbers", "Revenue is up. Details on Monday.\r\n"},
            {"Lunch?", "Are you free at noon on Thursday?\r\n"},
        };
        for (String[] t : texts) {
            MimeMessage m = message(session, t[0]);
            m.setText(t[1], "utf-8");
            m.saveChanges();
            user.deliver(m);
        }
        MimeMessage withAttachment = message(session, "Report with attachment");
        MimeBodyPart text = new MimeBodyPart();
        text.setText("The report is attached.\r\n", "utf-8");
        MimeBodyPart file = new MimeBodyPart();
        file.setContent("id,amount\r\n1,100\r\n2,250\r\n", "text/csv");
        file.setFileName("report.csv");
        withAttachment.setContent(new MimeMultipart(text, file));
        withAttachment.saveChanges();
        user.deliver(withAttachment);
    }

    private static MimeMessage message(Session session, String subject) throws MessagingException {
        MimeMessage m = new MimeMessage(session);
        m.setFrom(new InternetAddress("alice@postern.test", false));
        m.setRecipient(Message.RecipientType.TO, new InternetAddress("demo@postern.test", false));
        m.setSubject(subject, "utf-8");
        m.setSentDate(new Date());
        return m;
    }

    private static int freePort() throws java.io.IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
