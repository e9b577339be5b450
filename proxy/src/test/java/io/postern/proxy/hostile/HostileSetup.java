package io.postern.proxy.hostile;

import io.postern.proxy.relay.PosternHarness;
import io.postern.proxy.server.PosternServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Starting a Postern for the hostile-client tests, and looking at a backend directly. */
final class HostileSetup {

    private static final Pattern LIST_NAME = Pattern.compile("^\\* LIST \\([^)]*\\) (?:NIL|\"[^\"]*\") \"?(.*?)\"?$");

    private HostileSetup() {}

    static PosternServer postern(String backendHost, int backendPort, String extraYaml) throws Exception {
        return PosternServer.start(PosternHarness.config(backendHost, backendPort, extraYaml));
    }

    /** Logs in through {@code postern} until a login succeeds (at most five tries). */
    static void warmUp(PosternServer postern, String user, String password) throws IOException {
        String answer = null;
        for (int i = 0; i < 5; i++) {
            try (HostileSocket s = HostileSocket.greeted(postern.address("imap"))) {
                s.send("u1 LOGIN " + user + " " + password + "\r\n");
                answer = s.tagged("u1");
                if (answer.startsWith("u1 OK")) {
                    return;
                }
            } catch (IOException e) {
                answer = e.toString();
            }
        }
        throw new IOException("no login through Postern: " + answer);
    }

    /** The user's folders, asked of the backend directly (not through Postern). */
    static List<String> folders(String host, int port, String user, String password) throws IOException {
        try (HostileSocket backend = HostileSocket.connect(new InetSocketAddress(host, port))) {
            backend.line();
            backend.send("d1 LOGIN " + user + " " + password + "\r\n");
            String ok = backend.tagged("d1");
            if (!ok.startsWith("d1 OK")) {
                throw new IOException("direct login refused: " + ok);
            }
            backend.send("d2 LIST \"\" \"*\"\r\n");
            List<String> names = new ArrayList<>();
            for (String line : backend.until("d2")) {
                Matcher m = LIST_NAME.matcher(line);
                if (m.matches()) {
                    names.add(m.group(1));
                }
            }
            backend.send("d3 LOGOUT\r\n");
            return names;
        }
    }
}
