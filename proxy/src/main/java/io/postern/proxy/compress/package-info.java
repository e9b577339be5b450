/**
 * COMPRESS=DEFLATE (RFC 4978) on a connection: raw deflate (no zlib header, RFC 1951) both ways,
 * installed below the frame decoder so that Postern still parses every byte in between.
 */
package io.postern.proxy.compress;
