package io.postern.proxy.server;

import io.postern.proxy.config.ConfigException;
import io.postern.proxy.config.PosternConfig;
import io.postern.tls.TlsConfigException;
import java.nio.file.Path;

/**
 * Loading a configuration file the way {@code check-config}, start-up and a reload all do, so
 * that a bad file gets the same message from each.
 */
public final class ConfigFile {

    private ConfigFile() {}

    /** Parses and validates; problems name the file and the key path. */
    public static PosternConfig load(Path file) throws ConfigException {
        try {
            return PosternConfig.load(file);
        } catch (ConfigException e) {
            throw new ConfigException(file + ": " + e.getMessage());
        }
    }

    /** {@link #load}, then every certificate, key and CA loaded and checked. */
    public static Checked check(Path file) throws ConfigException, TlsConfigException {
        PosternConfig config = load(file);
        return new Checked(config, TlsRuntime.create(config));
    }

    /** A configuration and its loaded TLS material; the caller owns (and closes) {@code tls}. */
    public record Checked(PosternConfig config, TlsRuntime tls) {}

    /** What {@code check-config} prints (after {@code "postern: "}) for a configuration problem. */
    public static String problem(Exception e) {
        return "bad configuration: " + e.getMessage();
    }
}
