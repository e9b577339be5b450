/**
 * Certificates and keys for Postern's listeners and backend connections.
 *
 * <ul>
 *   <li>{@link io.postern.tls.PemKeyPair}: a PEM certificate chain and key, checked at load.
 *   <li>{@link io.postern.tls.ServerTlsContexts} with {@link io.postern.tls.ServerTlsSettings}: a
 *       listener's {@code SslContext}s, chosen by SNI, reloadable while connections run.
 *   <li>{@link io.postern.tls.BackendTlsContexts} with {@link io.postern.tls.BackendTlsSettings}:
 *       the client side towards a backend, verified by CA and name, by pin, or not at all.
 *   <li>{@link io.postern.tls.SelfSignedCertificates}: a certificate for a first start.
 * </ul>
 *
 * <p>Every problem with a file is a {@link io.postern.tls.TlsConfigException} whose message names the
 * file; bad setting combinations are {@code IllegalArgumentException}s from the settings records.
 */
package io.postern.tls;
