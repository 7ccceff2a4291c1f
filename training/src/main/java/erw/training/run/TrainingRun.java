package erw.training.run;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import erw.engine.Backend;
import erw.engine.Backends;
import erw.model.MemoryBudget;
import erw.model.ModelSizes;
import erw.model.SiTConfig;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsFile;
import erw.training.BatchSource;
import erw.training.Recipes;
import erw.training.RunLogger;
import erw.training.TrainConfig;
import erw.training.Trainer;
import erw.training.data.BuiltInData;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.function.Consumer;

/**
 * A training run as a user starts it, from code: a fresh run into a new run directory, or the
 * resume of one. This is what {@code erw train} calls; the main job is
 * {@code TrainingRun.fresh(Recipes.mainJob(), ModelChoice.TINY, Data.builtIn(Path.of("data")), null, settings)}.
 *
 * <p>The run directory owns the run's configuration: the model, every option and the dataset (its
 * path and {@link DataFingerprint}), in {@code config.json} and in every checkpoint. A resume
 * restores it, refuses a different dataset, and applies only the changes a resume may make.
 */
public final class TrainingRun {
    private TrainingRun() {}

    /** How the run executes (not part of its math): backend, worker threads, checkpoints kept, where messages go. */
    public record Settings(Backends.Choice backend, int threads, int keepLast, PrintStream err, erw.training.Collective collective,
                           erw.training.Recompute recompute) {
        public Settings {
            if (threads < 1) throw new IllegalArgumentException("--threads " + threads + " must be >= 1");
            if (keepLast < 0) throw new IllegalArgumentException("--keep-last " + keepLast + " must be >= 0 (0 = keep all)");
        }

        public Settings(Backends.Choice backend, int threads, int keepLast, PrintStream err, erw.training.Collective collective) {
            this(backend, threads, keepLast, err, collective, erw.training.Recompute.NONE);
        }

        /** One process. */
        public Settings(Backends.Choice backend, int threads, int keepLast, PrintStream err) {
            this(backend, threads, keepLast, err, erw.training.Collective.SINGLE);
        }

        /** Rank 0 writes the run directory and reports; the other ranks of a data-parallel run neither. */
        boolean lead() {
            return collective.rank() == 0;
        }

        /** Progress output: rank 0's, silence for the others (their errors still reach the launcher). */
        PrintStream out() {
            return lead() ? err : new PrintStream(java.io.OutputStream.nullOutputStream());
        }
    }

    /** Where the data comes from: a dataset directory, or the built-in Fashion-MNIST pipeline under a data root. */
    public record Data(Path directory, Path root) {
        public static Data directory(Path dir) {
            return new Data(dir, null);
        }

        public static Data builtIn(Path root) {
            return new Data(null, root);
        }

        public boolean isBuiltIn() {
            return directory == null;
        }

        /** The data with every feature set the run's targets read (the built-in pipeline makes missing ones). */
        BatchSource open(TrainConfig cfg, PrintStream err) throws Exception {
            java.util.List<String> sets = cfg.aligns() ? cfg.alignTargets().stream().map(erw.training.AlignTarget::features).distinct().toList() : java.util.List.of();
            return isBuiltIn() ? BuiltInData.prepare(root, cfg.seed(), sets, err) : BuiltInData.open(directory);
        }

        Path path() {
            return isBuiltIn() ? root : directory;
        }
    }

    /** What a resume may change: run length, cadence and sample grids (the builder's fields of those names). */
    public static final java.util.List<String> RESUMABLE_FIELDS = java.util.List.of("steps", "checkpointEvery", "logEvery", "sampleEvery", "sampleSteps");

    /** Trains a new run into {@code out} (default {@code runs/<method>-<time>}); returns the run directory. */
    public static Path fresh(TrainConfig cfg, Recipes.ModelChoice model, Data data, Path out, Settings s) throws Exception {
        Path runDir = out != null ? out : Path.of("runs", cfg.method().id() + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        try (RunDirectory rd = s.lead() ? RunDirectory.createFresh(runDir, "--out") : null) {
            if (rd != null) cleanTemporaries(rd, s.err());
            BatchSource source = openInTurn(data, cfg, s);
            RunData runData = RunData.of(source, data.path(), data.isBuiltIn(), extraSets(cfg));
            train(s, rd, runDir, cfg, model.forRun(source, cfg), source, runData, null);
        }
        return runDir;
    }

    /**
     * Resumes the run in {@code resume} (a run directory or one of its checkpoints) from its newest
     * checkpoint. {@code changes} may set only {@link #RESUMABLE_FIELDS}; {@code data} (null = the
     * recorded dataset) must have the recorded fingerprint.
     */
    public static Path resume(Path resume, Consumer<TrainConfig.Builder> changes, Data data, Settings s) throws Exception {
        Path runDir = Files.isDirectory(resume) ? resume : resume.toAbsolutePath().getParent();
        if (!s.lead() && !Files.isDirectory(runDir)) throw new IllegalArgumentException("--resume " + runDir + ": no such run directory (on this rank's machine)");
        try (RunDirectory rd = s.lead() ? RunDirectory.openExisting(runDir, "--resume") : null) {
            if (rd != null) cleanTemporaries(rd, s.err());
            Path from = Trainer.latestCheckpoint(resume);
            TrainConfig stored;
            try {
                stored = Trainer.storedConfig(from);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(from + ": metadata " + Trainer.TRAIN_KEY + ": " + e.getMessage());
            }
            TrainConfig.Builder asked = stored.toBuilder(), kept = stored.toBuilder();
            if (stored.method() == erw.training.Method.ERW) {
                asked.warmupSteps = kept.warmupSteps = stored.warmup(); // older runs stored -1 (10% of the steps they started with)
            }
            if (stored.method() == erw.training.Method.REED) { // schedules sized by the steps the run started with stay put when it is extended
                asked.alignSteps = kept.alignSteps = stored.alignSteps();
                asked.diffusionWarmupSteps = kept.diffusionWarmupSteps = stored.diffusionWarmup();
            }
            changes.accept(asked);
            kept.steps = asked.steps;
            kept.checkpointEvery = asked.checkpointEvery;
            kept.logEvery = asked.logEvery;
            kept.sampleEvery = asked.sampleEvery;
            kept.sampleSteps = asked.sampleSteps;
            TrainConfig cfg = kept.build();
            if (!cfg.equals(asked.build())) throw new IllegalArgumentException("a resume may change only " + String.join(", ", RESUMABLE_FIELDS));
            long at = checkpointStep(from);
            if (at >= cfg.steps()) {
                throw new IllegalArgumentException(from + " is at step " + at + ", the run's last (--steps " + cfg.steps() + "): nothing to do; pass --steps N > " + at + " to extend it");
            }
            RunData recorded = recordedData(from, runDir);
            Data use = data != null ? data : recorded == null ? Data.builtIn(Path.of("data"))
                    : recorded.builtIn() ? Data.builtIn(recorded.path()) : Data.directory(recorded.path());
            if (data == null && recorded != null && !recorded.builtIn() && !Files.isDirectory(recorded.path())) {
                throw new IllegalArgumentException("the run's dataset " + recorded.path() + " is gone: if it moved, pass --data NEW_LOCATION (its fingerprint must match)");
            }
            BatchSource source = openInTurn(use, cfg, s);
            RunData runData = RunData.of(source, use.path(), use.isBuiltIn(), extraSets(cfg));
            if (recorded != null && !recorded.fingerprint().equals(runData.fingerprint())) {
                throw new IllegalArgumentException((data != null && !data.isBuiltIn() ? "--data " + data.directory() : "the dataset at " + use.path())
                        + " is not the dataset the run was trained on: its fingerprint is " + runData.fingerprint().substring(0, 12) + ", the run recorded " + recorded.describe());
            }
            if (recorded == null) s.out().println("note: " + from + " predates dataset tracking; resuming on " + runData.describe() + " as given, and recording it from now on");
            train(s, rd, runDir, cfg, storedModel(from), source, runData, from);
        }
        return runDir;
    }

    /** The planned bytes of this run's larger phase (the full one), per rank; -1 when a size overflows. */
    static long plannedBytes(SiTConfig mc, TrainConfig cfg, Settings s) {
        long unshared = ModelSizes.trainingBytes(mc, cfg.batch());
        if (unshared < 0) return -1; // an absurd config: refused before recording anything
        int local = Math.max(1, cfg.batch() / s.collective().size());
        try {
            return erw.training.PhaseProgram.plannedMemory(mc.full(), erw.training.Phase.FULL, cfg, local, cfg.aligns(), s.recompute()).total();
        } catch (erw.engine.EngineException tooLarge) { // a tensor beyond 2^31 elements: far beyond any heap, the estimate says by how much
            return unshared;
        }
    }

    /** Rank 0 opens the data first (the built-in pipeline may still have to make files); the other ranks then read what it made. */
    private static BatchSource openInTurn(Data data, TrainConfig cfg, Settings s) throws Exception {
        if (s.collective().size() == 1) return data.open(cfg, s.err());
        BatchSource source = null;
        if (s.lead()) source = data.open(cfg, s.err());
        s.collective().barrier();
        return s.lead() ? source : data.open(cfg, s.out());
    }

    private static void train(Settings s, RunDirectory rd, Path runDir, TrainConfig cfg, SiTConfig mc, BatchSource source, RunData runData, Path resumeFrom) throws Exception {
        PrintStream err = s.out();
        Trainer.check(cfg, mc, source); // before config.json: a refused run leaves no half-made run directory behind
        MemoryBudget.require(plannedBytes(mc, cfg, s), "a training step of " + describe(mc) + " at batch " + cfg.batch()
                        + (s.recompute() == erw.training.Recompute.BLOCKS ? " with --recompute blocks" : ""),
                "lower --batch or the model size, pass --recompute blocks, or give the JVM more heap (ERW_JAVA_OPTS=-Xmx...)");
        ObjectMapper json = new ObjectMapper();
        ObjectNode conf = json.createObjectNode();
        conf.set("model", json.readTree(mc.toJson()));
        conf.set("train", json.readTree(cfg.toJson()));
        conf.set("data", runData.toJsonNode());
        if (rd != null) rd.writeAtomically(RunDirectory.CONFIG, json.writerWithDefaultPrettyPrinter().writeValueAsString(conf) + "\n");
        int ranks = s.collective().size();
        err.printf("erw train: method %s, %s, %,d steps (warmup %d), batch %d%s, backend %s, run directory %s%n",
                cfg.method().id(), describe(mc), cfg.steps(), cfg.warmup(), cfg.batch(), ranks > 1 ? " (" + ranks + " ranks x " + cfg.batch() / ranks + ")" : "",
                s.backend().name(), runDir);
        if (source.posterior() != null) {
            err.printf(java.util.Locale.ROOT, "data: posterior moments; every step draws z = (mean + std * eps) * %s + %s%n", source.posterior().scale(), source.posterior().shift());
        }
        long t0 = System.nanoTime();
        try (Backend engine = s.backend().create(s.threads());
             RunLogger log = rd != null ? new RunLogger(runDir, cfg.steps(), cfg.logEvery(), err) : null;
             RunArtifacts artifacts = rd != null ? new RunArtifacts(rd, s.keepLast(), log, cfg, source.numClasses(), engine, err) : null;
             Trainer trainer = new Trainer(cfg, mc, source, runDir, engine, artifacts)) {
            trainer.checkpointMetadata(RunData.KEY, runData.toJson());
            trainer.collective(s.collective());
            trainer.recompute(s.recompute());
            if (resumeFrom != null) {
                trainer.resume(resumeFrom);
                if (log != null) log.resumedAt(trainer.step());
                err.println("resumed from " + resumeFrom + " at step " + trainer.step());
            } else {
                trainer.startFresh();
            }
            trainer.run(cfg.steps());
            if (artifacts != null) artifacts.finish(trainer);
        }
        err.printf("done in %.1f min: %s%n", (System.nanoTime() - t0) / 6e10, runDir);
    }

    /** The feature sets besides the default one that a run reads (their rows join the dataset's fingerprint). */
    private static java.util.List<String> extraSets(TrainConfig cfg) {
        if (!cfg.aligns()) return java.util.List.of();
        return cfg.alignTargets().stream().map(erw.training.AlignTarget::features).filter(f -> !f.equals(BatchSource.FEATURES)).distinct().sorted().toList();
    }

    /** The step a checkpoint says it is at (-1 when unreadable: {@link Trainer#resume} then names the problem). */
    private static long checkpointStep(Path checkpoint) {
        try (SafeTensorsFile f = SafeTensors.open(checkpoint)) {
            return Long.parseLong(f.metadata().getOrDefault(Trainer.STEP_KEY, "-1").trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** The dataset a run recorded: in its newest checkpoint, else in its config.json; null for runs of older erw versions. */
    private static RunData recordedData(Path checkpoint, Path runDir) {
        try (SafeTensorsFile f = SafeTensors.open(checkpoint)) {
            String json = f.metadata().get(RunData.KEY);
            if (json != null) return RunData.fromJson(json, checkpoint + ": metadata " + RunData.KEY);
        }
        Path cfgFile = runDir.resolve(RunDirectory.CONFIG);
        if (!Files.isRegularFile(cfgFile)) return null;
        try {
            JsonNode n = new ObjectMapper().readTree(cfgFile.toFile());
            return n != null && n.has("data") ? RunData.fromJson(n.get("data"), cfgFile + ": field 'data'") : null;
        } catch (IOException e) {
            throw new IllegalArgumentException(cfgFile + " is not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    private static SiTConfig storedModel(Path checkpoint) {
        try (SafeTensorsFile f = SafeTensors.open(checkpoint)) {
            return erw.model.Checkpoint.config(f, null).full();
        }
    }

    private static void cleanTemporaries(RunDirectory rd, PrintStream err) {
        long[] removed = rd.removeStaleTemporaries();
        if (removed[0] > 0) err.printf("removed %d temporary file(s) (%s) left by an interrupted write in %s%n", removed[0], ModelSizes.human(removed[1]), rd.path());
    }

    private static String describe(SiTConfig c) {
        StringBuilder p = new StringBuilder();
        for (SiTConfig.Projector pr : c.projectors()) {
            p.append(p.length() == 0 ? "" : ", ").append("block ").append(pr.block()).append(pr.pooled() ? " (pooled)" : "").append(" -> ").append(pr.zDim());
        }
        return String.format("SiT depth %d, hidden %d, %d heads, patch %d, %dx%dx%d, projector%s at %s",
                c.depth(), c.hiddenSize(), c.numHeads(), c.patchSize(), c.inChannels(), c.inputSize(), c.inputSize(), c.projectors().size() > 1 ? "s" : "", p);
    }
}
