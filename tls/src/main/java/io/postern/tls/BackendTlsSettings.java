package io.postern.tls;

import io.netty.util.NetUtil;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SNIHostName;

/**
 * How Postern checks a backend's certificate. Immutable; validated when built.
 *
 * <p>Exactly one way of trusting applies:
 *
 * <ul>
 *   <li>by CA and name (the default): the chain must lead to {@code ca} (or to the system trust
 *       store when {@code ca} is {@code null}) and the certificate must be for {@code serverName};
 *   <li>by pin: the backend's own certificate must have one of {@code pinnedSha256}; CA and name
 *       are not checked, which suits self-signed backend certificates;
 *   <li>{@code insecure}: any certificate is accepted. The caller logs a warning.
 * </ul>
 *
 * @param ca PEM file of the CA certificates to trust, or {@code null} for the system trust store;
 *     not allowed with pins or {@code insecure}
 * @param serverName the name sent in SNI and checked against the certificate (a DNS name, or an IP
 *     literal checked against IP subjectAltNames and not sent in SNI); required unless {@code insecure}
 * @param pinnedSha256 SHA-256 fingerprints of acceptable backend certificates, hex with optional
 *     colons, any case; {@code null} or empty means no pinning. Stored as 64 lowercase hex digits.
 * @param insecure accept any certificate
 * @param protocols the protocol versions offered; {@code null} means {@code [TLSv1.3, TLSv1.2]}
 * @param provider the TLS implementation; {@code null} means {@link Provider#AUTO}
 */
public record BackendTlsSettings(
        Path ca, String serverName, List<String> pinnedSha256, boolean insecure, List<String> protocols,
        Provider provider) {

    private static final int SHA256_HEX_DIGITS = 64;

    /**
     * Fills in defaults, normalises the pins and checks the combination.
     *
     * @throws IllegalArgumentException naming the setting
     */
    public BackendTlsSettings {
        pinnedSha256 = normalisePins(pinnedSha256);
        protocols = TlsProtocols.validate(protocols);
        provider = provider == null ? Provider.AUTO : provider;
        if (serverName != null) {
            checkServerName(serverName);
        } else if (!insecure) {
            throw new IllegalArgumentException("serverName: required unless insecure is true"
                    + " (the name the backend's certificate is for, e.g. imap.example.com)");
        }
        if (insecure && !pinnedSha256.isEmpty()) {
            throw new IllegalArgumentException("insecure: cannot be combined with pinnedSha256 (remove one)");
        }
        if (insecure && ca != null) {
            throw new IllegalArgumentException("insecure: cannot be combined with ca (remove one)");
        }
        if (ca != null && !pinnedSha256.isEmpty()) {
            throw new IllegalArgumentException(
                    "ca: not used when pinnedSha256 is set, pins replace CA and name checks (remove one)");
        }
    }

    /** Checks the certificate against the system trust store and {@code serverName}. */
    public static BackendTlsSettings verified(String serverName) {
        return new BackendTlsSettings(null, serverName, null, false, null, null);
    }

    /** Whether {@code serverName} is a DNS name (sent in SNI) rather than an IP literal. */
    boolean serverNameIsHostName() {
        return serverName != null && !NetUtil.isValidIpV4Address(serverName) && !NetUtil.isValidIpV6Address(serverName);
    }

    private static void checkServerName(String serverName) {
        if (NetUtil.isValidIpV4Address(serverName) || NetUtil.isValidIpV6Address(serverName)) {
            return;
        }
        try {
            new SNIHostName(serverName);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "serverName: '" + serverName + "' is not a host name (" + e.getMessage() + ")", e);
        }
    }

    private static List<String> normalisePins(List<String> pins) {
        if (pins == null) {
            return List.of();
        }
        List<String> normalised = new ArrayList<>(pins.size());
        for (String pin : pins) {
            String hex = pin.replace(":", "").trim().toLowerCase(Locale.ROOT);
            if (hex.length() != SHA256_HEX_DIGITS || !hex.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                throw new IllegalArgumentException("pinnedSha256: '" + pin
                        + "' is not a SHA-256 fingerprint (expected: 64 hex digits, colons allowed,"
                        + " e.g. from `openssl x509 -noout -fingerprint -sha256`)");
            }
            normalised.add(hex);
        }
        return List.copyOf(normalised);
    }
}
