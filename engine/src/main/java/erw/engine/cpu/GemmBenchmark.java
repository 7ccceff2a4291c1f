package erw.engine.cpu;

import erw.engine.host.WorkerPool;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Throughput of {@link Sgemm} on given shapes, and, for comparison, of numpy's SGEMM (OpenBLAS when
 * numpy is built on it) through {@code bench/numpy_gemm.py}.
 */
public final class GemmBenchmark {
    private GemmBenchmark() {}

    /** One shape's best time over the repeats, as GFLOP/s ({@code 2 m n k} flops). */
    public record Result(int m, int n, int k, double gflops, double bestSeconds) {}

    /**
     * The numpy comparison script, relative to the working directory (the repository root); the
     * system property {@code erw.bench.numpyScript} overrides it.
     */
    public static final String NUMPY_SCRIPT = "bench/numpy_gemm.py";
    private static final String PYTHON = "/usr/bin/python3";

    /** {@code C = A B} with nothing transposed, for each shape {@code {m, n, k}}. */
    public static List<Result> run(WorkerPool pool, List<int[]> shapes, int repeats) {
        return run(pool, shapes, repeats, false, false);
    }

    /**
     * {@code C = op(A) op(B)} for each shape {@code {m, n, k}}: warms up on all the shapes in turn (at
     * least two calls each and about two seconds in all), then keeps each shape's best of {@code repeats}
     * timed calls. C2 compiles the kernels, the blocked loop and the parallel loop's lambda on the cores the
     * GEMMs keep busy, and each shape's own half second of warm-up was not enough: the first shape of a run
     * measured 20-40% low (2-core Xeon: 4096x1152x384 at 198 GFLOP/s first, 321 after another shape), which
     * a training run, where every shape runs thousands of times, never sees.
     */
    public static List<Result> run(WorkerPool pool, List<int[]> shapes, int repeats, boolean transA, boolean transB) {
        Workload w = new Workload(pool, shapes, transA, transB);
        List<Result> out = new ArrayList<>();
        for (int i = 0; i < shapes.size(); i++) out.add(w.time(i, repeats));
        return out;
    }

    /**
     * erw's side of the benchmark: each shape's operands, made once (seeded), and the warm-up of {@link #run}; then
     * {@link #time} a shape as often as wanted (the paired rounds of {@code erw bench gemm}).
     */
    public static final class Workload {
        private final WorkerPool pool;
        private final List<int[]> shapes;
        private final boolean transA, transB;
        private final List<float[][]> operands = new ArrayList<>();

        public Workload(WorkerPool pool, List<int[]> shapes, boolean transA, boolean transB) {
            this.pool = pool;
            this.shapes = List.copyOf(shapes);
            this.transA = transA;
            this.transB = transB;
            for (int[] s : shapes) {
                int m = s[0], n = s[1], k = s[2];
                SplittableRandom rnd = new SplittableRandom(0x5eed + m * 31L + n * 17L + k);
                float[] a = new float[Math.multiplyExact(m, k)], b = new float[Math.multiplyExact(k, n)];
                float[] c = new float[Math.multiplyExact(m, n)];
                for (int i = 0; i < a.length; i++) a[i] = (float) (rnd.nextDouble() - 0.5);
                for (int i = 0; i < b.length; i++) b[i] = (float) (rnd.nextDouble() - 0.5);
                operands.add(new float[][] {a, b, c});
            }
            long warmUntil = System.nanoTime() + 2_000_000_000L;
            for (int w = 0; w < 2 || (System.nanoTime() < warmUntil && w < 1000); w++) {
                for (int i = 0; i < shapes.size(); i++) gemm(i);
            }
        }

        private void gemm(int i) {
            int[] s = shapes.get(i);
            float[][] o = operands.get(i);
            Sgemm.gemm(pool, transA, transB, s[0], s[1], s[2], o[0], 0, o[1], 0, o[2], 0, false);
        }

        /** Shape {@code i}'s best of {@code repeats} timed calls. */
        public Result time(int i, int repeats) {
            if (repeats < 1) throw new IllegalArgumentException("repeats must be >= 1, got " + repeats);
            int m = shapes.get(i)[0], n = shapes.get(i)[1], k = shapes.get(i)[2];
            long best = Long.MAX_VALUE;
            for (int r = 0; r < repeats; r++) {
                long t0 = System.nanoTime();
                gemm(i);
                best = Math.min(best, System.nanoTime() - t0);
            }
            double seconds = Math.max(best, 1) * 1e-9;
            return new Result(m, n, k, 2.0 * m * n * k / seconds * 1e-9, seconds);
        }
    }

    /**
     * The peer kept running ({@code bench/numpy_gemm.py --serve} in one configuration), so that it can be timed right
     * after erw on the same shape, many times, without a process start and numpy import each time. One request at a
     * time; {@link #close} ends the process.
     */
    public static final class PeerServer implements AutoCloseable {
        private final Process process;
        private final java.io.BufferedWriter in;
        private final java.io.BufferedReader out;

        private PeerServer(Process process) {
            this.process = process;
            this.in = new java.io.BufferedWriter(new java.io.OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8));
            this.out = new java.io.BufferedReader(new java.io.InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        }

        /** The peer in {@code config} with {@code threads} threads, or null when it cannot start (no script, Python or numpy). */
        public static PeerServer start(int threads, Peer config) {
            ProcessBuilder pb = numpy(List.of("--serve"), threads, config);
            if (pb == null) return null;
            try {
                return new PeerServer(pb.redirectError(ProcessBuilder.Redirect.DISCARD).start());
            } catch (IOException e) {
                return null;
            }
        }

        /** numpy's matmul on {@code m x n x k}, best of {@code repeats} calls, in GFLOP/s; null when the peer failed. */
        public Double gflops(int m, int n, int k, int repeats) {
            String shape = m + "x" + n + "x" + k;
            try {
                in.write(shape + " " + repeats + "\n");
                in.flush();
                String line = out.readLine();
                return line == null ? null : parseGflops(line, shape);
            } catch (IOException e) {
                return null;
            }
        }

        @Override
        public void close() {
            try {
                in.close();
            } catch (IOException ignored) {
                // the process is gone already
            }
            try {
                if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly();
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Where a GEMM's time goes on this machine, all figures in GFLOP/s on all the pool's threads: {@code fmas} the
     * machine's FMA peak as Java reaches it (16 independent FMA chains a thread, no memory), {@code kernel} the main
     * micro-kernel in the blocked loop's pattern without packing (A micro-panels from L1, the B block from L2, C in L2;
     * {@link Sgemm#kernelSweep}), {@code gemm} the whole GEMM of {@code shape}. Each a median over {@code rounds} rounds
     * that run the three in turn, with each round's {@code kernel / fmas} and {@code gemm / kernel}: on a shared VM
     * the machine's speed changes from one second to the next, the shares within a round much less.
     */
    public record Anatomy(double fmas, double kernel, double gemm, double kernelShare, double gemmShare) {}

    public static Anatomy anatomy(WorkerPool pool, int[] shape, int rounds) {
        int threads = pool.threads(), nc = Sgemm.NC;
        int[] sizes = Sgemm.kernelSweepSizes(nc);
        float[][][] ops = new float[threads][][];
        for (int t = 0; t < threads; t++) ops[t] = new float[][] {new float[sizes[0]], new float[sizes[1]], new float[sizes[2]], new float[64]};
        Workload gemm = new Workload(pool, List.of(shape), false, false);
        double[] f = new double[rounds], kr = new double[rounds], g = new double[rounds];
        for (int r = -1; r < rounds; r++) { // round -1 warms up
            double fr = timed(pool, ops, 0), krr = timed(pool, ops, 1), gr = gemm.time(0, 5).gflops();
            if (r >= 0) {
                f[r] = fr;
                kr[r] = krr;
                g[r] = gr;
            }
        }
        return new Anatomy(median(f), median(kr), median(g), median(ratios(kr, f)), median(ratios(g, kr)));
    }

    /** {@code what} (0: FMAs alone, 1: the kernel sweep) on every thread for 0.3 s; GFLOP/s of all together. */
    private static double timed(WorkerPool pool, float[][][] ops, int what) {
        long[] flops = new long[ops.length];
        long t0 = System.nanoTime();
        pool.parallelFor(ops.length, 1, (lo, hi) -> {
            for (int t = lo; t < hi; t++) {
                long end = System.nanoTime() + 300_000_000L, done = 0;
                while (System.nanoTime() < end) done += what == 0 ? fmas(ops[t][3]) : Sgemm.kernelSweep(ops[t][0], ops[t][1], ops[t][2], Sgemm.NC);
                flops[t] = done;
            }
        });
        double seconds = (System.nanoTime() - t0) * 1e-9;
        return java.util.Arrays.stream(flops).sum() / seconds * 1e-9;
    }

    private static final jdk.incubator.vector.VectorSpecies<Float> S = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;

    /** 16 independent chains of 20,000 FMAs each (enough to cover two FMA units' latency); the sums go to {@code sink}. */
    private static long fmas(float[] sink) {
        var x = jdk.incubator.vector.FloatVector.broadcast(S, 0.999f);
        var y = jdk.incubator.vector.FloatVector.broadcast(S, 1e-6f);
        jdk.incubator.vector.FloatVector a0 = y, a1 = y, a2 = y, a3 = y, a4 = y, a5 = y, a6 = y, a7 = y;
        jdk.incubator.vector.FloatVector a8 = y, a9 = y, a10 = y, a11 = y, a12 = y, a13 = y, a14 = y, a15 = y;
        for (int i = 0; i < 20_000; i++) {
            a0 = a0.fma(x, y); a1 = a1.fma(x, y); a2 = a2.fma(x, y); a3 = a3.fma(x, y);
            a4 = a4.fma(x, y); a5 = a5.fma(x, y); a6 = a6.fma(x, y); a7 = a7.fma(x, y);
            a8 = a8.fma(x, y); a9 = a9.fma(x, y); a10 = a10.fma(x, y); a11 = a11.fma(x, y);
            a12 = a12.fma(x, y); a13 = a13.fma(x, y); a14 = a14.fma(x, y); a15 = a15.fma(x, y);
        }
        a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11).add(a12).add(a13).add(a14).add(a15)
                .intoArray(sink, 0);
        return 20_000L * 16 * 2 * S.length();
    }

    private static final Pattern GFLOPS = Pattern.compile("\"gflops\"\\s*:\\s*([-+0-9.eE]+)");
    private static final Pattern SHAPE = Pattern.compile("\"shape\"\\s*:\\s*\"([0-9]+x[0-9]+x[0-9]+)\"");

    /** The peer at its best on this machine: GFLOP/s and configuration of the fastest, and the figure as installed. */
    public record Peer(double gflops, String config, double defaultGflops, Map<String, Double> tried) {
        /** A configuration without the search's other figures. */
        public Peer(double gflops, String config, double defaultGflops) {
            this(gflops, config, defaultGflops, Map.of());
        }

        /**
         * The environment of {@link #config()} ({@code as installed}, or words {@code NAME=value} such as
         * {@code OPENBLAS_CORETYPE=SKYLAKEX}), for running another OpenBLAS user (PyTorch) the same way.
         */
        public Map<String, String> environment() {
            Map<String, String> env = new java.util.LinkedHashMap<>();
            for (String w : config.trim().split("\\s+")) {
                int eq = w.indexOf('=');
                if (eq > 0) env.put(w.substring(0, eq), w.substring(eq + 1));
            }
            return env;
        }

        /** Sets {@link #environment()} in a child process's environment ({@code LD_LIBRARY_PATH} goes in front of what is there). */
        public void applyTo(Map<String, String> processEnv) {
            environment().forEach((k, v) -> processEnv.merge(k, v, k.equals("LD_LIBRARY_PATH") ? (old, dir) -> dir + ":" + old : (old, val) -> val));
        }
    }

    /**
     * numpy's matmul in the fastest configuration of those {@code bench/numpy_gemm.py --best} tries
     * (other installed BLAS builds when Debian's libblas.so.3 is the reference BLAS, OpenBLAS core types
     * the CPU supports), next to its figure as installed; null when the peer cannot run.
     */
    public static Peer openBlasBest(int m, int n, int k, int threads) {
        String shape = m + "x" + n + "x" + k, out = runNumpy(List.of("--best", shape), threads, null);
        Double best = out == null ? null : parseGflops(out, shape);
        if (best == null) return null;
        for (String line : out.split("\\R")) {
            Matcher s = SHAPE.matcher(line), c = CONFIG.matcher(line), d = DEFAULT.matcher(line);
            if (s.find() && s.group(1).equals(shape) && c.find() && d.find()) return new Peer(best, c.group(1), Double.parseDouble(d.group(1)), tried(line));
        }
        return null;
    }

    /**
     * The configurations of a {@link #openBlasBest} search whose figure came within {@code within} (a fraction) of the
     * best one's, the best first: a single search run picks between near-equal configurations (OpenBLAS's SKYLAKEX
     * and COOPERLAKE kernels on an Intel Xeon) by the noise of that moment, so {@code bench gemm} times each of
     * these in every round and keeps the faster. {@code best} itself when its search printed no list.
     */
    public static List<Peer> contenders(Peer best, double within) {
        List<Peer> out = new ArrayList<>(List.of(best));
        best.tried().forEach((config, gflops) -> {
            if (!config.equals(best.config()) && gflops >= (1 - within) * best.gflops()) out.add(new Peer(gflops, config, best.defaultGflops(), Map.of()));
        });
        return out;
    }

    /**
     * numpy's matmul GFLOP/s on one shape in the peer configuration {@code config} (as {@link #openBlasBest} found it),
     * one run of {@code bench/numpy_gemm.py} without the search; null when the peer cannot run.
     */
    public static Double openBlas(int m, int n, int k, int threads, Peer config) {
        String shape = m + "x" + n + "x" + k, out = runNumpy(List.of(shape), threads, config);
        return out == null ? null : parseGflops(out, shape);
    }

    /** The median of {@code x} (the mean of the middle two for an even count); NaN when empty. */
    public static double median(double[] x) {
        if (x.length == 0) return Double.NaN;
        double[] s = x.clone();
        java.util.Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** "min-max" of {@code x} with two decimals (the range of rounds' ratios), "" when empty. */
    public static String span(double[] x) {
        if (x.length == 0) return "";
        return String.format(java.util.Locale.ROOT, "%.2f-%.2f", java.util.Arrays.stream(x).min().orElseThrow(), java.util.Arrays.stream(x).max().orElseThrow());
    }

    /** "q1-q3" of {@code x} with two decimals (the middle half of the rounds' ratios, the quartiles interpolated), "" when empty. */
    public static String quartiles(double[] x) {
        if (x.length == 0) return "";
        double[] s = x.clone();
        java.util.Arrays.sort(s);
        return String.format(java.util.Locale.ROOT, "%.2f-%.2f", quantile(s, 0.25), quantile(s, 0.75));
    }

    /** The {@code q} quantile of sorted {@code s}, linear between order statistics (numpy's default). */
    static double quantile(double[] s, double q) {
        double pos = q * (s.length - 1);
        int lo = (int) Math.floor(pos), hi = Math.min(s.length - 1, lo + 1);
        return s[lo] + (pos - lo) * (s[hi] - s[lo]);
    }

    /** {@code mine[r] / theirs[r]} for every round r whose peer figure is a number (a peer that failed to run is NaN). */
    public static double[] ratios(double[] mine, double[] theirs) {
        return java.util.stream.IntStream.range(0, Math.min(mine.length, theirs.length)).filter(r -> !Double.isNaN(theirs[r]))
                .mapToDouble(r -> mine[r] / theirs[r]).toArray();
    }

    private static final Pattern TRIED = Pattern.compile("\"tried\"\\s*:\\s*\\{([^}]*)\\}");
    private static final Pattern ENTRY = Pattern.compile("\"([^\"]*)\"\\s*:\\s*([-+0-9.eE]+)");

    /** The {@code "tried"} object of a {@code --best} line: each configuration's GFLOP/s, in the search's order. */
    static Map<String, Double> tried(String line) {
        Map<String, Double> out = new java.util.LinkedHashMap<>();
        Matcher t = TRIED.matcher(line);
        if (!t.find()) return out;
        Matcher e = ENTRY.matcher(t.group(1));
        while (e.find()) out.put(e.group(1), Double.parseDouble(e.group(2)));
        return out;
    }

    private static final Pattern CONFIG = Pattern.compile("\"config\"\\s*:\\s*\"([^\"]*)\"");
    private static final Pattern DEFAULT = Pattern.compile("\"default_gflops\"\\s*:\\s*([-+0-9.eE]+)");

    /**
     * The output of {@code /usr/bin/python3 bench/numpy_gemm.py ARGS} with {@code OPENBLAS_NUM_THREADS},
     * {@code OMP_NUM_THREADS} and {@code MKL_NUM_THREADS} set to {@code threads} and the environment of {@code config}
     * (null: none); null when the script, Python or numpy is missing or the script fails.
     */
    private static String runNumpy(List<String> args, int threads, Peer config) {
        ProcessBuilder pb = numpy(args, threads, config);
        if (pb == null) return null;
        pb.redirectErrorStream(true);
        try {
            Process p = pb.start();
            p.getOutputStream().close();
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            Thread reader = Thread.ofVirtual().start(() -> {
                try (InputStream in = p.getInputStream()) {
                    in.transferTo(bytes);
                } catch (IOException ignored) {
                    // the process died; whatever was read is parsed below
                }
            });
            if (!p.waitFor(1800, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return null;
            }
            reader.join(5_000);
            if (p.exitValue() != 0) return null;
            return bytes.toString(StandardCharsets.UTF_8);
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /**
     * The process {@code /usr/bin/python3 bench/numpy_gemm.py ARGS} with {@code OPENBLAS_NUM_THREADS}, {@code OMP_NUM_THREADS}
     * and {@code MKL_NUM_THREADS} set to {@code threads} and the environment of {@code config} (null: none); null when the
     * script or Python is missing.
     */
    private static ProcessBuilder numpy(List<String> args, int threads, Peer config) {
        Path script = Path.of(System.getProperty("erw.bench.numpyScript", NUMPY_SCRIPT));
        if (!Files.isRegularFile(script) || !Files.isExecutable(Path.of(PYTHON))) return null;
        List<String> cmd = new ArrayList<>(List.of(PYTHON, script.toString()));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        Map<String, String> env = pb.environment();
        String t = Integer.toString(Math.max(1, threads));
        env.put("OPENBLAS_NUM_THREADS", t);
        env.put("OMP_NUM_THREADS", t);
        env.put("MKL_NUM_THREADS", t);
        if (config != null) config.applyTo(env);
        return pb;
    }

    /** The gflops of the JSON line for {@code shape} (or of the only JSON line with gflops), else null. */
    static Double parseGflops(String output, String shape) {
        Double any = null;
        int count = 0;
        for (String line : output.split("\\R")) {
            Matcher g = GFLOPS.matcher(line);
            if (!g.find()) continue;
            double v;
            try {
                v = Double.parseDouble(g.group(1));
            } catch (NumberFormatException e) {
                continue;
            }
            Matcher s = SHAPE.matcher(line);
            if (s.find() && s.group(1).equals(shape)) return v;
            any = v;
            count++;
        }
        return count == 1 ? any : null;
    }
}
