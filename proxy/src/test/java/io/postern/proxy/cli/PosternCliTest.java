package io.postern.proxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PosternCliTest {

    @TempDir
    Path dir;

    private record Result(int status, String out, String err) {}

    private Result run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int status = PosternCli.execute(args);
            return new Result(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
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
    void runRefusesABadConfigBeforeBinding() throws Exception {
        Path file = write("listeners: []\n");
        Result r = run("run", "--config", file.toString());
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("listeners: at least one listener is required");
    }
}
