package io.postern.policies.mime;

import java.util.Arrays;

/**
 * Streaming Content-Transfer-Encoding decoders. Each keeps a few bytes of state between calls, so
 * the input may be split anywhere; each reports a kind of defect once per part.
 */
abstract class BodyDecoder {

    /** Where decoded bytes and defects go. */
    interface Output {
        void write(int b);

        void write(byte[] b, int off, int len);

        void defect(MimeDefect.Kind kind, long offset, String detail);
    }

    /** Base64 alphabet values; -1 not in the alphabet, -2 white space, -3 the pad character. */
    static final int[] BASE64 = new int[128];

    static {
        Arrays.fill(BASE64, -1);
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int i = 0; i < alphabet.length(); i++) {
            BASE64[alphabet.charAt(i)] = i;
        }
        BASE64[' '] = -2;
        BASE64['\t'] = -2;
        BASE64['\r'] = -2;
        BASE64['\n'] = -2;
        BASE64['='] = -3;
    }

    /** The most bytes a decoder keeps (the base64 decoder's scratch buffer). */
    static final int SCRATCH = 3 * 1024;

    final Output out;

    BodyDecoder(Output out) {
        this.out = out;
    }

    /** Decodes {@code len} bytes of {@code b}; {@code pos} is the message offset of {@code b[off]}. */
    abstract void decode(byte[] b, int off, int len, long pos);

    /** Ends the body; {@code pos} is the message offset of its end. */
    abstract void finish(long pos);

    /** The decoder for a {@code Content-Transfer-Encoding} value, or null for an unknown one. */
    static BodyDecoder forEncoding(String encoding, Output out) {
        switch (encoding) {
            case "7bit":
            case "8bit":
            case "binary":
                return new Identity(out);
            case "base64":
                return new Base64(out);
            case "quoted-printable":
                return new QuotedPrintable(out);
            default:
                return null;
        }
    }

    static final class Identity extends BodyDecoder {
        Identity(Output out) {
            super(out);
        }

        @Override
        void decode(byte[] b, int off, int len, long pos) {
            out.write(b, off, len);
        }

        @Override
        void finish(long pos) {}
    }

    static final class Base64 extends BodyDecoder {
        /** Decoded bytes gathered before one {@link Output#write(byte[], int, int)}. */
        private final byte[] scratch = new byte[SCRATCH];
        private int bits;
        private int count;
        private boolean reported;

        Base64(Output out) {
            super(out);
        }

        @Override
        void decode(byte[] b, int off, int len, long pos) {
            byte[] s = scratch;
            int n = 0;
            for (int i = off, end = off + len; i < end; i++) {
                int c = b[i] & 0xff;
                int v = c < 128 ? BASE64[c] : -1;
                if (v >= 0) {
                    bits = (bits << 6) | v;
                    if (++count == 4) {
                        if (n > s.length - 3) {
                            out.write(s, 0, n);
                            n = 0;
                        }
                        s[n] = (byte) (bits >> 16);
                        s[n + 1] = (byte) (bits >> 8);
                        s[n + 2] = (byte) bits;
                        n += 3;
                        bits = 0;
                        count = 0;
                    }
                } else if (v == -3) {
                    // padding ends a group; a body may hold several base64 runs back to back
                    out.write(s, 0, n);
                    n = 0;
                    if (count == 1) {
                        bad(pos + (i - off), "a base64 group of one character");
                    }
                    partialGroup();
                } else if (v == -1) {
                    out.write(s, 0, n);
                    n = 0;
                    bad(pos + (i - off), "a byte outside the base64 alphabet");
                }
            }
            out.write(s, 0, n);
        }

        private void partialGroup() {
            if (count == 2) {
                out.write(bits >> 4);
            } else if (count == 3) {
                out.write(bits >> 10);
                out.write(bits >> 2);
            }
            bits = 0;
            count = 0;
        }

        private void bad(long offset, String detail) {
            if (!reported) {
                reported = true;
                out.defect(MimeDefect.Kind.BAD_BASE64, offset, detail);
            }
        }

        @Override
        void finish(long pos) {
            if (count == 1) {
                bad(pos, "the base64 body ends inside a group");
            }
            partialGroup();
        }
    }

    static final class QuotedPrintable extends BodyDecoder {
        private static final int TEXT = 0;
        private static final int EQUALS = 1;
        private static final int HEX = 2;
        private static final int PADDING = 3;
        private static final int CR = 4;

        private int state = TEXT;
        private int firstHex;
        private boolean reported;

        QuotedPrintable(Output out) {
            super(out);
        }

        @Override
        void decode(byte[] b, int off, int len, long pos) {
            int i = off;
            int end = off + len;
            while (i < end) {
                if (state == TEXT) {
                    int run = i;
                    while (run < end && b[run] != '=') {
                        run++;
                    }
                    out.write(b, i, run - i);
                    if (run < end) {
                        state = EQUALS;
                        run++;
                    }
                    i = run;
                    continue;
                }
                int c = b[i] & 0xff;
                long at = pos + (i - off);
                i++;
                switch (state) {
                    case EQUALS:
                        if (HeaderValues.hex(c) >= 0) {
                            firstHex = c;
                            state = HEX;
                        } else if (c == '\n') {
                            state = TEXT; // soft line break
                        } else if (c == '\r') {
                            state = CR;
                        } else if (c == ' ' || c == '\t') {
                            state = PADDING;
                        } else {
                            bad(at);
                            out.write('=');
                            state = TEXT;
                            i--;
                        }
                        break;
                    case HEX:
                        if (HeaderValues.hex(c) >= 0) {
                            out.write(HeaderValues.hex(firstHex) << 4 | HeaderValues.hex(c));
                            state = TEXT;
                        } else {
                            bad(at);
                            out.write('=');
                            out.write(firstHex);
                            state = TEXT;
                            i--;
                        }
                        break;
                    case PADDING:
                        // "=" then white space: a soft line break with trailing padding, if a line end follows
                        if (c == '\n') {
                            state = TEXT;
                        } else if (c == '\r') {
                            state = CR;
                        } else if (c != ' ' && c != '\t') {
                            bad(at);
                            out.write('=');
                            out.write(' ');
                            state = TEXT;
                            i--;
                        }
                        break;
                    default: // CR
                        state = TEXT;
                        if (c != '\n') {
                            bad(at);
                            i--;
                        }
                        break;
                }
            }
        }

        private void bad(long offset) {
            if (!reported) {
                reported = true;
                out.defect(MimeDefect.Kind.BAD_QUOTED_PRINTABLE, offset, "an '=' not followed by two hex digits or a line end");
            }
        }

        @Override
        void finish(long pos) {
            if (state == HEX) {
                bad(pos);
                out.write('=');
                out.write(firstHex);
            }
            state = TEXT;
        }
    }
}
