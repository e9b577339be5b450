package io.postern.proxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code routing.ldap}: defaults, errors by key path, the filter template and its RFC 4515 escaping. */
class LdapLookupConfigTest {

    private static final String BASE = """
            listeners: [{name: imap, bind: "127.0.0.1:0"}]
            backends:
              - {name: shard-a, address: "127.0.0.1:10143"}
            routing:
              strategy: ldap
              ldap:
                url: ldap://127.0.0.1:389
                base: ou=people,dc=example,dc=org
            """;

    private static final String URL = "    url: ldap://127.0.0.1:389\n";

    private static RoutingConfig.LdapLookup ldap(String extra) throws ConfigException {
        return PosternConfig.parse(BASE + extra).routing().ldap();
    }

    @Test
    void defaults() throws Exception {
        RoutingConfig.LdapLookup l = ldap("");
        assertThat(l.filter()).isEqualTo("(uid=%u)");
        assertThat(l.attribute()).isEqualTo("mailHost");
        assertThat(l.groupAttribute()).isNull();
        assertThat(l.bindDn()).isNull();
        assertThat(l.startTls()).isFalse();
        assertThat(l.timeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(l.cacheTtl()).isEqualTo(Duration.ofSeconds(60));
        assertThat(l.negativeTtl()).isEqualTo(Duration.ofSeconds(10));
        assertThat(l.cacheSize()).isEqualTo(100_000);
        assertThat(l.maxConnections()).isEqualTo(4);
    }

    @Test
    void theFilterTemplateEscapesEveryPlaceholder() throws Exception {
        RoutingConfig.LdapLookup l = ldap("    filter: \"(&(uid=%n)(mailDomain=%d)(mail=%u)(note=100%%))\"\n");
        assertThat(l.filterFor("alice@example.org"))
                .isEqualTo("(&(uid=alice)(mailDomain=example.org)(mail=alice@example.org)(note=100%))");
        assertThat(l.filterFor("bob")).isEqualTo("(&(uid=bob)(mailDomain=)(mail=bob)(note=100%))");
        RoutingConfig.LdapLookup plain = ldap("");
        assertThat(plain.filterFor("*)(uid=*")).isEqualTo("(uid=\\2a\\29\\28uid=\\2a)");
        assertThat(plain.filterFor("a\\b\0c")).isEqualTo("(uid=a\\5cb\\00c)");
        assertThat(plain.filterFor("jörg")).isEqualTo("(uid=jörg)"); // UTF-8 goes as it is
    }

    @Test
    void thePasswordComesInlineOrFromAFileAndNeverShows(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("bind.pw"), "s3cret pass\n");
        Files.writeString(dir.resolve("postern.yml"), BASE + "    bind_dn: cn=postern,dc=example,dc=org\n"
                + "    bind_password_file: bind.pw\n");
        RoutingConfig.LdapLookup l = PosternConfig.load(dir.resolve("postern.yml")).routing().ldap();
        assertThat(l.bindPassword()).isEqualTo("s3cret pass");
        assertThat(l.toString()).doesNotContain("s3cret");
        assertThat(ldap("    bind_dn: cn=x\n    bind_password: inline\n").bindPassword()).isEqualTo("inline");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "url: x|routing.ldap.url: expected ldap://host[:port] or ldaps://host[:port], found \"x\"",
        "start_tls: true\\nurl: ldaps://h|routing.ldap.start_tls: StartTLS is for ldap:// URLs; ldaps:// is TLS already",
        "bind_password: pw|routing.ldap.bind_dn: required when a bind password is set",
        "bind_dn: cn=x|routing.ldap.bind_password: required with bind_dn (or bind_password_file); an empty password would bind anonymously",
        "bind_dn: cn=x\\nbind_password: a\\nbind_password_file: /nonexistent|routing.ldap.bind_password_file: cannot read file /nonexistent",
        "filter: uid=%u|routing.ldap.filter: expected a filter in parentheses such as (uid=%u), found \"uid=%u\"",
        "filter: (uid=%x)|routing.ldap.filter: unknown placeholder %x (known: %u, %n, %d, %%)",
        "filter: (uid=alice)|routing.ldap.filter: the filter names no user: put %u (or %n, %d) in it, as in (uid=%u)",
        "attribute: mail host|routing.ldap.attribute: expected an attribute name such as mailHost, found \"mail host\"",
        "url: ldap://a ldaps://b|routing.ldap.url: mixes ldap:// and ldaps:// URLs; use one scheme (with start_tls for ldap://)",
        "ca: /nonexistent|routing.ldap.ca: cannot read file /nonexistent",
        "max_connections: 0|routing.ldap.max_connections: 0 is out of range (expected: 1 to 64)",
        "colour: blue|routing.ldap.colour: unknown key (known keys: attribute, base, bind_dn, bind_password, bind_password_file, ca, cache_size, cache_ttl, filter, group_attribute, max_connections, negative_ttl, start_tls, timeout, url)",
    })
    void badValuesNameTheirKeyPath(String extra, String message) {
        String lines = ("    " + extra.strip().replace("\\n", "\n    ")) + "\n";
        String yaml = BASE.replace(URL, "") + (lines.contains("url:") ? "" : URL) + lines;
        assertThatThrownBy(() -> PosternConfig.parse(yaml)).isInstanceOf(ConfigException.class).hasMessage(message);
    }

    @Test
    void theLdapSectionBelongsToTheLdapStrategy() {
        assertThatThrownBy(() -> PosternConfig.parse(BASE.replace("strategy: ldap", "strategy: static")))
                .hasMessage("routing.ldap: only used with strategy: ldap");
        assertThatThrownBy(() -> PosternConfig.parse(BASE.replace("    base: ou=people,dc=example,dc=org\n", "")))
                .hasMessage("routing.ldap.base: required");
    }

    @Test
    void theCaIsForTlsAndMustHoldCertificates(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("junk.pem"), "not a certificate\n");
        String withCa = BASE + "    ca: \"" + dir.resolve("junk.pem") + "\"\n";
        assertThatThrownBy(() -> PosternConfig.parse(withCa))
                .hasMessage("routing.ldap.ca: only used with ldaps:// URLs or start_tls: true");
        assertThatThrownBy(() -> PosternConfig.parse(withCa.replace("url: ldap://", "url: ldaps://")))
                .hasMessageStartingWith("routing.ldap.ca: " + dir.resolve("junk.pem") + ": ");
    }
}
