package io.postern.proxy.config;

/** A configuration that Postern refuses. The message names the key path and the problem. */
public final class ConfigException extends Exception {

    private static final long serialVersionUID = 1L;

    public ConfigException(String message) {
        super(message, null, false, false);
    }

    public static ConfigException at(String path, String problem) {
        return new ConfigException((path.isEmpty() ? "(top level)" : path) + ": " + problem);
    }
}
