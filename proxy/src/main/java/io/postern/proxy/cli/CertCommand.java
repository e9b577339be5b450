package io.postern.proxy.cli;

import io.postern.tls.SelfSignedCertificates;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code postern.jar cert generate}: a self-signed certificate and key, for tests and trials. */
@Command(name = "cert", mixinStandardHelpOptions = true, description = "Certificate tools.",
        subcommands = CertCommand.Generate.class)
final class CertCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getErr());
    }

    @Command(name = "generate", mixinStandardHelpOptions = true, description = "Writes a self-signed server.crt and server.key (PKCS#8) into a directory.")
    static final class Generate implements Callable<Integer> {
        @Option(names = "--cn", required = true, description = "the host name (common name, and first subject alternative name)")
        String commonName;

        @Option(names = "--san", description = "more host names or IP addresses for the certificate (repeatable)")
        List<String> alternativeNames = new ArrayList<>();

        @Option(names = "--out", required = true, description = "the directory to write server.crt and server.key to")
        Path out;

        @Option(names = "--days", defaultValue = "365", description = "validity in days (default: ${DEFAULT-VALUE})")
        int days;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            java.nio.file.Files.createDirectories(out);
            List<String> names = new ArrayList<>(List.of(commonName));
            names.addAll(alternativeNames);
            SelfSignedCertificates.Generated g =
                    SelfSignedCertificates.generate(commonName, names, out, Duration.ofDays(days));
            spec.commandLine().getOut().println("certificate: " + g.cert());
            spec.commandLine().getOut().println("key:         " + g.key());
            return 0;
        }
    }
}
