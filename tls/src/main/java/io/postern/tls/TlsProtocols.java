package io.postern.tls;

import java.util.List;

/** The protocol versions Postern speaks, shared by listener and backend settings. */
final class TlsProtocols {

    /** TLS 1.3 and 1.2; older versions are refused. */
    static final List<String> SUPPORTED = List.of("TLSv1.3", "TLSv1.2");

    private TlsProtocols() {}

    /** {@code null} means {@link #SUPPORTED}; anything else is copied and checked. */
    static List<String> validate(List<String> protocols) {
        if (protocols == null) {
            return SUPPORTED;
        }
        if (protocols.isEmpty()) {
            throw new IllegalArgumentException("protocols: empty (expected: some of " + SUPPORTED + ")");
        }
        for (String protocol : protocols) {
            if (!SUPPORTED.contains(protocol)) {
                throw new IllegalArgumentException(
                        "protocols: " + protocol + " (expected: some of " + SUPPORTED + ")");
            }
        }
        return List.copyOf(protocols);
    }
}
