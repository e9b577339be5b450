package io.postern.proxy.session;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/** Decoding of the SASL mechanisms Postern accepts from clients (RFC 4616 PLAIN, and LOGIN). */
final class Sasl {

    static final class SaslException extends Exception {
        private static final long serialVersionUID = 1L;

        SaslException(String message) {
            super(message, null, false, false);
        }
    }

    private Sasl() {}

    /** Base64 as RFC 9051 sends it; {@code =} alone is an empty initial response. */
    static byte[] base64(String text) throws SaslException {
        if (text.equals("=")) {
            return new byte[0];
        }
        try {
            return Base64.getDecoder().decode(text);
        } catch (IllegalArgumentException e) {
            throw new SaslException("Invalid base64 data");
        }
    }

    /** PLAIN: {@code [authzid] NUL authcid NUL passwd}. An authzid other than the authcid is refused. */
    static Credentials plain(byte[] message) throws SaslException {
        int first = indexOf(message, 0);
        int second = first < 0 ? -1 : indexOf(message, first + 1);
        if (first < 0 || second < 0 || indexOf(message, second + 1) >= 0) {
            throw new SaslException("Malformed PLAIN message");
        }
        String authzid = new String(message, 0, first, StandardCharsets.UTF_8);
        String authcid = new String(message, first + 1, second - first - 1, StandardCharsets.UTF_8);
        String password = new String(message, second + 1, message.length - second - 1, StandardCharsets.UTF_8);
        if (authcid.isEmpty()) {
            throw new SaslException("Empty user name");
        }
        if (!authzid.isEmpty() && !authzid.equals(authcid)) {
            throw new SaslException("Authorization identity differs from authentication identity");
        }
        return new Credentials(authcid, password, "PLAIN");
    }

    static String utf8(byte[] data) {
        return new String(data, StandardCharsets.UTF_8);
    }

    static String encode(String text) {
        return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));
    }

    private static int indexOf(byte[] data, int from) {
        for (int i = from; i < data.length; i++) {
            if (data[i] == 0) {
                return i;
            }
        }
        return -1;
    }
}
