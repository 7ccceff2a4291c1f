package erw.cli;

import erw.engine.Backend;
import erw.engine.Backends;
import erw.engine.host.WorkerPool;
import erw.model.MemoryBudget;
import erw.model.ModelSizes;
import erw.model.SiTConfig;
import erw.training.BatchSource;
import erw.training.RunLogger;
import erw.training.TrainConfig;
import erw.training.Trainer;
import erw.training.run.RunData;
import erw.training.run.RunDirectory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code erw train}: ERW (or REPA / SiT) training. With no arguments it runs the main job: the
 * Fashion-MNIST dataset (imported from Debian's package), its target encoder (trained by erw) and
 * features, then ERW on the tiny SiT with settings sized for ~30 minutes on 2 CPU cores.
 */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Train a SiT with ERW (warmup + full phase), REPA or plain SiT.")
public final class TrainCommand implements Callable<Integer> {
    @Option(names = "--method", description = "erw | repa | sit (default ${DEFAULT-VALUE}).")
    String method = "erw";
    @Option(names = "--align", description = "Alignment loss: cosine | ntxent (default ${DEFAULT-VALUE}).")
    String align = "cosine";
    @Option(names = "--data", description = "Dataset directory (erw data ...). Default: Fashion-MNIST prepared under --data-root.")
    Path data;
    @Option(names = "--data-root", description = "Where the default Fashion-MNIST dataset and encoder are kept (default ${DEFAULT-VALUE}).")
    Path dataRoot = Path.of("data");
    @Option(names = "--out", description = "Run directory (default: runs/<method>-<time>).")
    Path out;
    @Option(names = "--resume", description = "Continue a run bit-exactly from its newest checkpoint (a run directory or a checkpoint file).")
    Path resume;
    @Option(names = "--model", description = "tiny (default: the Fashion-MNIST SiT) or SiT-S/2 ... SiT-XL/8.")
    String model = "tiny";
    @Option(names = "--depth") Integer depth;
    @Option(names = "--hidden") Integer hidden;
    @Option(names = "--heads") Integer heads;
    @Option(names = "--patch") Integer patch;
    @Option(names = "--encoder-depth", description = "Block (1-based) the projector reads in the full phase.") Integer encoderDepth;
    @Option(names = "--projector-dim") Integer projectorDim;
    @Option(names = "--qk-norm", description = "QK-norm in attention (off by default).") boolean qkNorm;

    @Option(names = "--steps", description = "Total steps incl. the warmup (default: 1400 on the built-in data, 400000 otherwise).") Long steps;
    @Option(names = "--warmup-steps", description = "ERW Phase 1 steps (default: 10%% of --steps).") Long warmupSteps;
    @Option(names = "--batch", description = "Batch size (default: 64 on the built-in data, 256 otherwise).") Integer batch;
    @Option(names = "--lr", description = "AdamW learning rate (default: 1e-4; 1e-3 on the built-in data).") Double lr;
    @Option(names = "--ema-decay", description = "EMA decay (default: 0.9999; 0.995 on the built-in data).") Double emaDecay;
    @Option(names = "--l2r-depth", description = "Blocks of the ERW warmup model (default: 4; 2 on the built-in data).") Integer l2rDepth;
    @Option(names = "--c0", description = "Phase 2 lambda at the boundary (default: 6 XL, 3 L, 1 otherwise).") Double c0;
    @Option(names = "--half-life", description = "Phase 2 lambda half-life in steps (default 50000).") Double halfLife;
    @Option(names = "--warmup-lambda", description = "Phase 1 loss weight (default 0.5).") Double warmupLambda;
    @Option(names = "--repa-lambda", description = "REPA's alignment weight (default 0.5).") Double repaLambda;
    @Option(names = "--ntxent-tau") Double tau;
    @Option(names = "--ntxent-symmetric") boolean symmetric;
    @Option(names = "--label-dropout") Double labelDropout;
    @Option(names = "--clip") Double clip;
    @Option(names = "--weight-decay") Double weightDecay;
    @Option(names = "--time-sampling", description = "uniform | lognormal") String timeSampling;
    @Option(names = "--seed") Long seed;
    @Option(names = "--checkpoint-every") Long checkpointEvery;
    @Option(names = "--log-every") Long logEvery;
    @Option(names = "--sample-every", description = "Steps between EMA sample grids (0 = only at the end).") Long sampleEvery;
    @Option(names = "--sample-steps", description = "SDE steps for the sample grids (default 50).") Integer sampleSteps;
    @Option(names = "--threads", description = "CPU worker threads (default: cores).") Integer threads;
    @Option(names = "--backend", description = "cpu | tornado | auto (default ${DEFAULT-VALUE}).") String backend = "auto";

    /** The main job's settings on the built-in data (sized for ~20 minutes on 2 cores). */
    static TrainConfig builtInDefaults(TrainConfig cfg) {
        cfg.steps = 1400;
        cfg.batch = 64;
        cfg.lr = 1e-3;
        cfg.emaDecay = 0.995;
        cfg.l2rDepth = 2;
        cfg.checkpointEvery = 500;
        cfg.logEvery = 20;
        cfg.sampleEvery = 0;
        return cfg;
    }

    /** The tiny SiT for 32x32x1 Fashion-MNIST with the projector at block 2, target width z. */
    public static SiTConfig fashionModel(int z) {
        return new SiTConfig(6, 192, 3, 4, 32, 1, 10, 2, 512, z, 4.0, false, false, 0);
    }

    @Option(names = "--keep-last", description = "Keep only the newest N checkpoints of the run (default 0 = keep all).") Integer keepLast;

    @Spec CommandSpec spec;

    /** What a resume may change: the length of the run, its cadence and how it runs; nothing that changes the math so far. */
    static final List<String> RESUMABLE = List.of("--resume", "--steps", "--checkpoint-every", "--log-every", "--sample-every", "--sample-steps",
            "--keep-last", "--threads", "--backend", "--data", "--data-root");

    @Override
    public Integer call() throws Exception {
        Backends.Choice be = Backends.choose(backend);
        if (threads != null && threads < 1) throw new IllegalArgumentException("--threads " + threads + " must be >= 1");
        if (keepLast != null && keepLast < 0) throw new IllegalArgumentException("--keep-last " + keepLast + " must be >= 0 (0 = keep all)");
        if (c0 != null && !(c0 >= 0)) throw new IllegalArgumentException("--c0 " + c0 + " must be >= 0");
        return resume != null ? resumeRun(be) : freshRun(be);
    }

    private int freshRun(Backends.Choice be) throws Exception {
        boolean builtIn = data == null;
        TrainConfig cfg = new TrainConfig();
        if (builtIn) builtInDefaults(cfg);
        apply(cfg);
        cfg.validate();
        if (cfg.method() == erw.training.Method.ERW) cfg.warmupSteps = cfg.warmup(); // explicit, so that --steps can change on resume
        Path runDir = out != null ? out : Path.of("runs", cfg.method + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        try (RunDirectory rd = RunDirectory.createFresh(runDir, "--out")) {
            cleanTemporaries(rd);
            BatchSource source = builtIn ? DefaultData.prepare(dataRoot, cfg.seed, System.err) : DefaultData.open(data);
            RunData runData = RunData.of(source, builtIn ? dataRoot : data, builtIn);
            return train(be, rd, cfg, modelConfig(source, builtIn), source, runData, null);
        }
    }

    private int resumeRun(Backends.Choice be) throws Exception {
        Path runDir = Files.isDirectory(resume) ? resume : resume.toAbsolutePath().getParent();
        try (RunDirectory rd = RunDirectory.openExisting(runDir, "--resume")) {
            cleanTemporaries(rd);
            Path from = Trainer.latestCheckpoint(resume);
            TrainConfig cfg;
            try {
                cfg = Trainer.storedConfig(from);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(from + ": metadata " + Trainer.TRAIN_KEY + ": " + e.getMessage());
            }
            List<String> fixed = new ArrayList<>();
            for (var o : spec.commandLine().getParseResult().matchedOptions()) if (!RESUMABLE.contains(o.longestName())) fixed.add(o.longestName());
            if (!fixed.isEmpty()) {
                throw new IllegalArgumentException(String.join(", ", fixed) + (fixed.size() > 1 ? " are" : " is") + " fixed by the run being resumed (see "
                        + runDir.resolve(RunDirectory.CONFIG) + "); a resume may change only " + String.join(", ", RESUMABLE.subList(1, RESUMABLE.size())));
            }
            if (cfg.method() == erw.training.Method.ERW) cfg.warmupSteps = cfg.warmup(); // older runs stored -1 (10% of the steps they were started with)
            if (steps != null) cfg.steps = steps;
            if (checkpointEvery != null) cfg.checkpointEvery = checkpointEvery;
            if (logEvery != null) cfg.logEvery = logEvery;
            if (sampleEvery != null) cfg.sampleEvery = sampleEvery;
            if (sampleSteps != null) cfg.sampleSteps = sampleSteps;
            cfg.validate();
            long at = checkpointStep(from);
            if (at >= cfg.steps) {
                throw new IllegalArgumentException(from + " is at step " + at + ", the run's last (--steps " + cfg.steps + "): nothing to do; pass --steps N > " + at + " to extend it");
            }
            RunData stored = storedData(from, rd);
            Opened in = resumedData(stored, cfg.seed);
            BatchSource source = in.source();
            RunData runData = RunData.of(source, in.path(), in.builtIn());
            if (stored != null && !stored.fingerprint().equals(runData.fingerprint())) {
                throw new IllegalArgumentException((data != null ? "--data " + data : "the run's dataset " + stored.path()) + " is not the dataset the run was trained on: "
                        + "its fingerprint is " + runData.fingerprint().substring(0, 12) + ", the run recorded " + stored.describe());
            }
            if (stored == null) System.err.println("note: " + from + " predates dataset tracking; resuming on " + runData.describe() + " as given, and recording it from now on");
            return train(be, rd, cfg, storedModel(from), source, runData, from);
        }
    }

    /** The step a checkpoint says it is at (-1 when unreadable: {@link Trainer#resume} then names the problem). */
    private static long checkpointStep(Path checkpoint) {
        try (erw.model.io.SafeTensorsFile f = erw.model.io.SafeTensors.open(checkpoint)) {
            return Long.parseLong(f.metadata().getOrDefault(Trainer.STEP_KEY, "-1").trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** The dataset a run recorded: in its newest checkpoint, else in its config.json; null for runs of older erw versions. */
    private static RunData storedData(Path checkpoint, RunDirectory rd) {
        try (erw.model.io.SafeTensorsFile f = erw.model.io.SafeTensors.open(checkpoint)) {
            String json = f.metadata().get(RunData.KEY);
            if (json != null) return RunData.fromJson(json, checkpoint + ": metadata " + RunData.KEY);
        }
        Path cfgFile = rd.path().resolve(RunDirectory.CONFIG);
        if (!Files.isRegularFile(cfgFile)) return null;
        try {
            com.fasterxml.jackson.databind.JsonNode n = new com.fasterxml.jackson.databind.ObjectMapper().readTree(cfgFile.toFile());
            return n != null && n.has("data") ? RunData.fromJson(n.get("data"), cfgFile + ": field 'data'") : null;
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException(cfgFile + " is not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    private record Opened(BatchSource source, Path path, boolean builtIn) {}

    /** --data when given (it must hold the same data, e.g. after a move), else where the run recorded it. */
    private Opened resumedData(RunData stored, long seed) throws Exception {
        if (data != null) return new Opened(DefaultData.open(data), data, false);
        if (stored == null || stored.builtIn()) {
            Path root = stored != null && !spec.commandLine().getParseResult().hasMatchedOption("--data-root") ? stored.path() : dataRoot;
            return new Opened(DefaultData.prepare(root, seed, System.err), root, true);
        }
        if (!Files.isDirectory(stored.path())) {
            throw new IllegalArgumentException("the run's dataset " + stored.path() + " is gone: if it moved, pass --data NEW_LOCATION (its fingerprint must match)");
        }
        return new Opened(DefaultData.open(stored.path()), stored.path(), false);
    }

    private static void cleanTemporaries(RunDirectory rd) {
        long[] removed = rd.removeStaleTemporaries();
        if (removed[0] > 0) System.err.printf("removed %d temporary file(s) (%s) left by an interrupted write in %s%n", removed[0], erw.model.ModelSizes.human(removed[1]), rd.path());
    }

    private int train(Backends.Choice be, RunDirectory rd, TrainConfig cfg, SiTConfig mc, BatchSource source, RunData runData, Path resumeFrom) throws Exception {
        Path runDir = rd.path();
        MemoryBudget.require(ModelSizes.trainingBytes(mc, cfg.batch), "a training step of " + describe(mc) + " at batch " + cfg.batch,
                "lower --batch or the model size, or give the JVM more heap (ERW_JAVA_OPTS=-Xmx...)");
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        com.fasterxml.jackson.databind.node.ObjectNode conf = json.createObjectNode();
        conf.set("model", json.readTree(mc.toJson()));
        conf.set("train", json.readTree(cfg.toJson()));
        conf.set("data", runData.toJsonNode());
        rd.writeAtomically(RunDirectory.CONFIG, json.writerWithDefaultPrettyPrinter().writeValueAsString(conf) + "\n");
        System.err.printf("erw train: method %s, %s, %,d steps (warmup %d), batch %d, backend %s, run directory %s%n",
                cfg.method, describe(mc), cfg.steps, cfg.warmup(), cfg.batch, be.name(), runDir);
        long t0 = System.nanoTime();
        try (Backend engine = be.create(threads != null ? threads : WorkerPool.defaultThreads());
             RunLogger log = new RunLogger(runDir, cfg.steps, cfg.logEvery, System.err);
             RunArtifacts artifacts = new RunArtifacts(rd, keepLast == null ? 0 : keepLast, log, cfg, source.numClasses(), engine, System.err);
             Trainer trainer = new Trainer(cfg, mc, source, runDir, engine, artifacts)) {
            trainer.checkpointMetadata(RunData.KEY, runData.toJson());
            if (resumeFrom != null) {
                trainer.resume(resumeFrom);
                log.resumedAt(trainer.step());
                System.err.println("resumed from " + resumeFrom + " at step " + trainer.step());
            } else {
                trainer.startFresh();
            }
            trainer.run(cfg.steps);
            artifacts.finish(trainer);
        }
        System.err.printf("done in %s: %s%n", formatMinutes((System.nanoTime() - t0) / 1e9), runDir);
        return 0;
    }

    private static SiTConfig storedModel(Path checkpoint) {
        try (erw.model.io.SafeTensorsFile f = erw.model.io.SafeTensors.open(checkpoint)) {
            return erw.model.Checkpoint.config(f, null).full();
        }
    }

    private static String formatMinutes(double s) {
        return String.format("%.1f min", s / 60);
    }

    private static String describe(SiTConfig c) {
        return String.format("SiT depth %d, hidden %d, %d heads, patch %d, %dx%dx%d, projector at block %d -> %d",
                c.depth(), c.hiddenSize(), c.numHeads(), c.patchSize(), c.inChannels(), c.inputSize(), c.inputSize(), c.encoderDepth(), c.zDim());
    }

    private SiTConfig modelConfig(BatchSource source, boolean builtIn) {
        int[] img = source.imageShape();
        int z = source.hasFeatures() ? source.featureShape()[1] : 768;
        SiTConfig base = model.equalsIgnoreCase("tiny") ? fashionModel(z) : SiTConfig.named(model);
        return new SiTConfig(depth != null ? depth : base.depth(), hidden != null ? hidden : base.hiddenSize(), heads != null ? heads : base.numHeads(),
                patch != null ? patch : base.patchSize(), img[1], img[0], source.numClasses(),
                encoderDepth != null ? encoderDepth : base.encoderDepth(), projectorDim != null ? projectorDim : base.projectorDim(), z,
                base.mlpRatio(), qkNorm, false, 0);
    }

    private void apply(TrainConfig c) {
        c.method = method;
        c.align = align;
        if (steps != null) c.steps = steps;
        if (warmupSteps != null) c.warmupSteps = warmupSteps;
        if (batch != null) c.batch = batch;
        if (lr != null) c.lr = lr;
        if (emaDecay != null) c.emaDecay = emaDecay;
        if (l2rDepth != null) c.l2rDepth = l2rDepth;
        if (c0 != null) c.c0 = c0;
        if (halfLife != null) c.halfLife = halfLife;
        if (warmupLambda != null) c.warmupLambda = warmupLambda;
        if (repaLambda != null) c.repaLambda = repaLambda;
        if (tau != null) c.ntxentTau = tau;
        c.ntxentSymmetric = symmetric;
        if (labelDropout != null) c.labelDropout = labelDropout;
        if (clip != null) c.clip = clip;
        if (weightDecay != null) c.weightDecay = weightDecay;
        if (timeSampling != null) c.timeSampling = timeSampling;
        if (seed != null) c.seed = seed;
        if (checkpointEvery != null) c.checkpointEvery = checkpointEvery;
        if (logEvery != null) c.logEvery = logEvery;
        if (sampleEvery != null) c.sampleEvery = sampleEvery;
        if (sampleSteps != null) c.sampleSteps = sampleSteps;
    }
}
