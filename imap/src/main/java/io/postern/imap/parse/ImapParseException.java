package io.postern.imap.parse;

/** A command or response that does not follow the grammar. The message is safe to send in a BAD reply. */
public final class ImapParseException extends Exception {

    private static final long serialVersionUID = 1L;

    public ImapParseException(String message) {
        super(message, null, false, false);
    }
}
