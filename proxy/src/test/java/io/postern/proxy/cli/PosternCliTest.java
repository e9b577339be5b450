package io.postern.proxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PosternCliTest {

    @TempDir
    Path dir;

    private record Result(int status, String out, String err) {}

    private Result run(String... args) {
        CliRun.Result r = CliRun.run(args);
        return new Result(r.status(), r.out(), r.err());
    }

    private Path write(String yaml) throws Exception {
        Path file = dir.resolve("postern.yml");
        Files.writeString(file, yaml);
        return file;
    }

    @Test
    void checkConfigAcceptsAGoodFile() throws Exception {
        Path file = write(io.postern.proxy.config.PosternConfigTest.GOOD);
        Result r = run("check-config", "--config", file.toString());
        assertThat(r.status()).isZero();
        assertThat(r.out()).contains("ok (1 listener(s), 2 backend(s), routing static)");
    }

    @Test
    void checkConfigRejectsABadFileWithStatus2AndTheKeyPath() throws Exception {
        Path file = write(io.postern.proxy.config.PosternConfigTest.GOOD.replace("default: shard-a", "default: shard-c"));
        Result r = run("check-config", "--config", file.toString());
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("routing.default: unknown backend \"shard-c\"").contains(file.toString());
    }

    @Test
    void missingFileAndBadUsageExitWith2() throws Exception {
        assertThat(run("check-config", "--config", dir.resolve("nope.yml").toString()).status()).isEqualTo(2);
        assertThat(run("run").status()).isEqualTo(2);
        assertThat(run("frobnicate").status()).isEqualTo(2);
    }

    @Test
    void routePrintsTheBackendOfAUser() throws Exception {
        Path file = write(io.postern.proxy.config.PosternConfigTest.GOOD);
        assertThat(run("route", "--config", file.toString(), "alice").out().trim()).isEqualTo("shard-b");
        assertThat(run("route", "--config", file.toString(), "carol").out().trim()).isEqualTo("shard-a");
    }

    @Test
    void certGenerateWritesAPairThatLoads() throws Exception {
        Path out = dir.resolve("certs");
        Result r = run("cert", "generate", "--cn", "mail.example.test", "--san", "127.0.0.1", "--out", out.toString());
        assertThat(r.status()).as(r.err()).isZero();
        io.postern.tls.PemKeyPair pair =
                io.postern.tls.PemKeyPair.load(out.resolve("server.crt"), out.resolve("server.key"), null);
        assertThat(pair.dnsNames()).contains("mail.example.test");
        assertThat(pair.leaf().getSubjectX500Principal().getName()).contains("CN=mail.example.test");
        Result help = run("cert", "generate", "--help");
        assertThat(help.status()).isZero();
        assertThat(help.out()).contains("--cn").contains("--out");
    }

    @Test
    void checkConfigLoadsCertificatesAndNamesTheFileOfAnExpiredOne() throws Exception {
        io.postern.tls.testing.TestCertificates ca =
                io.postern.tls.testing.TestCertificates.newCa(java.nio.file.Files.createDirectories(dir.resolve("ca")));
        io.postern.tls.testing.TestCertificates.Issued expired = ca.server("old.example.test").expired().issue();
        io.postern.tls.testing.TestCertificates.Issued good = ca.server("mail.example.test").issue();
        io.postern.tls.testing.TestCertificates.Issued other = ca.server("other.example.test").issue();
        String listeners = "listeners:\n  - {name: imaps, bind: \"127.0.0.1:0\", tls: implicit}\n"
                + "backends:\n  - {name: b, address: \"127.0.0.1:143\"}\nrouting: {strategy: static}\n";
        Path ok = write(listeners + "tls:\n  certificates:\n    - {cert: \"" + good.cert() + "\", key: \"" + good.key() + "\"}\n");
        assertThat(run("check-config", "--config", ok.toString()).status()).isZero();

        Path old = write(listeners + "tls:\n  certificates:\n    - {cert: \"" + expired.cert() + "\", key: \"" + expired.key() + "\"}\n");
        Result r = run("check-config", "--config", old.toString());
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains(expired.cert().toString()).contains("expired");

        Path mismatch = write(listeners + "tls:\n  certificates:\n    - {cert: \"" + good.cert() + "\", key: \"" + other.key() + "\"}\n");
        r = run("check-config", "--config", mismatch.toString());
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains(other.key().toString()).contains("does not match");
    }

    @Test
    void runRefusesABadConfigBeforeBinding() throws Exception {
        Path file = write("listeners: []\n");
        Result r = run("run", "--config", file.toString());
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("listeners: at least one listener is required");
    }
}
