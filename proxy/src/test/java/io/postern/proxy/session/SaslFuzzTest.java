package io.postern.proxy.session;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.Base64;

/**
 * Coverage-guided fuzzing of {@link Sasl} (Jazzer; a plain {@code mvn verify} replays the
 * committed inputs, {@code JAZZER_FUZZ=1} fuzzes: see {@code .ci/fuzz.sh}).
 *
 * <p>Input: byte 0 chooses what the rest is. Even: the text of a client's SASL response, read as
 * {@code ClientSession} reads it (US-ASCII), decoded with {@link Sasl#base64} and then as PLAIN.
 * Odd: a decoded PLAIN message. Checks:
 * <ul>
 *   <li>only {@link Sasl.SaslException} is thrown;
 *   <li>base64 that decodes gives the same bytes back from their canonical encoding;
 *   <li>PLAIN credentials have a non-empty user, and neither user nor password holds a NUL;
 *   <li>the user name is valid UTF-8 (a message whose authcid is not is refused), the password
 *       any bytes;
 *   <li>an accepted message is exactly {@code [authzid] NUL user NUL password} byte for byte,
 *       with the authzid empty or the user: nothing of it was dropped, altered or let through;
 *   <li>what {@code BackendLogin} sends the backend for them ({@link Sasl#plainMessage}, base64)
 *       decodes to the same credentials, the password byte for byte.
 * </ul>
 * The committed inputs are SASL responses from the transcripts in
 * {@code imap/src/test/resources/transcripts} and PLAIN messages.
 */
class SaslFuzzTest {

    @FuzzTest(maxDuration = "5m")
    void plain(byte[] input) {
        byte[] rest = input.length == 0 ? input : Arrays.copyOfRange(input, 1, input.length);
        byte[] message;
        if (input.length == 0 || (input[0] & 1) == 0) {
            message = base64(new String(rest, US_ASCII));
            if (message == null) {
                return;
            }
        } else {
            message = rest;
        }
        Credentials credentials;
        try {
            credentials = Sasl.plain(message);
        } catch (Sasl.SaslException refused) {
            return;
        }
        String user = credentials.user();
        byte[] password = credentials.password();
        expect(!user.isEmpty(), "an empty user");
        expect(!credentials.hasNul(), "a NUL in the user or the password");
        expect("PLAIN".equals(credentials.mechanism()), "mechanism " + credentials.mechanism());
        // byte for byte: a user name decoded with a replacement character would not re-encode to it
        expect(Arrays.equals(message, plain("", user, password)) || Arrays.equals(message, plain(user, user, password)),
                "the credentials are not what the message holds");
        Credentials toBackend;
        try {
            toBackend = Sasl.plain(Sasl.base64(Sasl.encode(Sasl.plainMessage(user, password))));
        } catch (Sasl.SaslException e) {
            throw new AssertionError("the backend's PLAIN message for accepted credentials is refused: " + e.getMessage());
        }
        expect(toBackend.user().equals(user) && Arrays.equals(toBackend.password(), password),
                "the backend's PLAIN message decodes to other credentials");
    }

    /** The decoded bytes, or null when Sasl refuses the text; checks that canonical base64 round-trips. */
    private static byte[] base64(String text) {
        byte[] decoded;
        try {
            decoded = Sasl.base64(text);
        } catch (Sasl.SaslException refused) {
            return null;
        }
        expect(decoded != null, "base64 gave null");
        try {
            String canonical = Base64.getEncoder().encodeToString(decoded);
            expect(Arrays.equals(Sasl.base64(canonical), decoded), "canonical base64 decodes to other bytes");
        } catch (Sasl.SaslException e) {
            throw new AssertionError("canonical base64 refused: " + e.getMessage());
        }
        return decoded;
    }

    private static byte[] plain(String authzid, String user, byte[] password) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(authzid.getBytes(UTF_8));
        out.write(0);
        out.writeBytes(user.getBytes(UTF_8));
        out.write(0);
        out.writeBytes(password);
        return out.toByteArray();
    }

    private static void expect(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }
}
