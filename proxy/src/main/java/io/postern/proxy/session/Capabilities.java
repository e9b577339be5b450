package io.postern.proxy.session;

import java.util.List;
import java.util.Locale;

/**
 * The capabilities a client is shown. Before login they are Postern's own; after login they are
 * the backend's, less what Postern cannot relay: authentication (handled before the relay
 * starts), STARTTLS, the backend's COMPRESS (Postern offers its own), UNAUTHENTICATE and referrals that would
 * send the client around Postern to the backend.
 */
public final class Capabilities {

    /**
     * What Postern itself offers before login.
     *
     * @param offerStartTls the listener offers STARTTLS and TLS is not on yet
     * @param loginDisabled TLS is required and not on yet: no login of any kind is offered
     */
    public static List<String> preAuth(boolean offerStartTls, boolean loginDisabled) {
        List<String> c = new java.util.ArrayList<>(List.of("IMAP4rev1", "ID", "LITERAL+"));
        if (offerStartTls) {
            c.add("STARTTLS");
        }
        if (loginDisabled) {
            c.add("LOGINDISABLED");
        } else {
            c.addAll(List.of("SASL-IR", "AUTH=PLAIN", "AUTH=LOGIN"));
        }
        return c;
    }

    private Capabilities() {}

    /** The backend's post-login capabilities, filtered. Never empty: IMAP4rev1 is kept or added. */
    public static List<String> relayable(List<String> backend) {
        List<String> kept = backend.stream().filter(Capabilities::relayable).toList();
        boolean hasRevision = kept.stream().anyMatch(c -> c.toUpperCase(Locale.ROOT).startsWith("IMAP4REV"));
        if (!hasRevision) {
            kept = java.util.stream.Stream.concat(java.util.stream.Stream.of("IMAP4rev1"), kept.stream()).toList();
        }
        return kept;
    }

    static boolean relayable(String capability) {
        String c = capability.toUpperCase(Locale.ROOT);
        return !(c.startsWith("AUTH=")
                || c.startsWith("COMPRESS=")
                || c.equals("STARTTLS")
                || c.equals("LOGINDISABLED")
                || c.equals("SASL-IR")
                || c.equals("UNAUTHENTICATE")
                || c.equals("LOGIN-REFERRALS")
                || c.equals("MAILBOX-REFERRALS"));
    }

    /** {@code capabilities} with {@code extra} added at the end, unless it is there already. */
    public static List<String> with(List<String> capabilities, String extra) {
        if (has(capabilities, extra)) {
            return capabilities;
        }
        List<String> c = new java.util.ArrayList<>(capabilities);
        c.add(extra);
        return List.copyOf(c);
    }

    public static String join(List<String> capabilities) {
        return String.join(" ", capabilities);
    }

    static boolean has(List<String> capabilities, String name) {
        return capabilities.stream().anyMatch(c -> c.equalsIgnoreCase(name));
    }
}
