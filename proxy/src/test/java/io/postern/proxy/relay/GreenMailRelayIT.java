package io.postern.proxy.relay;

import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;

/** The relay against GreenMail, the backend that needs nothing installed. */
class GreenMailRelayIT extends AbstractRelayIT {

    @Override
    Backend startBackend() {
        GreenMail greenMail = new GreenMail(new ServerSetup(0, "127.0.0.1", ServerSetup.PROTOCOL_IMAP));
        greenMail.start();
        return new Backend() {
            @Override
            public String host() {
                return "127.0.0.1";
            }

            @Override
            public int port() {
                return greenMail.getImap().getPort();
            }

            @Override
            public void addUser(String user, String password) {
                greenMail.setUser(user + "@postern.test", user, password);
            }

            @Override
            public boolean fullFeatured() {
                return false;
            }

            @Override
            public void close() {
                greenMail.stop();
            }
        };
    }
}
