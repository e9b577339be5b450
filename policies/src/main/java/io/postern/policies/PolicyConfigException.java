package io.postern.policies;

/** A policy's configuration is wrong; the message starts with the key path. */
public final class PolicyConfigException extends Exception {

    private static final long serialVersionUID = 1L;

    public PolicyConfigException(String message) {
        super(message);
    }
}
