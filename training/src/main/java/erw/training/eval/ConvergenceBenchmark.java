package erw.training.eval;

import erw.engine.Backend;
import erw.engine.host.WorkerPool;
import erw.model.SiTConfig;
import erw.sampler.Sampler;
import erw.sampler.SamplerKind;
import erw.training.BatchSource;
import erw.training.PhaseProgram;
import erw.training.TrainConfig;
import erw.training.Trainer;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * Trains {@code sit}, {@code repa}, {@code erw} and {@code reed} with the same model (REED's adds its
 * second projector), data, batch, step budget
 * (ERW's warmup counts inside it) and seeds, and scores the EMA model's samples at regular step
 * counts with {@link SampleQuality}. The preset's first {@code curves} seeds are scored at every
 * evaluation step (their curves give the steps to reach a fixed FD per seed), the others at the final
 * step only (the final point's spread over seeds).
 */
public final class ConvergenceBenchmark {
    /**
     * A benchmark size: training budget, evaluation grid, sampler, seeds, and how many of the seeds (the
     * first {@code curves}) are scored at every evaluation step rather than at the end only.
     */
    public record Preset(String name, int batch, long steps, long evalEvery, int samples, SamplerKind sampler, int samplerSteps, List<Long> seeds, int curves) {
        public Preset {
            seeds = List.copyOf(seeds);
            if (curves < 1 || curves > seeds.size()) throw new IllegalArgumentException("--curves " + curves + ": use 1 to the number of seeds (" + seeds.size() + ")");
        }

        public static Preset named(String name) {
            return switch (name.toLowerCase(Locale.ROOT)) {
                // ~25 min on 2 cores (4 methods, the 2-core Xeon of session 8's GEMM): 12 runs of 600 steps, 24 scorings of 500 samples
                case "quick" -> new Preset("quick", 32, 600, 150, 500, SamplerKind.HEUN, 12, List.of(0L, 1L, 2L), 1);
                // the study of issue 22: the main job's batch, beyond its 1,400 steps (where ERW reaches FD ~24), every seed a
                // full curve scored like `erw eval` scores the main job (500 samples, Heun 20); ~20 min a run on 2 cores
                case "full" -> new Preset("full", 64, 2000, 250, 500, SamplerKind.HEUN, 20, List.of(0L, 1L, 2L, 3L, 4L), 5);
                default -> throw new IllegalArgumentException("--preset " + name + ": use quick or full");
            };
        }

        /** Whether this seed is scored at every evaluation step. */
        public boolean curve(long seed) {
            return seeds.indexOf(seed) < curves;
        }
    }

    /**
     * One scored point: the first evaluator's FD and accuracy, and {@link Extra} (the second evaluator's FD
     * and accuracy, precision and recall on both; NaN where not measured, as in results written before them).
     */
    public record Point(String method, long seed, long step, double fd, double accuracy, int samples, double trainSeconds, Extra extra) {
        public Point(String method, long seed, long step, double fd, double accuracy, int samples, double trainSeconds) {
            this(method, seed, step, fd, accuracy, samples, trainSeconds, Extra.NONE);
        }
    }

    /** The second evaluator's FD and accuracy, and precision/recall on the first ([1]) and second ([2]) evaluator. */
    public record Extra(double fd2, double accuracy2, double precision1, double recall1, double precision2, double recall2) {
        public static final Extra NONE = new Extra(Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);

        static Extra of(List<SampleQuality.Judgement> js) {
            SampleQuality.Judgement a = js.get(0), b = js.size() > 1 ? js.get(1) : null;
            return new Extra(b == null ? Double.NaN : b.fd(), b == null ? Double.NaN : b.accuracy(), a.precision(), a.recall(),
                    b == null ? Double.NaN : b.precision(), b == null ? Double.NaN : b.recall());
        }
    }

    private final Preset preset;
    private final java.util.function.Function<TrainConfig, SiTConfig> model;
    private final TrainConfig base;
    private final Supplier<BatchSource> data;
    private final SampleQuality quality;
    private final Backend backend;
    private final WorkerPool pool;
    private final PrintStream log;

    /**
     * @param base training settings shared by all methods (method, seed, steps, batch are set here)
     * @param data a fresh batch source per run (each run reads the same images in its seed's order)
     */
    public ConvergenceBenchmark(Preset preset, java.util.function.Function<TrainConfig, SiTConfig> model, TrainConfig base, Supplier<BatchSource> data, SampleQuality quality,
                                Backend backend, WorkerPool pool, PrintStream log) {
        this.preset = preset;
        this.model = model;
        this.base = base;
        this.data = data;
        this.quality = quality;
        this.backend = backend;
        this.pool = pool;
        this.log = log;
    }

    /**
     * What one column of the study trains: {@code label} names its rows (a method's own name, or an
     * ablation arm's), {@code method} is sit, repa, erw or reed, {@code overrides} change the shared
     * settings, and {@code model} (null: the benchmark's) sizes its model from its settings.
     */
    public record Arm(String label, String method, java.util.function.Consumer<TrainConfig.Builder> overrides,
                      java.util.function.Function<TrainConfig, SiTConfig> model) {
        /** A method with the shared settings. */
        public static Arm of(String method) {
            return new Arm(method, method, b -> {}, null);
        }
    }

    /** The training settings of one run. */
    public TrainConfig config(String method, long seed) {
        return config(Arm.of(method), seed);
    }

    /** The training settings of one run of an arm: the shared settings, the arm's overrides, then the study's budget and seed. */
    public TrainConfig config(Arm arm, long seed) {
        String method = arm.method();
        return erw.training.Recipes.forBuiltIn(base.with(c -> {
            arm.overrides().accept(c);
            c.method = method;
            c.seed = seed;
            c.steps = preset.steps();
            c.batch = preset.batch();
            c.checkpointEvery = preset.evalEvery(); // a checkpoint at every scoring point: an interrupted study resumes there
            c.sampleEvery = preset.evalEvery();
            if (!method.equalsIgnoreCase("reed")) c.targets = new java.util.ArrayList<>();
        }));
    }

    /** Runs every method for every seed; {@code onPoint} sees each point as it is scored. */
    public List<Point> run(List<String> methods, Path workDir, java.util.function.Consumer<Point> onPoint) throws java.io.IOException {
        return run(methods, workDir, List.of(), onPoint);
    }

    /** {@link #runArms} with each method as an arm of its own name. */
    public List<Point> run(List<String> methods, Path workDir, List<Point> done, java.util.function.Consumer<Point> onPoint) throws java.io.IOException {
        return runArms(methods.stream().map(Arm::of).toList(), workDir, done, onPoint);
    }

    /**
     * As above, continuing an interrupted study: {@code done} holds the points already scored (from its
     * results.csv). A run whose final point is there is not trained again; any other resumes from its
     * latest checkpoint at or before which every point it scores is there (checkpoints are written at
     * every scoring step), so the study goes on with the same bits as if it had not stopped. The reused
     * points are passed to {@code onPoint} too.
     */
    public List<Point> runArms(List<Arm> arms, Path workDir, List<Point> done, java.util.function.Consumer<Point> onPoint) throws java.io.IOException {
        List<Point> points = new ArrayList<>();
        int runs = preset.seeds().size() * arms.size(), run = 0;
        long studyStart = System.nanoTime();
        double[] trainedFraction = {0}; // runs' worth of work done in this process (resumed runs count from where they resume)
        for (long seed : preset.seeds()) {
            boolean curve = preset.curve(seed);
            for (Arm arm : arms) {
                run++;
                String method = arm.label();
                TrainConfig cfg = config(arm, seed);
                Path runDir = workDir.resolve(method + "-seed" + seed);
                Files.createDirectories(runDir);
                List<Point> have = done.stream().filter(p -> p.method().equals(method) && p.seed() == seed)
                        .sorted(java.util.Comparator.comparingLong(Point::step)).toList();
                long from = resumeStep(cfg, runDir, have, curve);
                List<Point> reused = have.stream().filter(p -> p.step() <= from).toList();
                for (Point p : reused) {
                    points.add(p);
                    if (onPoint != null) onPoint.accept(p);
                }
                if (from == cfg.steps()) {
                    if (log != null) log.printf(Locale.ROOT, "%s seed %d: done (its points are in the results)%n", method, seed);
                    continue;
                }
                long[] trainNanos = {reused.isEmpty() ? 0 : (long) (reused.get(reused.size() - 1).trainSeconds() * 1e9)};
                final int thisRun = run;
                final double before = trainedFraction[0];
                Trainer.Listener listener = new Trainer.Listener() {
                    @Override
                    public void onStep(Trainer.StepLog s) {
                        trainNanos[0] += (long) (s.seconds() * 1e9);
                        trainedFraction[0] = before + (double) (s.step() - from) / cfg.steps();
                        if (log != null && s.step() % 50 == 0) {
                            // the time per run so far (scorings included) times the runs' worth of work still ahead
                            double elapsed = (System.nanoTime() - studyStart) / 1e9;
                            double ahead = runs - thisRun + (double) (cfg.steps() - s.step()) / cfg.steps();
                            log.printf(Locale.ROOT, "\rrun %d/%d %s seed %d: step %d/%d loss %.4f; %.0f min so far, ~%.0f min left   ",
                                    thisRun, runs, method, seed, s.step(), cfg.steps(), s.loss(), elapsed / 60, elapsed / trainedFraction[0] * ahead / 60);
                        }
                    }

                    @Override
                    public void onSample(long step, PhaseProgram program) {
                        if (!curve && step != cfg.steps()) return;
                        Sampler.Options opt = Sampler.Options.of(preset.sampler(), preset.samplerSteps(), 1000 + seed);
                        SampleQuality.Score sc = quality.score(program.emaModel(), backend, pool, preset.samples(), opt);
                        Point p = new Point(method, seed, step, sc.fd(), sc.accuracy(), sc.samples(), trainNanos[0] / 1e9, Extra.of(sc.judgements()));
                        points.add(p);
                        if (log != null) {
                            log.printf(Locale.ROOT, "%n%s seed %d step %d: FD %.3f, accuracy %.1f%%; second evaluator FD %.3f, accuracy %.1f%% (%d samples, %.0f s)%n",
                                    method, seed, step, sc.fd(), 100 * sc.accuracy(), p.extra().fd2(), 100 * p.extra().accuracy2(), sc.samples(), sc.seconds());
                        }
                        if (onPoint != null) onPoint.accept(p);
                    }
                };
                try (Trainer t = new Trainer(cfg, (arm.model() != null ? arm.model() : model).apply(cfg), data.get(), runDir, backend, listener)) {
                    if (from > 0) {
                        if (log != null) log.printf(Locale.ROOT, "%s seed %d: resuming at step %d%n", method, seed, from);
                        t.resume(runDir.resolve(String.format(Locale.ROOT, "step-%07d.safetensors", from))).run(cfg.steps());
                    } else {
                        t.startFresh().run(cfg.steps());
                    }
                }
            }
        }
        return points;
    }

    /**
     * Where a run continues: its number of steps when its final point is done, else the latest checkpoint
     * step c with every point the run scores at or before c in {@code have} (0: from the start).
     */
    long resumeStep(TrainConfig cfg, Path runDir, List<Point> have, boolean curve) {
        java.util.Set<Long> scored = new java.util.HashSet<>();
        for (Point p : have) scored.add(p.step());
        if (scored.contains(cfg.steps())) return cfg.steps(); // scored in order: the final point comes last
        for (long c = (cfg.steps() - 1) / preset.evalEvery() * preset.evalEvery(); c > 0; c -= preset.evalEvery()) {
            if (!Files.isRegularFile(runDir.resolve(String.format(Locale.ROOT, "step-%07d.safetensors", c)))) continue;
            boolean complete = true;
            if (curve) { // the first seed is scored at every evaluation step after the warmup
                for (long s = preset.evalEvery(); s <= c && complete; s += preset.evalEvery()) {
                    if (s > cfg.warmup() && !scored.contains(s)) complete = false;
                }
            }
            if (complete) return c;
        }
        return 0;
    }
}
