package io.postern.proxy.relay;

import io.postern.proxy.testing.DovecotFixture;

/** The relay against a real Dovecot started from the local binary. */
class DovecotRelayIT extends AbstractRelayIT {

    @Override
    Backend startBackend() throws Exception {
        DovecotFixture.assumeAvailable();
        DovecotFixture dovecot = DovecotFixture.builder().name("relay").start();
        return new Backend() {
            @Override
            public String host() {
                return dovecot.host();
            }

            @Override
            public int port() {
                return dovecot.port();
            }

            @Override
            public void addUser(String user, String password) throws Exception {
                dovecot.addUser(user, password);
            }

            @Override
            public boolean fullFeatured() {
                return true;
            }

            @Override
            public void close() throws Exception {
                dovecot.close();
            }
        };
    }
}
