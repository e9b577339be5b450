package io.postern.proxy.demo;

import com.icegreen.greenmail.user.GreenMailUser;
import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;
import io.postern.proxy.config.PosternConfig;
import io.postern.proxy.server.PosternServer;
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
@Command(name = "demo", description = "Runs Postern in front of an embedded IMAP server with a demo mailbox.")
public final class Demo implements Callable<Integer> {

    public static final String USER = "demo";
    public static final String PASSWORD = "demo";

    @Option(names = "--port", defaultValue = "1143", description = "Postern's port on 127.0.0.1 (default: ${DEFAULT-VALUE}; 0 picks a free one)")
    int port;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        int backendPort = freePort();
        GreenMail greenMail = new GreenMail(new ServerSetup(backendPort, "127.0.0.1", ServerSetup.PROTOCOL_IMAP));
        greenMail.start();
        PosternServer server = null;
        try {
            seed(greenMail.setUser("demo@postern.test", USER, PASSWORD));
            PosternConfig config = PosternConfig.parse("""
                    listeners:
                      - name: imap
                        bind: 127.0.0.1:%d
                        tls: none
                    backends:
                      - name: greenmail
                        address: 127.0.0.1:%d
                        tls: none
                    routing:
                      strategy: static
                      default: greenmail
                    """.formatted(port, backendPort));
            server = PosternServer.start(config);
            InetSocketAddress bound = server.address("imap");
            printHowTo(spec.commandLine().getOut(), bound, backendPort);
            PosternServer running = server;
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                running.close();
                greenMail.stop();
                stopped.countDown();
            }, "postern-demo-shutdown"));
            stopped.await();
            return 0;
        } catch (Exception e) {
            if (server != null) {
                server.close();
            }
            greenMail.stop();
            throw e;
        }
    }

    private static void printHowTo(PrintWriter out, InetSocketAddress postern, int backendPort) {
        String url = "imap://127.0.0.1:" + postern.getPort();
        out.println();
        out.println("Postern demo is running.");
        out.println("  Postern : 127.0.0.1:" + postern.getPort() + " (plain IMAP)");
        out.println("  backend : GreenMail IMAP on 127.0.0.1:" + backendPort + " (embedded)");
        out.println("  login   : user " + USER + ", password " + PASSWORD);
        out.println();
        out.println("List the folders, then read the first message, through Postern:");
        out.println("  curl --url '" + url + "/' --user " + USER + ":" + PASSWORD);
        out.println("  curl --url '" + url + "/INBOX;UID=1' --user " + USER + ":" + PASSWORD);
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
