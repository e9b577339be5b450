package io.postern.proxy.cli;

import io.postern.policies.audit.AuditChain;
import io.postern.policies.audit.AuditVerifier;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code postern.jar audit verify}: checks an audit log's HMAC chain. */
@Command(name = "audit", mixinStandardHelpOptions = true, description = "Audit log tools.",
        subcommands = AuditCommand.Verify.class)
final class AuditCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getErr());
    }

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = "Checks audit log files (the current one and its rotated predecessors, in any order): every "
                    + "record's MAC, the chain from one record to the next and across files, no record missing or "
                    + "reordered, no gap record, no torn last line. Exit status 0 when all is well, 1 at the first finding.")
    static final class Verify implements Callable<Integer> {
        @Option(names = "--key-file", required = true, description = "the file holding the HMAC key (as in audit.key_file)")
        Path keyFile;

        @Parameters(arity = "1..*", paramLabel = "FILE", description = "the log files")
        List<Path> files;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            AuditVerifier.Result r = AuditVerifier.verify(AuditChain.readKey(keyFile), files);
            if (r.ok()) {
                spec.commandLine().getOut().println(r.describe());
                return 0;
            }
            spec.commandLine().getOut().println("FAILED: " + r.describe());
            return PosternCli.EXIT_FAILURE;
        }
    }
}
