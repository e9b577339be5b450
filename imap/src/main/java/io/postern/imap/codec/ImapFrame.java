package io.postern.imap.codec;

/**
 * What {@link ImapFrameDecoder} emits: a {@link ImapLine}, a {@link LiteralChunk}, or an
 * {@link ImapDecoderError}. Writing the lines and chunks out in order reproduces the input
 * byte for byte.
 */
public sealed interface ImapFrame permits ImapLine, LiteralChunk, ImapDecoderError {}
