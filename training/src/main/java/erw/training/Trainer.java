package erw.training;

import erw.engine.Backend;
import erw.engine.Tensor;
import erw.engine.cpu.Philox;
import erw.model.Checkpoint;
import erw.model.ParameterStore;
import erw.model.SiT;
import erw.model.SiTConfig;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Runs ERW, REPA or SiT training: the phases of {@link Schedule} as {@link PhaseProgram}s, the
 * transition between them, checkpoints (model, EMA, AdamW moments, step, phase, configs; atomic)
 * and bit-exact resume. Every random draw is keyed by (seed, step), so the step is the whole RNG
 * and data-order state.
 */
public final class Trainer implements AutoCloseable {
    public static final long STREAM_T = 2, STREAM_DROP = 3;

    /** What the trainer reports; the CLI prints it, tests record it. */
    public interface Listener {
        default void onStep(StepLog log) {}

        default void onTransition(List<String> copied, List<String> fresh) {}

        default void onCheckpoint(Path file, long step) {}

        /** Called at sample intervals (phase 2) with the EMA model's tensors current. */
        default void onSample(long step, PhaseProgram program) {}
    }

    /** One step's numbers. */
    public record StepLog(long step, int phase, double loss, double lossV, double lossAlign, double lambda, double gradNorm, double imgPerSec, double seconds) {}

    private final TrainConfig cfg;
    private final SiTConfig modelCfg;
    private final BatchSource data;
    private final Path runDir;
    private final Backend backend;
    private final Listener listener;
    private final Schedule schedule;
    private final DataOrder order;
    private final boolean align;
    private final int batch;
    private PhaseProgram program;
    private long step;

    public Trainer(TrainConfig cfg, SiTConfig modelCfg, BatchSource data, Path runDir, Backend backend, Listener listener) {
        this.cfg = cfg.validate();
        this.modelCfg = modelCfg.full();
        this.data = data;
        this.runDir = runDir;
        this.backend = backend;
        this.listener = listener == null ? new Listener() {} : listener;
        this.schedule = new Schedule(cfg, modelCfg.depth(), modelCfg.hiddenSize());
        this.align = schedule.aligns();
        this.batch = cfg.batch;
        checkData();
        if (cfg.method() == Method.ERW && cfg.l2rDepth > modelCfg.depth()) {
            throw new IllegalArgumentException("--l2r-depth " + cfg.l2rDepth + " exceeds the model depth " + modelCfg.depth());
        }
        this.order = new DataOrder(cfg.seed, data.count());
    }

    private void checkData() {
        int[] s = data.imageShape();
        if (s[0] != modelCfg.inChannels() || s[1] != modelCfg.inputSize() || s[2] != modelCfg.inputSize()) {
            throw new IllegalArgumentException("data samples are " + java.util.Arrays.toString(s) + " but the model expects ["
                    + modelCfg.inChannels() + ", " + modelCfg.inputSize() + ", " + modelCfg.inputSize() + "]");
        }
        if (data.numClasses() > modelCfg.numClasses()) {
            throw new IllegalArgumentException("data has " + data.numClasses() + " classes, the model " + modelCfg.numClasses());
        }
        if (align) {
            if (!data.hasFeatures()) throw new IllegalArgumentException("method " + cfg.method + " needs target features in the dataset (erw data features), or use --method sit");
            int[] f = data.featureShape();
            if (f[0] != modelCfg.tokens() || f[1] != modelCfg.zDim()) {
                throw new IllegalArgumentException("target features are [" + f[0] + ", " + f[1] + "] per sample but the model has "
                        + modelCfg.tokens() + " tokens and z_dim " + modelCfg.zDim());
            }
        }
        if (data.count() < 1) throw new IllegalArgumentException("dataset is empty");
    }

    public long step() {
        return step;
    }

    public PhaseProgram program() {
        return program;
    }

    public Schedule schedule() {
        return schedule;
    }

    /** A fresh start: the model of the first phase, initialized from the seed. */
    public Trainer startFresh() {
        step = 0;
        program = buildProgram(schedule.phase(0), null);
        return this;
    }

    private PhaseProgram buildProgram(int phase, SiT model) {
        if (model == null) {
            SiTConfig c = phase == 1 ? modelCfg.truncatedTo(cfg.l2rDepth) : modelCfg;
            model = new SiT(c).initialize(cfg.seed);
        }
        return new PhaseProgram(backend, model, phase, cfg, batch, align);
    }

    /**
     * The transition of SPEC section 4: the full model, every tensor whose name is in the warmup
     * model copied from it, the rest freshly initialized; EMA = copy; a fresh optimizer.
     */
    private void transition() {
        program.syncToHost();
        SiT warm = program.model;
        SiT full = new SiT(modelCfg).initialize(cfg.seed + 1);
        List<String> copied = full.parameters().copyMatchingFrom(warm.parameters());
        List<String> fresh = new ArrayList<>();
        for (String n : full.parameters().all().keySet()) if (!copied.contains(n)) fresh.add(n);
        program.close();
        program = buildProgram(2, full);
        listener.onTransition(copied, fresh);
    }

    /** Trains until {@code cfg.steps}, or until {@code stopAt} when it is smaller (for tests and staged runs). */
    public void run(long stopAt) {
        if (program == null) throw new IllegalStateException("call startFresh() or resume() first");
        long end = Math.min(stopAt, cfg.steps);
        int[] idx = new int[batch];
        float[] u = new float[batch];
        while (step < end) {
            int phase = schedule.phase(step);
            if (phase != program.phase) transition();
            long t0 = System.nanoTime();
            PhaseProgram p = program;
            order.batchIndices(step, idx);
            data.batch(idx, p.x0.data(), p.labels.data(), p.targets == null ? null : p.targets.data());
            dropLabels(p.labels.data(), u);
            drawTimes(p, phase);
            double lambda = schedule.lambda(step);
            p.lambda.set((float) lambda);
            p.adamStep.set(step - phaseStart(phase) + 1);
            p.noiseCounter.set(step);
            p.forward();
            double loss = p.loss.item();
            double lossV = p.lossV == null ? Double.NaN : p.lossV.item();
            double lossA = p.lossAlign == null ? Double.NaN : p.lossAlign.item();
            checkFinite("loss_v", p.lossV);
            checkFinite("loss_align", p.lossAlign);
            checkFinite("loss", p.loss);
            p.update();
            if (!Float.isFinite(p.gradNorm.item())) throw new TrainingException("step " + step + ": the gradient norm is " + p.gradNorm.item() + " (a non-finite gradient); stopping, the last checkpoint is intact");
            step++;
            double secs = (System.nanoTime() - t0) / 1e9;
            listener.onStep(new StepLog(step, phase, loss, lossV, lossA, lambda, p.gradNorm.item(), batch / secs, secs));
            if (cfg.checkpointEvery > 0 && step % cfg.checkpointEvery == 0 || step == cfg.steps) saveCheckpoint();
            if (cfg.sampleEvery > 0 && phase == 2 && (step % cfg.sampleEvery == 0 || step == cfg.steps)) {
                p.syncToHost();
                listener.onSample(step, p);
            }
        }
    }

    private long phaseStart(int phase) {
        return phase == 1 ? 0 : cfg.warmup();
    }

    private void checkFinite(String term, Tensor t) {
        if (t != null && !Float.isFinite(t.item())) {
            throw new TrainingException("step " + step + ": " + term + " is " + t.item() + "; stopping (the last checkpoint is intact)");
        }
    }

    /** Label dropout: each label becomes the null class with probability labelDropout (keyed by step). */
    private void dropLabels(float[] labels, float[] u) {
        if (cfg.labelDropout <= 0) return;
        Philox.uniform(cfg.seed, STREAM_DROP, step << 20, u, 0, u.length);
        for (int i = 0; i < labels.length; i++) if (u[i] < cfg.labelDropout) labels[i] = modelCfg.numClasses();
    }

    private void drawTimes(PhaseProgram p, int phase) {
        float[] t = p.t.data();
        if (phase == 1) {
            java.util.Arrays.fill(t, 0f);
            return;
        }
        if (cfg.timeSampling.equals("lognormal")) {
            Philox.normal(cfg.seed, STREAM_T, step << 20, t, 0, t.length);
            for (int i = 0; i < t.length; i++) {
                double s = Math.exp(t[i]);
                t[i] = (float) (s / (1 + s));
            }
        } else {
            Philox.uniform(cfg.seed, STREAM_T, step << 20, t, 0, t.length);
        }
    }

    // ---- checkpoints ---------------------------------------------------------------------------

    public static final String STEP_KEY = "erw.step", PHASE_KEY = "erw.phase", TRAIN_KEY = "erw.train";

    public Path checkpointPath(long s) {
        return runDir.resolve(String.format("step-%07d.safetensors", s));
    }

    /** Model, EMA, AdamW moments, step, phase and configs in one atomically written file. */
    public Path saveCheckpoint() {
        program.syncToHost();
        Map<String, SafeTensors.Tensor> tensors = new LinkedHashMap<>(Checkpoint.tensors(program.model.parameters(), ""));
        for (Tensor e : program.ema) tensors.put(e.name(), Checkpoint.entry(e));
        for (Tensor m : program.adam.firstMoments()) tensors.put("optim." + m.name(), Checkpoint.entry(m));
        for (Tensor v : program.adam.secondMoments()) tensors.put("optim." + v.name(), Checkpoint.entry(v));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put(Checkpoint.CONFIG_KEY, program.model.config().toJson());
        meta.put(TRAIN_KEY, cfg.toJson());
        meta.put(STEP_KEY, Long.toString(step));
        meta.put(PHASE_KEY, Integer.toString(program.phase));
        meta.put("format", "erw-checkpoint/1");
        Path file = checkpointPath(step);
        try {
            Files.createDirectories(runDir);
        } catch (IOException e) {
            throw new TrainingException("cannot create run directory " + runDir + ": " + e.getMessage());
        }
        SafeTensors.write(file, tensors, meta);
        listener.onCheckpoint(file, step);
        return file;
    }

    /** The newest {@code step-*.safetensors} in a run directory, or the file itself. */
    public static Path latestCheckpoint(Path dirOrFile) {
        return latestCheckpoint(dirOrFile, "--resume");
    }

    /** As above; errors name {@code what} (the option or argument that gave the path). */
    public static Path latestCheckpoint(Path dirOrFile, String what) {
        if (Files.isRegularFile(dirOrFile)) return dirOrFile;
        if (!Files.isDirectory(dirOrFile)) throw new IllegalArgumentException(what + " " + dirOrFile + ": no such run directory or checkpoint");
        try (Stream<Path> s = Files.list(dirOrFile)) {
            return s.filter(p -> p.getFileName().toString().matches("step-\\d{7}\\.safetensors")).max(Path::compareTo)
                    .orElseThrow(() -> new IllegalArgumentException(what + " " + dirOrFile + ": no step-XXXXXXX.safetensors checkpoint in it"));
        } catch (IOException e) {
            throw new IllegalArgumentException(what + " " + dirOrFile + ": " + e.getMessage());
        }
    }

    /** Reads the training config stored in a checkpoint (resume uses it instead of the command line's). */
    public static TrainConfig storedConfig(Path checkpoint) {
        try (SafeTensorsFile f = SafeTensors.open(checkpoint)) {
            String json = f.metadata().get(TRAIN_KEY);
            if (json == null) throw new IllegalArgumentException(checkpoint + " is not a training checkpoint (no '" + TRAIN_KEY + "' metadata)");
            return TrainConfig.fromJson(json);
        }
    }

    /** Restores model, EMA, optimizer and step from a checkpoint written by {@link #saveCheckpoint()}. */
    public Trainer resume(Path checkpoint) {
        try (SafeTensorsFile f = SafeTensors.open(checkpoint)) {
            Map<String, String> meta = f.metadata();
            if (!meta.containsKey(STEP_KEY) || !meta.containsKey(PHASE_KEY)) {
                throw new IllegalArgumentException(checkpoint + " is not a training checkpoint (no step/phase metadata)");
            }
            step = Long.parseLong(meta.get(STEP_KEY));
            int phase = Integer.parseInt(meta.get(PHASE_KEY));
            SiT model = new SiT(Checkpoint.config(f, null));
            Checkpoint.loadInto(f, model.parameters(), "", false);
            if (program != null) program.close();
            program = buildProgram(phase, model);
            restore(f, program.ema, "");
            restore(f, program.adam.firstMoments(), "optim.");
            restore(f, program.adam.secondMoments(), "optim.");
            program.syncToDevice();
            return this;
        }
    }

    private static void restore(SafeTensorsFile f, List<Tensor> tensors, String prefix) {
        for (Tensor t : tensors) {
            String key = prefix + t.name();
            if (!f.contains(key)) throw new IllegalArgumentException(f.path() + ": missing " + key + " needed to resume");
            f.readFloats(key, t.data(), 0);
        }
    }

    public ParameterStore parameters() {
        return program.model.parameters();
    }

    @Override
    public void close() {
        if (program != null) program.close();
    }
}
