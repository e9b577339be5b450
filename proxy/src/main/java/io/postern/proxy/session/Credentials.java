package io.postern.proxy.session;

/**
 * What a client logged in with. Lives only until the backend login finishes; {@link #toString()}
 * never shows the password.
 *
 * @param mechanism {@code LOGIN}, {@code PLAIN} or {@code AUTH=LOGIN} as the client used it (for logs)
 */
record Credentials(String user, String password, String mechanism) {

    @Override
    public String toString() {
        return "Credentials(user=" + user + ", mechanism=" + mechanism + ")";
    }
}
