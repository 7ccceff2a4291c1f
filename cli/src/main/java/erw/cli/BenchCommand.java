package erw.cli;

import erw.engine.cpu.GemmBenchmark;
import erw.engine.host.WorkerPool;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code erw bench gemm | train}: throughput figures, next to the peer's when it is installed. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks: CPU GEMM GFLOP/s (vs OpenBLAS), training-step img/s, SDE sampling, SD-VAE decoding (vs PyTorch).",
        subcommands = {BenchCommand.Gemm.class, TrainBenchCommand.class, SampleBenchCommand.class, VaeBenchCommand.class, ConvergeCommand.class})
public final class BenchCommand implements Runnable {
    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    @Command(name = "gemm", mixinStandardHelpOptions = true, description = "GFLOP/s of the CPU SGEMM on 2048^3 and SiT shapes, with numpy/OpenBLAS's at its best on this machine (and as installed) in the same run.")
    static final class Gemm implements Callable<Integer> {
        @Option(names = "--shapes", split = ",", description = "MxNxK list (default ${DEFAULT-VALUE}).")
        List<String> shapes = List.of("2048x2048x2048", "4096x1152x384", "4096x384x1536");

        @Option(names = "--threads", description = "Worker threads (default: cores).")
        int threads = WorkerPool.defaultThreads();

        @Option(names = "--repeats", description = "Timed repeats, best kept (default ${DEFAULT-VALUE}).")
        int repeats = 5;

        @Option(names = "--no-peer", description = "Skip the OpenBLAS comparison.")
        boolean noPeer;

        @Option(names = "--trans", description = "Transposes of A and B: NN, NT, TN or TT (default ${DEFAULT-VALUE}; the peer is always NN).")
        String trans = "NN";

        @Override
        public Integer call() {
            String tr = trans.toUpperCase(Locale.ROOT);
            if (!tr.matches("[NT][NT]")) throw new IllegalArgumentException("--trans '" + trans + "': use NN, NT, TN or TT");
            List<int[]> dims = new ArrayList<>();
            for (String s : shapes) {
                String[] p = s.toLowerCase(Locale.ROOT).split("x");
                if (p.length != 3) throw new IllegalArgumentException("--shapes: '" + s + "' is not MxNxK");
                dims.add(new int[]{Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2])});
            }
            try (WorkerPool pool = new WorkerPool(threads)) {
                System.out.printf("%-18s %12s %14s %8s %14s  %s%n", "shape (MxNxK)", "erw GFLOP/s", "peer at best", "ratio", "peer installed", "peer's best configuration");
                for (GemmBenchmark.Result r : GemmBenchmark.run(pool, dims, repeats, tr.charAt(0) == 'T', tr.charAt(1) == 'T')) {
                    GemmBenchmark.Peer peer = noPeer ? null : GemmBenchmark.openBlasBest(r.m(), r.n(), r.k(), threads);
                    System.out.printf(Locale.ROOT, "%-18s %12.1f %14s %8s %14s  %s%n", r.m() + "x" + r.n() + "x" + r.k(), r.gflops(),
                            peer == null ? "n/a" : String.format(Locale.ROOT, "%.1f", peer.gflops()),
                            peer == null ? "" : String.format(Locale.ROOT, "%.2f", r.gflops() / peer.gflops()),
                            peer == null ? "" : String.format(Locale.ROOT, "%.1f", peer.defaultGflops()), peer == null ? "" : peer.config());
                }
                System.out.println("threads: " + threads + (noPeer ? "" : "; peer: numpy's matmul (bench/numpy_gemm.py --best: the BLAS builds installed and "
                        + "the OpenBLAS core types this CPU runs, fastest kept; OPENBLAS_NUM_THREADS=" + threads + ")"));
                System.out.println("erw's blocking: " + erw.engine.cpu.Sgemm.describe());
            }
            return 0;
        }
    }

    static void printProfile(Map<String, long[]> prof) {
        long total = prof.values().stream().mapToLong(v -> v[0]).sum();
        System.out.printf("%-48s %8s %10s %10s%n", "op", "share", "ms/call", "GFLOP/s");
        prof.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0])).forEach(e -> {
            long[] v = e.getValue();
            System.out.printf(Locale.ROOT, "%-48s %7.1f%% %10.3f %10s%n", e.getKey(), 100.0 * v[0] / total, v[0] / 1e6 / v[1],
                    v[2] > 0 ? String.format(Locale.ROOT, "%.1f", v[2] / (double) v[0]) : "");
        });
    }
}
