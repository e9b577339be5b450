package io.postern.bench.workload;

import io.postern.bench.report.RunResult;

/** One measured workload; each run is bounded in count (its own options) and in time ({@link Context#time()}). */
public interface Workload {

    String name();

    RunResult run(Context context) throws Exception;
}
