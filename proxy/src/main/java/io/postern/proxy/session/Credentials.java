package io.postern.proxy.session;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * What a client logged in with. Lives only until the backend login finishes; {@link #toString()}
 * never shows the password.
 *
 * <p>The user name is text (it picks the route and keys the login throttle), so it must be valid
 * UTF-8. The password is the bytes the client sent, passed on unchanged: legacy clients send
 * passwords in ISO-8859-1 or another local charset, and the backend compares bytes. (A record
 * with an array: equality is identity, and nothing compares credentials.)
 *
 * @param mechanism {@code LOGIN}, {@code PLAIN} or {@code AUTH=LOGIN} as the client used it (for logs)
 */
record Credentials(String user, byte[] password, String mechanism) {

    /** The user name that {@code bytes} spell in UTF-8, or {@code null} when they are not valid UTF-8. */
    static String userName(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /** Whether the user name or the password holds a NUL, which SASL PLAIN cannot carry. */
    boolean hasNul() {
        if (user.indexOf('\0') >= 0) {
            return true;
        }
        for (byte b : password) {
            if (b == 0) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return "Credentials(user=" + user + ", mechanism=" + mechanism + ")";
    }
}
