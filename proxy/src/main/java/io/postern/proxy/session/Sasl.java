package io.postern.proxy.session;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
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
        byte[] authzid = Arrays.copyOfRange(message, 0, first);
        byte[] authcid = Arrays.copyOfRange(message, first + 1, second);
        if (authcid.length == 0) {
            throw new SaslException("Empty user name");
        }
        if (authzid.length > 0 && !Arrays.equals(authzid, authcid)) {
            throw new SaslException("Authorization identity differs from authentication identity");
        }
        return new Credentials(userName(authcid), Arrays.copyOfRange(message, second + 1, message.length), "PLAIN");
    }

    /** A user name (RFC 4616: UTF-8), refused when it is not valid UTF-8. */
    static String userName(byte[] data) throws SaslException {
        String name = Credentials.userName(data);
        if (name == null) {
            throw new SaslException("User name is not valid UTF-8");
        }
        return name;
    }

    /** The PLAIN message {@code NUL user NUL password} that Postern logs in with at a backend. */
    static byte[] plainMessage(String user, byte[] password) {
        byte[] u = user.getBytes(StandardCharsets.UTF_8);
        byte[] message = new byte[u.length + password.length + 2];
        System.arraycopy(u, 0, message, 1, u.length);
        System.arraycopy(password, 0, message, u.length + 2, password.length);
        return message;
    }

    static String encode(String text) {
        return encode(text.getBytes(StandardCharsets.UTF_8));
    }

    static String encode(byte[] data) {
        return Base64.getEncoder().encodeToString(data);
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
