package io.postern.policies.audit;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends audit records to a syslog receiver as RFC 5424 messages over TCP (RFC 6587) or TLS
 * (RFC 5425), each framed by octet counting: {@code MSG-LEN SP SYSLOG-MSG}. The message is
 * {@code <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID audit - RECORD}, where RECORD is the sealed
 * JSON line ({@link AuditChain}) without its line end, so the receiver's copy verifies like a
 * file; severity is informational, warning for a gap record.
 *
 * <p>The queue, the modes and gap records are {@link AuditSink}'s. While the receiver cannot be
 * reached the writer reconnects with a backoff (100 ms doubling up to 10 s) and keeps the batch
 * it could not send; the sink is unavailable ({@code fail-closed} refuses commands) from the
 * moment the connection is known to be lost (the receiver closed it, a write failed) until a new
 * one is made. Syslog over TCP has no acknowledgement: records written into a connection the
 * receiver dropped without closing are lost, and the sequence numbers show the hole. The chain
 * starts at sequence 1 each time the sink is made (start, or a reload that changes it).
 *
 * <p>Thread-safety: as {@link AuditSink}.
 */
public final class AuditSyslogSink extends AuditSink {

    private static final Logger log = LoggerFactory.getLogger(AuditSyslogSink.class);

    /** Facility names (RFC 5424 section 6.2.1) and their codes. */
    public static final Map<String, Integer> FACILITIES = Map.ofEntries(Map.entry("kern", 0), Map.entry("user", 1),
            Map.entry("mail", 2), Map.entry("daemon", 3), Map.entry("auth", 4), Map.entry("syslog", 5),
            Map.entry("lpr", 6), Map.entry("news", 7), Map.entry("uucp", 8), Map.entry("cron", 9),
            Map.entry("authpriv", 10), Map.entry("ftp", 11), Map.entry("ntp", 12), Map.entry("audit", 13),
            Map.entry("alert", 14), Map.entry("clock", 15), Map.entry("local0", 16), Map.entry("local1", 17),
            Map.entry("local2", 18), Map.entry("local3", 19), Map.entry("local4", 20), Map.entry("local5", 21),
            Map.entry("local6", 22), Map.entry("local7", 23));

    static final int SEVERITY_WARNING = 4;
    static final int SEVERITY_INFO = 6;
    static final String MSGID = "audit";
    private static final int CONNECT_TIMEOUT_MILLIS = 5_000;
    private static final long MIN_BACKOFF_MILLIS = 100;
    private static final long MAX_BACKOFF_MILLIS = 10_000;

    /**
     * @param host the receiver's host
     * @param port the receiver's port
     * @param tls whether to speak TLS (RFC 5425)
     * @param ca PEM certificates to trust for the receiver; {@code null}: the JDK's default trust
     * @param serverName the name the receiver's certificate must carry (and the SNI); {@code null}: {@code host}
     * @param appName the APP-NAME field
     * @param facility the facility code (0 to 23)
     * @param hostname the HOSTNAME field
     * @param key the HMAC key
     * @param queueCapacity the most events waiting for the writer
     * @param whenFull what a full queue does
     */
    public record Settings(String host, int port, boolean tls, Path ca, String serverName, String appName, int facility,
            String hostname, byte[] key, int queueCapacity, WhenFull whenFull) {

        /** What identifies the sink among the process's sinks. */
        public String target() {
            return (tls ? "syslog+tls://" : "syslog://") + host + ":" + port;
        }

        boolean same(Settings o) {
            return java.util.Arrays.equals(key, o.key) && queueCapacity == o.queueCapacity && whenFull == o.whenFull
                    && tls == o.tls && java.util.Objects.equals(ca, o.ca) && java.util.Objects.equals(serverName, o.serverName)
                    && appName.equals(o.appName) && facility == o.facility && hostname.equals(o.hostname);
        }
    }

    private final Settings settings;
    private final SSLContext sslContext;
    private final String procId = Long.toString(ProcessHandle.current().pid());
    private final AtomicLong connects = new AtomicLong();
    private final AtomicLong sentBytes = new AtomicLong();

    /** The connection now, or {@code null}; replaced by the writer, read by the watcher thread. */
    private volatile Connection connection;

    /** One connection to the receiver and the thread that notices when the receiver closes it. */
    private final class Connection {
        final Socket socket;
        final OutputStream out;
        volatile boolean lost;

        Connection(Socket socket) throws IOException {
            this.socket = socket;
            this.out = new BufferedOutputStream(socket.getOutputStream(), 16 * 1024);
            InputStream in = socket.getInputStream();
            Thread watcher = new Thread(() -> watch(in), "postern-audit-syslog-watch-" + settings.host() + ":" + settings.port());
            watcher.setDaemon(true);
            watcher.start();
        }

        /** A receiver sends nothing; the end of its stream (or an error) means the connection is gone. */
        private void watch(InputStream in) {
            byte[] sink = new byte[512];
            try {
                while (in.read(sink) >= 0) {
                    // a receiver has nothing to say in syslog over TCP; whatever comes is ignored
                }
                if (!lost) {
                    log.warn("the syslog receiver {} closed the audit connection", settings.target());
                }
            } catch (IOException e) {
                if (!lost) {
                    log.warn("the audit connection to {} failed: {}", settings.target(), e.toString());
                }
            }
            lost = true;
        }

        void close() {
            lost = true;
            try {
                socket.close();
            } catch (IOException e) {
                log.debug("closing the audit connection to {}: {}", settings.target(), e.toString());
            }
        }
    }

    /**
     * Makes the sink and tries to connect at once; a receiver that cannot be reached now is
     * tried again by the writer.
     *
     * @throws IOException when the CA file cannot be read
     */
    public AuditSyslogSink(Settings settings) throws IOException {
        this(settings, Clock.systemUTC());
    }

    AuditSyslogSink(Settings settings, Clock clock) throws IOException {
        super(settings.target(), settings.key(), settings.queueCapacity(), settings.whenFull(), clock);
        this.settings = settings;
        this.sslContext = settings.tls() ? sslContext(settings.ca()) : null;
        try {
            connect();
        } catch (IOException e) {
            log.warn("the syslog receiver {} cannot be reached now ({}); the audit sink keeps trying", settings.target(),
                    e.toString());
        }
        start(AuditChain.fresh(settings.key()), "postern-audit-syslog-" + settings.host() + ":" + settings.port());
    }

    public Settings settings() {
        return settings;
    }

    /** Connections made to the receiver (the first one included). */
    public long connects() {
        return connects.get();
    }

    /** Bytes sent to the receiver, framing included. */
    public long sentBytes() {
        return sentBytes.get();
    }

    @Override
    protected boolean outputUp() {
        Connection c = connection;
        return c != null && !c.lost;
    }

    // ---------------------------------------------------------------- writer thread

    @Override
    protected void output(List<String> records) throws IOException {
        Connection c = connection;
        if (c == null || c.lost) {
            throw new IOException("not connected to " + settings.target());
        }
        try {
            for (String record : records) {
                byte[] frame = frame(record);
                c.out.write(frame);
                sentBytes.addAndGet(frame.length);
            }
            c.out.flush();
        } catch (IOException e) {
            c.close();
            throw e;
        }
    }

    @Override
    protected Duration retryDelay(int attempt) {
        return Duration.ofMillis(Math.min(MAX_BACKOFF_MILLIS, MIN_BACKOFF_MILLIS << Math.min(attempt, 16)));
    }

    @Override
    protected void recover() throws IOException {
        Connection c = connection;
        if (c != null) {
            c.close();
            connection = null;
        }
        connect();
    }

    @Override
    protected void finish() {
        Connection c = connection;
        if (c != null) {
            try {
                c.out.flush();
                c.lost = true; // the close that follows is ours
                c.socket.shutdownOutput();
            } catch (IOException | UnsupportedOperationException e) {
                log.debug("ending the audit connection to {}: {}", settings.target(), e.toString());
            }
            c.close();
        }
    }

    private void connect() throws IOException {
        Socket s = new Socket();
        try {
            s.setKeepAlive(true);
            s.setTcpNoDelay(true);
            s.connect(new InetSocketAddress(settings.host(), settings.port()), CONNECT_TIMEOUT_MILLIS);
            if (s.getLocalSocketAddress().equals(s.getRemoteSocketAddress())) {
                // TCP simultaneous open: with no receiver on a local port in the ephemeral range, a
                // retried connect can get that very port as its own and "connect" to itself
                throw new IOException("connected to itself: no receiver on " + settings.target());
            }
            if (sslContext != null) {
                String name = settings.serverName() != null ? settings.serverName() : settings.host();
                SSLSocket tls = (SSLSocket) sslContext.getSocketFactory().createSocket(s, name, settings.port(), true);
                SSLParameters p = tls.getSSLParameters();
                p.setEndpointIdentificationAlgorithm("HTTPS");
                if (!Character.isDigit(name.charAt(name.length() - 1)) && name.indexOf(':') < 0) {
                    p.setServerNames(List.of(new SNIHostName(name)));
                }
                tls.setSSLParameters(p);
                tls.setSoTimeout(CONNECT_TIMEOUT_MILLIS);
                tls.startHandshake();
                tls.setSoTimeout(0);
                s = tls;
            }
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
        connection = new Connection(s);
        connects.incrementAndGet();
        log.info("audit records go to the syslog receiver {}", settings.target());
    }

    /** {@code MSG-LEN SP SYSLOG-MSG} for one sealed record. */
    byte[] frame(String record) {
        String json = record.endsWith("\n") ? record.substring(0, record.length() - 1) : record;
        int severity = json.contains(",\"type\":\"gap\",") ? SEVERITY_WARNING : SEVERITY_INFO;
        String header = "<" + (settings.facility() * 8 + severity) + ">1 " + timestamp(json) + " " + settings.hostname() + " "
                + settings.appName() + " " + procId + " " + MSGID + " - ";
        byte[] msg = (header + json).getBytes(StandardCharsets.UTF_8);
        byte[] len = (msg.length + " ").getBytes(StandardCharsets.US_ASCII);
        byte[] frame = new byte[len.length + msg.length];
        System.arraycopy(len, 0, frame, 0, len.length);
        System.arraycopy(msg, 0, frame, len.length, msg.length);
        return frame;
    }

    /** The record's own {@code ts} to the microsecond (RFC 5424 allows six fraction digits); now, if it has none. */
    private String timestamp(String json) {
        int at = json.indexOf("\"ts\":\"");
        Instant t = null;
        if (at >= 0) {
            int end = json.indexOf('"', at + 6);
            try {
                t = Instant.parse(json.substring(at + 6, end));
            } catch (RuntimeException e) {
                t = null;
            }
        }
        return (t == null ? clock.instant() : t).truncatedTo(ChronoUnit.MICROS).toString();
    }

    private static SSLContext sslContext(Path ca) throws IOException {
        try {
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            if (ca == null) {
                tmf.init((KeyStore) null);
            } else {
                Collection<? extends Certificate> certs;
                try (InputStream in = Files.newInputStream(ca)) {
                    certs = CertificateFactory.getInstance("X.509").generateCertificates(in);
                }
                if (certs.isEmpty()) {
                    throw new IOException(ca + ": no certificate");
                }
                KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
                ks.load(null, null);
                int i = 0;
                for (Certificate c : certs) {
                    ks.setCertificateEntry("ca-" + i++, c);
                }
                tmf.init(ks);
            }
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IOException((ca == null ? "the default trust store" : ca.toString()) + ": " + e.getMessage(), e);
        }
    }
}
