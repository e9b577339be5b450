/**
 * Certificates and keys for Postern's listeners and backend connections: PEM parsing with
 * Bouncy Castle, {@code SslContext} building, SNI and reload. Filled by the TLS issue; the
 * foundation relays plain IMAP only.
 */
package io.postern.tls;
