package io.postern.policies.mime;

import static java.nio.charset.StandardCharsets.ISO_8859_1;

import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Test messages, written with LF and sent with CRLF line ends unless named {@code lf-*}. The
 * realistic ones come first, then one malformed message per defect kind (and some the parser
 * must take without any defect).
 */
final class MimeCorpus {

    private MimeCorpus() {}

    static final String PDF_BODY = "%PDF-1.4\n% a small pretend PDF\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";
    static final String PNG_BYTES = "\u0089PNG\r\n\u001a\n\u0000\u0000\u0000\rIHDR\u0000\u0000\u0000\u0001";

    static String crlf(String lf) {
        return lf.replace("\r\n", "\n").replace("\n", "\r\n");
    }

    static String base64Lines(byte[] data) {
        return Base64.getMimeEncoder(76, "\n".getBytes(ISO_8859_1)).encodeToString(data) + "\n";
    }

    /** A sent mail as a real client writes it: mixed { alternative { plain QP, html base64 }, pdf, forwarded message }. */
    static String nested() {
        return crlf("""
                Return-Path: <alice@example.org>
                Received: from mx.example.org (mx.example.org [192.0.2.1])
                \tby imap.example.org with ESMTPS id 12345
                \tfor <bob@example.org>; Sun, 22 Nov 2026 08:00:00 +0000
                From: =?UTF-8?Q?Al=C3=AFce?= <alice@example.org>
                To: bob@example.org
                Subject: =?UTF-8?B?UmF0ZXMg4oKsIDIwMjY=?=
                Date: Sun, 22 Nov 2026 08:00:00 +0000
                Message-ID: <1@example.org>
                MIME-Version: 1.0
                Content-Type: multipart/mixed;
                 boundary="==outer=="

                This is a multi-part message in MIME format.

                --==outer==
                Content-Type: multipart/alternative; boundary=alt-1

                --alt-1
                Content-Type: text/plain; charset=UTF-8
                Content-Transfer-Encoding: quoted-printable

                Hello Bob, the rates are in the attached file: 100 =E2=82=AC a day, a lon=
                g line that was soft-broken; 1+1=3D2.
                --alt-1
                Content-Type: text/html; charset=UTF-8
                Content-Transfer-Encoding: base64

                """ + base64Lines("<p>Hello Bob, the rates are attached.</p>".getBytes(ISO_8859_1)) + """
                --alt-1--

                --==outer==
                Content-Type: application/pdf;
                 name="rates.pdf"
                Content-Disposition: attachment;
                 filename*0*=UTF-8''%E2%82%AC%20rates%20;
                 filename*1="2026 final";
                 filename*2*=%2Epdf
                Content-Transfer-Encoding: base64

                """ + base64Lines(PDF_BODY.getBytes(ISO_8859_1)) + """
                --==outer==
                Content-Type: message/rfc822
                Content-Disposition: attachment; filename="fwd.eml"

                From: carol@example.org
                Subject: the logo
                MIME-Version: 1.0
                Content-Type: multipart/mixed; boundary="inner"

                --inner
                Content-Type: text/plain

                See the logo.
                --inner
                Content-Type: image/png; name="=?ISO-8859-1?Q?log=F6_?= =?ISO-8859-1?Q?final.png?="
                Content-Disposition: inline
                Content-Transfer-Encoding: base64

                """ + base64Lines(PNG_BYTES.getBytes(ISO_8859_1)) + """
                --inner--
                --==outer==--
                epilogue text
                """);
    }

    /** File name forms: RFC 2231 without continuations, RFC 2047 in a quoted parameter, plain. */
    static String filenames() {
        return crlf("""
                MIME-Version: 1.0
                Content-Type: multipart/mixed; boundary=b

                --b
                Content-Type: application/octet-stream
                Content-Disposition: attachment; filename*=iso-8859-1'en'caf%E9.txt

                one
                --b
                Content-Type: application/octet-stream
                Content-Disposition: attachment; filename="=?UTF-8?B?0L/RgNC40LLQtdGCLmRvYw==?="

                two
                --b
                Content-Type: application/octet-stream; name=plain.bin
                Content-Disposition: attachment (a comment); size=3

                three
                --b
                Content-Type: text/plain; charset="us-ascii"; name="quoted \\"name\\".txt"

                four
                --b--
                """);
    }

    /** Bare LF line ends, as some tools write. */
    static String lfOnly() {
        return """
                Content-Type: multipart/mixed; boundary="lf"

                --lf
                Content-Type: text/plain
                Content-Transfer-Encoding: base64

                aGVsbG8g
                d29ybGQ=
                --lf--
                """;
    }

    /** One message for each defect kind: name -> message. */
    static Map<String, String> malformed() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("MISSING_CLOSE_DELIMITER", crlf("""
                Content-Type: multipart/mixed; boundary=b

                --b
                Content-Type: text/plain

                no close delimiter follows
                """));
        m.put("BOUNDARY_NEVER_FOUND", crlf("""
                Content-Type: multipart/mixed; boundary=absent

                --other
                Content-Type: text/plain

                text
                --other--
                """));
        m.put("MISSING_BOUNDARY", crlf("""
                Content-Type: multipart/mixed

                --b
                text
                """));
        m.put("BAD_BASE64", crlf("""
                Content-Type: application/octet-stream
                Content-Transfer-Encoding: base64

                aGVsbG8*!gd29y
                bGQ=
                """));
        m.put("BAD_QUOTED_PRINTABLE", crlf("""
                Content-Type: text/plain
                Content-Transfer-Encoding: quoted-printable

                price =ZZ and =4 and =
                """));
        m.put("UNKNOWN_TRANSFER_ENCODING", crlf("""
                Content-Type: text/plain
                Content-Transfer-Encoding: x-uuencode

                begin 644 file
                """));
        m.put("MALFORMED_HEADER", crlf("""
                Subject: ok
                this line is not a header
                Content-Type: text/plain

                body
                """));
        m.put("MISSING_HEADER_END", crlf("""
                Content-Type: multipart/mixed; boundary=b

                --b
                Content-Type: text/plain
                --b
                Content-Type: text/plain
                """).stripTrailing());
        StringBuilder deep = new StringBuilder();
        for (int i = 0; i < 40; i++) {
            deep.append("Content-Type: multipart/mixed; boundary=d").append(i).append("\n\n--d").append(i).append('\n');
        }
        deep.append("Content-Type: text/plain\n\ndeep\n");
        for (int i = 39; i >= 0; i--) {
            deep.append("--d").append(i).append("--\n");
        }
        m.put("NESTING_TOO_DEEP", crlf(deep.toString()));
        StringBuilder rfc822 = new StringBuilder();
        for (int i = 0; i < 40; i++) {
            rfc822.append("Content-Type: message/rfc822\n\n");
        }
        rfc822.append("Subject: innermost\n\nhi\n");
        m.put("NESTING_TOO_DEEP_RFC822", crlf(rfc822.toString()));
        StringBuilder many = new StringBuilder("Content-Type: multipart/mixed; boundary=p\n\n");
        for (int i = 0; i < 1500; i++) {
            many.append("--p\n\nx\n");
        }
        many.append("--p--\n");
        m.put("TOO_MANY_PARTS", crlf(many.toString()));
        m.put("HEADER_TOO_LONG", crlf("Subject: " + "x".repeat(300_000) + "\n\nbody\n"));
        m.put("MISSING_BOUNDARY_LONG", crlf("Content-Type: multipart/mixed; boundary=" + "b".repeat(250) + "\n\n--" + "b".repeat(250) + "\n\nx\n"));
        m.put("TRUNCATED_IN_PART_HEADERS", crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/pl"));
        m.put("TRUNCATED_BASE64_GROUP", crlf("Content-Transfer-Encoding: base64\n\naGVsbG8gd\n"));
        return m;
    }

    /** Odd but well-formed (or tolerated) messages: no defect expected. */
    static Map<String, String> tolerated() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("empty", "");
        m.put("only-crlf", "\r\n");
        m.put("headers-only", crlf("Subject: no body\n"));
        m.put("no-trailing-line-end", crlf("Subject: x\n\nlast line"));
        m.put("lf-only", lfOnly());
        m.put("close-delimiter-at-eof", crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--"));
        m.put("padding-after-boundary", crlf("Content-Type: multipart/mixed; boundary=b\n\n--b \t\n\nx\n--b--  \n"));
        m.put("cr-inside-lines", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\na\rb\r\r\n--b-\r\n--b--\r\n");
        m.put("binary", "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\u0000\u00ff\r\u0001\n--x\r\n");
        return m;
    }
}
