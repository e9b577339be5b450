package io.postern.proxy.cli;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/** SIGHUP as the operator's "reload the configuration" signal, where the JVM lets Postern handle it. */
final class ReloadSignal {

    private static final Logger log = LoggerFactory.getLogger(ReloadSignal.class);

    private ReloadSignal() {}

    static void onHangup(Runnable action) {
        try {
            Signal.handle(new Signal("HUP"), signal -> {
                log.info("SIGHUP: reloading the configuration");
                action.run();
            });
        } catch (IllegalArgumentException e) {
            // The JVM reserves the signal (e.g. -Xrs): file changes are still picked up by polling.
            log.warn("SIGHUP cannot be handled here ({}); reload with the admin API; certificate files are still checked every reload_interval",
                    e.getMessage());
        }
    }
}
