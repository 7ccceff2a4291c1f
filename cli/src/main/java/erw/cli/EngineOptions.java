package erw.cli;

import erw.engine.Backends;
import erw.engine.host.WorkerPool;
import picocli.CommandLine.Option;

/** Where a command computes: backend and worker threads, declared once for every command that runs the engine. */
final class EngineOptions {
    @Option(names = "--backend", description = "cpu | tornado | auto (default ${DEFAULT-VALUE}).") String backend = "auto";
    @Option(names = "--threads", description = "CPU worker threads (default: cores, shared among the ranks of an MPI job on one machine).") Integer threads;

    Backends.Choice choice() {
        return Backends.choose(backend);
    }

    int threads() {
        if (threads != null && threads < 1) throw new IllegalArgumentException("--threads " + threads + " must be >= 1");
        return threads != null ? threads : Launch.defaultThreads(WorkerPool.defaultThreads()); // ranks on one machine share its cores
    }
}
