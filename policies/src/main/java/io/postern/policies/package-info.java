/**
 * The policy SPI and the built-in policies (acl, audit, scan, capabilities). Filled by the
 * policy engine issue; nothing here knows Netty channels.
 */
package io.postern.policies;
