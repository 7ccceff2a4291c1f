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

        @Option(names = "--rounds", description = "Rounds per shape (default ${DEFAULT-VALUE}): erw and the peer timed back to back on the "
                + "shape (best of --repeats calls each, which side first alternating, 0.2 s apart); the medians and the median and middle "
                + "half of the rounds' ratios are reported. On a shared VM both sides' speed drifts by 10-30%% within minutes; pairs seconds "
                + "apart see the same drift. The peer's configurations are searched once per shape first; those within 10%% of the best "
                + "are kept running and each timed in every round, the fastest kept.")
        int rounds = 10;

        @Option(names = "--anatomy", description = "Also where the first shape's time goes: the FMA peak, the micro-kernel alone (no "
                + "packing) and the whole GEMM, in turn in each of --rounds rounds (NN), with the shares within each round.")
        boolean anatomy;

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
            if (rounds < 1) throw new IllegalArgumentException("--rounds must be >= 1, got " + rounds);
            try (WorkerPool pool = new WorkerPool(threads)) {
                int shapesCount = dims.size();
                double[][] mine = new double[shapesCount][rounds], theirs = new double[shapesCount][rounds];
                GemmBenchmark.Peer[] best = new GemmBenchmark.Peer[shapesCount];
                GemmBenchmark.Workload work = new GemmBenchmark.Workload(pool, dims, tr.charAt(0) == 'T', tr.charAt(1) == 'T');
                Map<String, GemmBenchmark.PeerServer> servers = new java.util.LinkedHashMap<>(); // one per configuration in use
                List<List<GemmBenchmark.Peer>> contenders = new ArrayList<>();
                List<Map<String, Integer>> wins = new ArrayList<>();
                try {
                    for (int s = 0; s < shapesCount; s++) {
                        int[] d = dims.get(s);
                        GemmBenchmark.Peer b = noPeer ? null : GemmBenchmark.openBlasBest(d[0], d[1], d[2], threads);
                        best[s] = b;
                        contenders.add(b == null ? List.of() : GemmBenchmark.contenders(b, CONTENDERS_WITHIN));
                        wins.add(new java.util.LinkedHashMap<>());
                        for (GemmBenchmark.Peer c : contenders.get(s)) servers.computeIfAbsent(c.config(), x -> GemmBenchmark.PeerServer.start(threads, c));
                    }
                    for (int r = 0; r < rounds; r++) {
                        for (int s = 0; s < shapesCount; s++) {
                            int[] d = dims.get(s);
                            double p = Double.NaN;
                            String won = null;
                            // erw first in even rounds, last in odd ones; the peer's contenders in between, the fastest kept
                            if (r % 2 == 0) {
                                pause();
                                mine[s][r] = work.time(s, repeats).gflops();
                            }
                            for (GemmBenchmark.Peer c : contenders.get(s)) {
                                GemmBenchmark.PeerServer server = servers.get(c.config());
                                if (server == null) continue;
                                pause();
                                Double g = server.gflops(d[0], d[1], d[2], repeats);
                                if (g != null && !(g <= p)) {
                                    p = g;
                                    won = c.config();
                                }
                            }
                            if (r % 2 == 1) {
                                pause();
                                mine[s][r] = work.time(s, repeats).gflops();
                            }
                            theirs[s][r] = p;
                            if (won != null) wins.get(s).merge(won, 1, Integer::sum);
                        }
                    }
                } finally {
                    servers.values().forEach(v -> {
                        if (v != null) v.close();
                    });
                }
                System.out.printf("%-18s %12s %14s %8s %12s %14s  %s%n", "shape (MxNxK)", "erw GFLOP/s", "peer at best", "ratio",
                        "ratio q1-q3", "peer installed", "peer's fastest configuration in the rounds");
                for (int s = 0; s < shapesCount; s++) {
                    int[] d = dims.get(s);
                    double[] ratios = GemmBenchmark.ratios(mine[s], theirs[s]);
                    double[] peers = java.util.Arrays.stream(theirs[s]).filter(v -> !Double.isNaN(v)).toArray();
                    boolean peer = best[s] != null && ratios.length > 0;
                    System.out.printf(Locale.ROOT, "%-18s %12.1f %14s %8s %12s %14s  %s%n", d[0] + "x" + d[1] + "x" + d[2], GemmBenchmark.median(mine[s]),
                            peer ? String.format(Locale.ROOT, "%.1f", GemmBenchmark.median(peers)) : "n/a",
                            peer ? String.format(Locale.ROOT, "%.2f", GemmBenchmark.median(ratios)) : "",
                            peer && ratios.length > 1 ? GemmBenchmark.quartiles(ratios) : "",
                            peer ? String.format(Locale.ROOT, "%.1f", best[s].defaultGflops()) : "", peer ? roundsWon(wins.get(s)) : "");
                }
                System.out.println("rounds: " + rounds + " per shape, each erw and the peer back to back (best of " + repeats + " calls each, "
                        + "alternately erw or the peer first; the peer in each configuration within " + Math.round(CONTENDERS_WITHIN * 100)
                        + "% of its search's best, the fastest kept); the figures are medians over the rounds, the ratio the median of the rounds' ratios");
                System.out.println("threads: " + threads + (noPeer ? "" : "; peer: numpy's matmul (bench/numpy_gemm.py --best: the BLAS builds installed and "
                        + "the OpenBLAS core types this CPU runs, fastest kept; OPENBLAS_NUM_THREADS=" + threads + ")"));
                System.out.println("erw's blocking: " + erw.engine.cpu.Sgemm.describe());
                if (anatomy) {
                    int[] d = dims.get(0);
                    GemmBenchmark.Anatomy a = GemmBenchmark.anatomy(pool, d, rounds);
                    System.out.printf(Locale.ROOT, "anatomy of %dx%dx%d, %d threads, medians of %d rounds (GFLOP/s): FMAs alone %.1f; micro-kernel "
                                    + "alone (A panels from L1, the B block from L2, no packing) %.1f = %.2f of the FMAs; whole GEMM %.1f = %.2f of the "
                                    + "kernel alone%n", d[0], d[1], d[2], threads, rounds, a.fmas(), a.kernel(), a.kernelShare(), a.gemm(), a.gemmShare());
                }
            }
            return 0;
        }
    }

    /**
     * Between any two timings of {@code bench gemm}: OpenBLAS's idle threads keep polling (sched_yield) for about a tenth
     * of a second after a call, erw's workers spin about a millisecond before they park; neither should run beside the other.
     */
    private static final long PAUSE_MS = 200;

    /** Peer configurations within this fraction of the search's best are all timed in every round (the faster kept). */
    private static final double CONTENDERS_WITHIN = 0.10;

    /** "CONFIG (n of N rounds)" for the configurations that were the peer's fastest, most rounds first. */
    static String roundsWon(Map<String, Integer> wins) {
        int total = wins.values().stream().mapToInt(Integer::intValue).sum();
        if (wins.size() == 1) return wins.keySet().iterator().next();
        return wins.entrySet().stream().sorted((x, y) -> y.getValue() - x.getValue())
                .map(e -> e.getKey() + " (" + e.getValue() + " of " + total + ")").collect(java.util.stream.Collectors.joining(", "));
    }

    private static void pause() {
        try {
            Thread.sleep(PAUSE_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
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
