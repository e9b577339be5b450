package io.postern.tls;

import java.nio.file.Path;

/**
 * A certificate, key or TLS setting that cannot be used, explained for the person who configured it.
 *
 * <p>The message starts with the file involved and says what is wrong with it in plain words, for
 * example {@code certs/server.key: the private key does not match the certificate in
 * certs/server.crt}. It is meant to be shown as it is, without the stack trace.
 */
public final class TlsConfigException extends Exception {

    private final transient Path file;

    /**
     * @param file the file the problem is in, or {@code null} when no single file is involved
     * @param problem what is wrong, without the file name (it is prefixed)
     */
    public TlsConfigException(Path file, String problem) {
        super(message(file, problem));
        this.file = file;
    }

    /**
     * @param file the file the problem is in, or {@code null} when no single file is involved
     * @param problem what is wrong, without the file name (it is prefixed)
     * @param cause the low-level failure, kept for the debug log
     */
    public TlsConfigException(Path file, String problem, Throwable cause) {
        super(message(file, problem), cause);
        this.file = file;
    }

    /** The file the problem is in, or {@code null} when no single file is involved. */
    public Path file() {
        return file;
    }

    private static String message(Path file, String problem) {
        return file == null ? problem : file + ": " + problem;
    }
}
