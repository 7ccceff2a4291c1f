package erw.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import erw.engine.cpu.CpuBackend;
import erw.engine.cpu.GemmBenchmark;
import erw.engine.host.Philox;
import erw.engine.host.WorkerPool;
import erw.model.SiTConfig;
import erw.training.ArrayBatchSource;
import erw.training.TrainConfig;
import erw.training.Trainer;
import erw.training.TrainingException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code erw bench train}: img/s of one training step (forward, velocity + alignment loss, backward,
 * clip, AdamW, EMA) for each config, erw next to PyTorch ({@code bench/torch_train_step.py}, same
 * model and step) in the same run, with the ratio and each side's peak resident set. Every
 * measurement runs in a fresh process so peak memory belongs to one config.
 */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Training-step img/s and peak RSS of erw vs PyTorch (bench/torch_train_step.py) on the same configs, in one run.")
final class TrainBenchCommand implements Callable<Integer> {
    static final String PYTHON = "/usr/bin/python3", TORCH_SCRIPT = "bench/torch_train_step.py";

    @Option(names = "--model", split = ",", description = "Configs: tiny (Fashion-MNIST default, batch 64), SiT-S/2 (32x32x4 latents, batch 8), ... (default ${DEFAULT-VALUE}).")
    List<String> models = new ArrayList<>(List.of("tiny", "SiT-S/2"));
    @Option(names = "--batch", description = "Batch (default: 64 for tiny, 8 otherwise).") Integer batch;
    @Option(names = "--steps", description = "Timed steps, median kept (default: 5 tiny, 3 otherwise).") Integer steps;
    @Option(names = "--warmup", description = "Untimed steps first (default ${DEFAULT-VALUE}).") int warmup = 2;
    @Option(names = "--threads", description = "Worker threads, both sides (default: cores).") int threads = WorkerPool.defaultThreads();
    @Option(names = "--profile", description = "Print erw's time per op type (CPU backend).") boolean profile;
    @Option(names = "--backend", description = "cpu | tornado | auto (default ${DEFAULT-VALUE}).") String backend = "cpu";
    @Option(names = "--no-peer", description = "Skip PyTorch.") boolean noPeer;
    @Option(names = "--rounds", description = "Rounds per config of erw's step then PyTorch's (passive OpenMP), alternated; the img/s and the "
            + "ratio printed are medians over the rounds, with the range of the rounds' ratios (default ${DEFAULT-VALUE}). On a shared VM both "
            + "sides drift by 10-30%% within minutes. PyTorch as installed runs in the first round only.") int rounds = 1;
    @Option(names = "--recompute", description = "erw's activation recomputation: none | blocks (default ${DEFAULT-VALUE}).") String recompute = "none";
    @Option(names = "--precision", description = "erw's GEMM operands: fp32 | tf32 | bf16 (as erw train; default ${DEFAULT-VALUE}). The PyTorch peer on the CPU runs fp32.")
    String precision = "fp32";
    @Option(names = "--in-process", hidden = true, description = "Measure erw in this process (used by the runner).") boolean inProcess;

    /**
     * {@code plannedBytes}: the buffer planner's figure for the step (erw only; 0 for the peer); {@code memory} and
     * {@code untimedSeconds} (each untimed step's seconds: on a device backend, the first compiles its kernels): erw's
     * own process only, else null.
     */
    record Result(double imgPerSec, double secondsPerStep, long peakRssKb, long params, long plannedBytes, long baselineRssKb, Memory memory,
                  double[] untimedSeconds) {
        Result(double imgPerSec, double secondsPerStep, long peakRssKb, long params, long plannedBytes, long baselineRssKb) {
            this(imgPerSec, secondsPerStep, peakRssKb, params, plannedBytes, baselineRssKb, null, null);
        }

        /** The same result with another img/s (a median over rounds). */
        Result withImgPerSec(double v) {
            return new Result(v, secondsPerStep, peakRssKb, params, plannedBytes, baselineRssKb, memory, untimedSeconds);
        }
    }

    /**
     * Where erw's resident memory is at the end of the timed steps (kB): the process's RSS, the Java heap in use
     * (after a collection) and committed, and the backend's host mirrors of device buffers (filled, and
     * zero-mapped: resident only where written); the rest of the RSS is the JVM's own (code, compiler, metaspace)
     * and native libraries' (a device runtime, its compiler and, with PoCL, the device buffers themselves).
     */
    record Memory(long rssKb, long heapUsedKb, long heapCommittedKb, long mirrorKb, long mirrorZeroMappedKb, long mirrorZeroMappedResidentKb, long deviceHostArraysKb) {
        static Memory now(erw.engine.Backend backend) {
            System.gc();
            var heap = java.lang.management.ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
            long[] m = backend.hostMirrorBytes();
            return new Memory(TrainBenchCommand.rssKb("VmRSS:"), heap.getUsed() >> 10, heap.getCommitted() >> 10, m[0] >> 10, m[1] >> 10, m[2] >> 10, m[3] >> 10);
        }

        String json() {
            return String.format(Locale.ROOT, "\"rss_kb\": %d, \"heap_used_kb\": %d, \"heap_committed_kb\": %d, \"mirror_kb\": %d, \"mirror_zero_mapped_kb\": %d, "
                    + "\"mirror_zero_mapped_resident_kb\": %d, \"device_host_arrays_kb\": %d", rssKb, heapUsedKb, heapCommittedKb, mirrorKb, mirrorZeroMappedKb,
                    mirrorZeroMappedResidentKb, deviceHostArraysKb);
        }

        String describe() {
            String mirrors = mirrorKb + mirrorZeroMappedKb == 0 ? "" : String.format(Locale.ROOT, ", host mirrors of device buffers %.0f MiB filled + %.0f MiB zero-mapped%s",
                    mirrorKb / 1024.0, mirrorZeroMappedKb / 1024.0, mirrorZeroMappedKb == 0 || mirrorZeroMappedResidentKb < 0 ? ""
                            : String.format(Locale.ROOT, " (%.0f MiB of it resident)", mirrorZeroMappedResidentKb / 1024.0));
            String arrays = mirrors.isEmpty() ? "" : String.format(Locale.ROOT, ", %.0f MiB of it host arrays of device buffers", deviceHostArraysKb / 1024.0);
            return String.format(Locale.ROOT, "RSS %.0f MiB at the end: Java heap %.0f MiB in use%s (%.0f MiB committed)%s; the rest (free heap, JVM, native libraries%s) %.0f MiB",
                    rssKb / 1024.0, heapUsedKb / 1024.0, arrays, heapCommittedKb / 1024.0, mirrors, mirrors.isEmpty() ? "" : ", device runtime",
                    Math.max(0, rssKb - heapUsedKb - mirrorKb - Math.max(0, mirrorZeroMappedResidentKb)) / 1024.0);
        }
    }

    @Override
    public Integer call() throws Exception {
        erw.engine.Backends.choose(backend); // bad values fail here, before any process starts
        erw.engine.Precision.parse("--precision", precision);
        if (inProcess) {
            if (models.size() != 1) throw new IllegalArgumentException("--in-process measures one --model");
            Result r = measure(models.get(0));
            System.out.printf(Locale.ROOT, "{\"img_per_s\": %.4f, \"s_per_step\": %.5f, \"peak_rss_kb\": %d, \"params\": %d, \"planned_bytes\": %d, \"baseline_rss_kb\": %d, %s, \"untimed_step_s\": %s}%n",
                    r.imgPerSec(), r.secondsPerStep(), r.peakRssKb(), r.params(), r.plannedBytes(), r.baselineRssKb(), r.memory().json(),
                    Arrays.stream(r.untimedSeconds()).mapToObj(x -> String.format(Locale.ROOT, "%.3f", x)).collect(java.util.stream.Collectors.joining(", ", "[", "]")));
            return 0;
        }
        boolean peer = !noPeer && Files.isExecutable(Path.of(PYTHON)) && Files.isRegularFile(Path.of(TORCH_SCRIPT));
        if (!noPeer && !peer) System.out.println("PyTorch peer unavailable (" + PYTHON + " and " + TORCH_SCRIPT + " needed; run from the repository root): erw only");
        erw.training.Recompute.parse(recompute);
        // the peer at its best: the BLAS configuration (OpenBLAS core type, BLAS build) that runs numpy's
        // GEMM fastest here; PyTorch's GEMMs go through the same libblas.so.3
        blas = peer ? peerBlas(threads) : null;
        System.out.printf("%-10s %5s %10s %13s %7s %13s %7s %12s %13s %13s %7s %12s%n", "config", "batch", "erw img/s", "torch default", "ratio",
                "torch passive", "ratio", "erw planned", "erw peak RSS", "torch RSS", "ratio", "erw growth");
        List<String> memory = new ArrayList<>();
        if (rounds < 1) throw new IllegalArgumentException("--rounds must be >= 1, got " + rounds);
        List<String> ranges = new ArrayList<>();
        for (String m : models) {
            int b = batch(m);
            Result e = child(m);
            if (e.memory() != null && e.memory().rssKb() > 0) memory.add("erw " + m + ": " + e.memory().describe());
            Result td = peer ? torch(m, b, true) : null, tp = peer ? torch(m, b, false) : null;
            String passiveRatio = ratio(e, tp);
            if (rounds > 1) { // later rounds: erw, then PyTorch passive; medians of img/s and of the rounds' ratios
                double[] mine = new double[rounds], theirs = new double[rounds];
                mine[0] = e.imgPerSec();
                theirs[0] = tp == null ? Double.NaN : tp.imgPerSec();
                for (int r = 1; r < rounds; r++) {
                    mine[r] = child(m).imgPerSec();
                    theirs[r] = peer ? torch(m, b, false).imgPerSec() : Double.NaN;
                }
                double[] ratios = GemmBenchmark.ratios(mine, theirs);
                if (ratios.length > 0) passiveRatio = String.format(Locale.ROOT, "%.2fx", GemmBenchmark.median(ratios));
                e = e.withImgPerSec(GemmBenchmark.median(mine));
                if (tp != null) tp = tp.withImgPerSec(GemmBenchmark.median(theirs));
                ranges.add(m + ": erw img/s " + figures(mine) + (tp == null ? "" : "; PyTorch passive " + figures(theirs) + "; ratio median "
                        + passiveRatio + ", rounds " + GemmBenchmark.span(ratios)));
            }
            long growth = e.baselineRssKb() > 0 ? e.peakRssKb() - e.baselineRssKb() : 0;
            System.out.printf(Locale.ROOT, "%-10s %5d %10.2f %13s %7s %13s %7s %12s %13s %13s %7s %12s%n", m, b, e.imgPerSec(), rate(td), ratio(e, td), rate(tp), passiveRatio,
                    mib(e.plannedBytes() / 1024), mib(e.peakRssKb()), tp == null ? "n/a" : mib(tp.peakRssKb()),
                    tp == null || tp.peakRssKb() <= 0 ? "" : String.format(Locale.ROOT, "%.2fx", e.peakRssKb() / (double) tp.peakRssKb()),
                    growth <= 0 ? "n/a" : mib(growth) + (e.plannedBytes() > 0 ? String.format(Locale.ROOT, " (%+.0f%%)", 100.0 * (growth * 1024.0 / e.plannedBytes() - 1)) : ""));
        }
        System.out.println("threads: " + threads + "; erw --recompute " + recompute + ", --precision " + precision + "; erw planned: the buffer planner's fp32 bytes of the step "
                + "(parameters, gradients, moments, EMA, batch, activations), the JVM's own memory not included; peak RSS: VmHWM of each process; "
                + "erw growth: its peak RSS less the JVM's resident set before the model was built, and how far that is from the planned figure");
        System.out.println("img/s from the median step time" + (peer ? "; peer: PyTorch (" + TORCH_SCRIPT
                + ", same model, loss, clip, AdamW and EMA), as installed (GNU OpenMP's default spin-waiting) and with OMP_WAIT_POLICY=PASSIVE" : ""));
        if (rounds > 1) {
            System.out.println("rounds: " + rounds + " per config (erw's and PyTorch passive's img/s are medians over them; the ratios per round:)");
            ranges.forEach(System.out::println);
        }
        memory.forEach(System.out::println);
        if (blas != null) {
            System.out.printf(Locale.ROOT, "peer's BLAS: %s (the fastest of bench/numpy_gemm.py --best at 4096x768x192: %.1f GFLOP/s, as installed %.1f)%n",
                    blas.config(), blas.gflops(), blas.defaultGflops());
        }
        return 0;
    }

    /** The peer's BLAS configuration (null when unavailable). */
    private erw.engine.cpu.GemmBenchmark.Peer blas;

    /**
     * The BLAS configuration that runs numpy's GEMM fastest here, at a SiT layer's shape (tiny's MLP); PyTorch's
     * GEMMs go through the same libblas.so.3. Null when the peer cannot run.
     */
    static erw.engine.cpu.GemmBenchmark.Peer peerBlas(int threads) {
        return erw.engine.cpu.GemmBenchmark.openBlasBest(4096, 768, 192, threads);
    }

    private int batch(String m) {
        return batch != null ? batch : isTiny(m) ? 64 : 8;
    }

    private int timedSteps(String m) {
        return steps != null ? steps : isTiny(m) ? 5 : 3;
    }

    private static boolean isTiny(String m) {
        return m.equalsIgnoreCase("tiny");
    }

    private static String rate(Result r) {
        return r == null ? "n/a" : String.format(Locale.ROOT, "%.2f", r.imgPerSec());
    }

    private static String ratio(Result e, Result t) {
        return t == null ? "" : String.format(Locale.ROOT, "%.2fx", e.imgPerSec() / t.imgPerSec());
    }

    /** Per-round figures, "a / b / c" with two decimals. */
    private static String figures(double[] x) {
        return Arrays.stream(x).mapToObj(v -> String.format(Locale.ROOT, "%.2f", v)).collect(java.util.stream.Collectors.joining(" / "));
    }

    private static String mib(long kb) {
        return kb <= 0 ? "n/a" : String.format(Locale.ROOT, "%.0f MiB", kb / 1024.0);
    }

    /** erw in a fresh JVM with this JVM's options and module path. */
    private Result child(String m) throws IOException, InterruptedException {
        if (profile) return measure(m); // the profile is printed here; peak RSS then covers earlier configs too
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.addAll(List.of("-p", System.getProperty("jdk.module.path"), "-m", "erw/erw.cli.Main", "bench", "train", "--in-process", "--model", m,
                "--batch", Integer.toString(batch(m)), "--steps", Integer.toString(timedSteps(m)), "--warmup", Integer.toString(warmup),
                "--threads", Integer.toString(threads), "--backend", backend, "--recompute", recompute, "--precision", precision));
        JsonNode j = runJson(new ProcessBuilder(cmd), "erw (" + m + ")");
        return new Result(j.get("img_per_s").asDouble(), j.get("s_per_step").asDouble(), j.get("peak_rss_kb").asLong(), j.get("params").asLong(),
                j.path("planned_bytes").asLong(0), j.path("baseline_rss_kb").asLong(0),
                new Memory(j.path("rss_kb").asLong(0), j.path("heap_used_kb").asLong(0), j.path("heap_committed_kb").asLong(0),
                        j.path("mirror_kb").asLong(0), j.path("mirror_zero_mapped_kb").asLong(0), j.path("mirror_zero_mapped_resident_kb").asLong(-1),
                        j.path("device_host_arrays_kb").asLong(0)), null);
    }

    /** PyTorch's step; {@code defaultOmp}: as installed, else with passive OpenMP waiting. */
    private Result torch(String m, int b, boolean defaultOmp) throws IOException, InterruptedException {
        String preset = isTiny(m) ? "tiny" : m.equalsIgnoreCase("SiT-S/2") ? "sit-s2" : null;
        if (preset == null) {
            System.out.println("(no PyTorch preset for " + m + ")");
            return null;
        }
        List<String> cmd = new ArrayList<>(List.of(PYTHON, TORCH_SCRIPT, "--preset", preset, "--batch", Integer.toString(b), "--ema",
                "--threads", Integer.toString(threads), "--warmup", Integer.toString(warmup), "--steps", Integer.toString(timedSteps(m))));
        if (defaultOmp) cmd.add("--omp-default");
        ProcessBuilder pb = new ProcessBuilder(cmd);
        Map<String, String> env = pb.environment();
        env.remove("OMP_WAIT_POLICY");
        String t = Integer.toString(threads);
        env.put("OMP_NUM_THREADS", t);
        env.put("OPENBLAS_NUM_THREADS", t);
        if (blas != null) blas.applyTo(env);
        JsonNode j = runJson(pb, "PyTorch (" + m + (defaultOmp ? ", default OpenMP" : ", passive OpenMP") + ")");
        return new Result(j.get("img_per_s").asDouble(), j.get("s_per_step").asDouble(), j.path("peak_rss_kb").asLong(0), j.path("params").asLong(0), 0, 0);
    }

    /** Runs a process and parses the last line of its stdout that is a JSON object. */
    static JsonNode runJson(ProcessBuilder pb, String what) throws IOException, InterruptedException {
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        Process p = pb.start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new TrainingException(what + " benchmark failed (exit " + (p.isAlive() ? "timeout" : p.exitValue()) + "; its messages are above)");
        }
        String[] lines = new String(out, StandardCharsets.UTF_8).split("\n");
        for (int i = lines.length - 1; i >= 0; i--) {
            if (lines[i].trim().startsWith("{")) return new ObjectMapper().readTree(lines[i]);
        }
        throw new TrainingException(what + " benchmark printed no result line");
    }

    /** One config measured in this process: median step time after warmup, peak RSS from /proc. */
    Result measure(String m) throws IOException {
        long baseline = rssKb("VmRSS:"); // the JVM's own memory before any model, data or engine
        SiTConfig c = isTiny(m) ? erw.training.Recipes.fashionModel(64) : SiTConfig.named(m);
        int b = batch(m), timed = timedSteps(m);
        int per = c.inChannels() * c.inputSize() * c.inputSize(), n = Math.max(b, 16);
        float[] img = new float[n * per], lab = new float[n], feat = new float[n * c.tokens() * c.zDim()];
        Philox.normal(1, 1, 0, img, 0, img.length);
        Philox.normal(1, 2, 0, feat, 0, feat.length);
        for (int i = 0; i < n; i++) lab[i] = i % c.numClasses();
        TrainConfig cfg = TrainConfig.defaults().with(k -> {
            k.method = "repa"; // the peer's step: velocity + 0.5 cosine alignment, one graph for all steps
            k.batch = b;
            k.steps = warmup + timed;
            k.checkpointEvery = 0;
            k.precision = erw.engine.Precision.parse("--precision", precision).id();
        });
        Path tmp = Files.createTempDirectory("erw-bench");
        double[] times = new double[timed];
        double[] untimed = new double[warmup];
        erw.engine.Backends.Choice choice = erw.engine.Backends.choose(backend);
        try (erw.engine.Backend cpu = choice.isCpu() ? new CpuBackend(new WorkerPool(threads), true, profile) : choice.create(threads);
             Trainer t = new Trainer(cfg, c, new ArrayBatchSource(img, new int[]{c.inChannels(), c.inputSize(), c.inputSize()}, lab, c.numClasses(), feat,
                     new int[]{c.tokens(), c.zDim()}), tmp, cpu, new Trainer.Listener() {
                 @Override public void onStep(Trainer.StepLog l) {
                     if (l.step() > warmup) {
                         times[(int) (l.step() - warmup - 1)] = l.seconds();
                     } else {
                         // the untimed steps compile a device backend's kernels: say how long each took, so that a run
                         // killed by a time limit still tells where its time went (the device check keeps the log tail)
                         untimed[(int) l.step() - 1] = l.seconds();
                         if (!choice.isCpu()) System.err.printf(Locale.ROOT, "[erw bench] %s batch %d: untimed step %d of %d took %.2f s%n", m, b, l.step(), warmup, l.seconds());
                     }
                 }
             })) {
            erw.training.Recompute rc = erw.training.Recompute.parse(recompute);
            long planned = erw.training.PhaseProgram.plannedMemory(c, erw.training.Phase.FULL, cfg, b, true, rc).total();
            t.recompute(rc).startFresh().run(warmup);
            if (cpu instanceof CpuBackend cb) cb.resetProfile();
            t.run(warmup + timed);
            Arrays.sort(times);
            double med = times[timed / 2];
            if (profile && cpu instanceof CpuBackend cb) {
                System.out.printf(Locale.ROOT, "%s batch %d, %d threads: %.3f s/step (median of %d), %.1f img/s%n", m, b, threads, med, timed, b / med);
                BenchCommand.printProfile(cb.profile());
            }
            long peak = peakRssKb();
            return new Result(b / med, med, peak, t.parameters().trainableCount(), planned, baseline, Memory.now(cpu), untimed);
        } finally {
            try (var files = Files.list(tmp)) {
                for (Path f : files.toList()) Files.deleteIfExists(f);
            }
            Files.deleteIfExists(tmp);
        }
    }

    /** VmHWM of this process (Linux), 0 where /proc is not there. */
    static long peakRssKb() {
        return rssKb("VmHWM:");
    }

    /** A line of /proc/self/status in kB (VmHWM:, VmRSS:), 0 where /proc is not there. */
    static long rssKb(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field)) return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
        return 0;
    }
}
