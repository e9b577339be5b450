package io.postern.bench.workload;

import io.postern.bench.client.ClientRuntime;
import io.postern.bench.client.Target;
import io.postern.bench.report.Output;
import io.postern.bench.report.RunResult;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * A workload as a command: run once against {@code --target}, or, under {@code compare},
 * interleaved against two targets.
 */
public abstract class WorkloadCommand implements Workload, Callable<Integer> {

    @Mixin
    protected CommonOptions common = new CommonOptions();

    @ParentCommand
    private Object parent;

    @Spec
    private CommandSpec spec;

    /** The command name, e.g. {@code fetch}. */
    @Override
    public String name() {
        return getClass().getAnnotation(CommandLine.Command.class).name();
    }

    public CommonOptions common() {
        return common;
    }

    @Override
    public Integer call() throws Exception {
        if (parent instanceof CompareCommand compare) {
            if (common.target() != null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--target does not go with compare: use --a and --b");
            }
            return compare.compare(this);
        }
        if (common.target() == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--target is required");
        }
        Target target = common.target(common.target());
        try (ClientRuntime runtime = new ClientRuntime(common.threads())) {
            RunResult result = runOnce(runtime, target);
            Output.emit(result, common.json());
            return result.errors().isEmpty() ? 0 : 1;
        }
    }

    /** One run against one target, timed. */
    public RunResult runOnce(ClientRuntime runtime, Target target) throws Exception {
        Context context = new Context(runtime, target, common.credentials(), common.time(), common.compress());
        long start = System.nanoTime();
        long wireIn = runtime.wireBytesIn();
        long wireOut = runtime.wireBytesOut();
        RunResult result = run(context);
        result.parameter("compress", common.compress())
                .metric("wire_bytes_in", runtime.wireBytesIn() - wireIn)
                .metric("wire_bytes_out", runtime.wireBytesOut() - wireOut);
        if (result.seconds() == 0) {
            result.seconds(Context.seconds(start, System.nanoTime()));
        }
        return result;
    }
}
