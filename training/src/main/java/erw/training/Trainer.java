package erw.training;

import erw.engine.Backend;
import erw.engine.Tensor;
import erw.engine.host.Philox;
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
 *
 * <p>On data of posterior moments ({@link BatchSource#posterior()}) each step draws every sample's
 * latent afresh, {@code z = (mean + std * eps) * scale + shift} as REPA's {@code sample_posterior}
 * does, with {@code eps} from {@link #posteriorNoise}: a function of (seed, step, the sample's
 * position in the global batch) only, so the same for any number of ranks and after a resume.
 */
public final class Trainer implements AutoCloseable {
    public static final long STREAM_T = 2, STREAM_DROP = 3;
    /** Philox stream of the posterior draws (above 2^32: apart from every other stream erw keys by small numbers or by epoch). */
    public static final long STREAM_POSTERIOR = 0x9057_0000_0000L;

    /** What the trainer reports; the CLI prints it, tests record it. */
    public interface Listener {
        default void onStep(StepLog log) {}

        default void onTransition(List<String> copied, List<String> fresh) {}

        default void onCheckpoint(Path file, long step) {}

        /** Called at sample intervals (phase 2) with the EMA model's tensors current. */
        default void onSample(long step, PhaseProgram program) {}
    }

    /**
     * One step's numbers: {@code wDiff} is the velocity loss weight (REED's curriculum; 1 otherwise,
     * NaN in ERW's warmup), {@code wAlign} REED's alignment schedule (NaN for other methods) and
     * {@code alignTerms} each target's term by its metric name ({@code loss_align.<set>}; empty
     * with a single target, whose term is {@code lossAlign}).
     */
    public record StepLog(long step, Phase phase, double loss, double lossV, double lossAlign, double lambda, double gradNorm, double imgPerSec, double seconds,
                          double wDiff, double wAlign, java.util.SequencedMap<String, Double> alignTerms) {
        public StepLog(long step, Phase phase, double loss, double lossV, double lossAlign, double lambda, double gradNorm, double imgPerSec, double seconds) {
            this(step, phase, loss, lossV, lossAlign, lambda, gradNorm, imgPerSec, seconds, Double.NaN, Double.NaN, new java.util.LinkedHashMap<>());
        }
    }

    private final TrainConfig cfg;
    private final SiTConfig modelCfg;
    private final BatchSource data;
    private final Path runDir;
    private final Backend backend;
    private final Listener listener;
    private final Schedule schedule;
    private final DataOrder order;
    /** The data's posterior (moments datasets), else null. */
    private final BatchSource.Posterior posterior;
    private final boolean align;
    private final int batch;
    private PhaseProgram program;
    private long step;
    /** The newest checkpoint this run wrote or resumed from (named when a run stops). */
    private Path lastCheckpoint;
    private final Map<String, String> extraMetadata = new LinkedHashMap<>();
    private final List<String> termNames;
    /** The ranks of a data-parallel run ({@link Collective#SINGLE} for one process). */
    private Collective collective = Collective.SINGLE;
    private Recompute recompute = Recompute.NONE;
    private Collective.GradientSync sync;

    public Trainer(TrainConfig cfg, SiTConfig modelCfg, BatchSource data, Path runDir, Backend backend, Listener listener) {
        this.cfg = cfg;
        this.modelCfg = modelCfg.full();
        this.data = data;
        this.runDir = runDir;
        this.backend = backend;
        this.listener = listener == null ? new Listener() {} : listener;
        this.schedule = new Schedule(cfg, modelCfg.depth(), modelCfg.hiddenSize());
        this.align = schedule.aligns();
        this.batch = cfg.batch();
        check(cfg, this.modelCfg, data);
        this.order = new DataOrder(cfg.seed(), data.count());
        this.posterior = data.posterior();
        this.termNames = termNames(cfg, this.modelCfg);
    }

    /**
     * Everything a run needs from its data and model, checked before anything is written or trained:
     * sample shape, classes, the ERW warmup depth and every alignment target. One-line errors.
     */
    public static void check(TrainConfig cfg, SiTConfig modelCfg, BatchSource data) {
        int[] s = data.imageShape();
        if (s[0] != modelCfg.inChannels() || s[1] != modelCfg.inputSize() || s[2] != modelCfg.inputSize()) {
            throw new IllegalArgumentException("data samples are " + java.util.Arrays.toString(s) + " but the model expects ["
                    + modelCfg.inChannels() + ", " + modelCfg.inputSize() + ", " + modelCfg.inputSize() + "]");
        }
        if (data.numClasses() > modelCfg.numClasses()) {
            throw new IllegalArgumentException("data has " + data.numClasses() + " classes, the model " + modelCfg.numClasses());
        }
        if (cfg.aligns()) checkTargets(cfg, modelCfg, data);
        if (data.count() < 1) throw new IllegalArgumentException("dataset is empty");
        if (data.posterior() != null && (long) cfg.batch() * ((BatchSource.size(s) + 3) / 4) > 1L << 32) {
            throw new IllegalArgumentException("--batch " + cfg.batch() + " of " + java.util.Arrays.toString(s) + " posterior samples needs more than 2^32 noise blocks per step");
        }
        if (cfg.method() == Method.ERW && cfg.l2rDepth() > modelCfg.depth()) {
            throw new IllegalArgumentException("--l2r-depth " + cfg.l2rDepth() + " exceeds the model depth " + modelCfg.depth());
        }
    }

    /**
     * The targets against the data and the model: every feature set exists, and per token it has the
     * model's tokens, each width matches its projector, every projector's block is within the depth.
     */
    public static void checkTargets(TrainConfig cfg, SiTConfig model, BatchSource data) {
        List<AlignTarget> targets = cfg.alignTargets();
        List<SiTConfig.Projector> projectors = model.projectors();
        if (targets.size() != projectors.size()) {
            throw new IllegalArgumentException("--target: " + targets.size() + " alignment target(s) but the model has " + projectors.size() + " projector(s) (" + model.toJson() + ")");
        }
        for (int k = 0; k < targets.size(); k++) {
            AlignTarget a = targets.get(k);
            SiTConfig.Projector p = projectors.get(k);
            String what = "--target " + a.spec();
            int[] f = a.shapeIn(data);
            if (p.block() < 1 || p.block() > model.depth()) throw new IllegalArgumentException(what + ": block " + p.block() + " is beyond the model's depth " + model.depth());
            if (p.pooled() != a.pooled() || (a.block() > 0 && a.block() != p.block()) || (a.hidden() > 0 && a.hidden() != p.width())) {
                throw new IllegalArgumentException(what + " does not match the model's projector " + k + " (block " + p.block() + ", " + (p.pooled() ? "pooled" : "per token") + ", hidden " + p.width() + ")");
            }
            int width = f[f.length - 1];
            if (p.pooled() ? f.length != 1 : f.length != 2 || f[0] != model.tokens()) {
                throw new IllegalArgumentException(what + ": feature set '" + a.features() + "' is " + java.util.Arrays.toString(f) + " per sample but "
                        + (p.pooled() ? "a pooled target needs one vector per sample ([Z])" : "a per-token target needs the model's " + model.tokens() + " tokens ([" + model.tokens() + ", Z]); use pool=mean for one vector per sample"));
            }
            if (width != p.zDim()) {
                throw new IllegalArgumentException(what + ": feature set '" + a.features() + "' has width " + width + " but the projector's z is " + p.zDim());
            }
        }
    }

    /** Metric names of the targets: {@code loss_align.<set>}, with {@code @<block>} when two targets read the same set. */
    public static List<String> termNames(TrainConfig cfg, SiTConfig model) {
        List<AlignTarget> targets = cfg.alignTargets();
        List<String> names = new ArrayList<>();
        for (int k = 0; k < targets.size(); k++) {
            String set = targets.get(k).features();
            boolean shared = targets.stream().filter(a -> a.features().equals(set)).count() > 1;
            names.add("loss_align." + set + (shared ? "@" + model.projectors().get(k).block() : ""));
        }
        return names;
    }

    public long step() {
        return step;
    }

    /**
     * Makes this trainer one rank of a data-parallel run (before {@link #startFresh()} or
     * {@link #resume}): it trains on its slice of each global batch of {@code --batch} samples,
     * averages gradients with the other ranks, and only rank 0 writes checkpoints.
     */
    public Trainer collective(Collective c) {
        if (program != null) throw new IllegalStateException("set the collective before starting");
        int ranks = c.size();
        if (batch % ranks != 0) throw new IllegalArgumentException("--batch " + batch + " must be a multiple of the " + ranks + " ranks (each trains on batch / ranks samples)");
        long per = sampleValues();
        if ((long) (batch / ranks) * per % 4 != 0) {
            throw new IllegalArgumentException("--batch " + batch + " over " + ranks + " ranks: each rank's " + batch / ranks + " samples of " + per
                    + " values must hold a multiple of 4 values (the noise generator's block)");
        }
        this.collective = c;
        return this;
    }

    /** Activation recomputation for the programs built from now on (before {@link #startFresh()} or {@link #resume}). */
    public Trainer recompute(Recompute r) {
        if (program != null) throw new IllegalStateException("set recompute before starting");
        this.recompute = r;
        return this;
    }

    private int localBatch() {
        return batch / collective.size();
    }

    /** Values of one image or latent (C*H*W). */
    private long sampleValues() {
        return (long) modelCfg.inChannels() * modelCfg.inputSize() * modelCfg.inputSize();
    }

    /** Metadata written into every checkpoint besides the trainer's own (the run's dataset, for one). */
    public Trainer checkpointMetadata(String key, String value) {
        extraMetadata.put(key, value);
        return this;
    }

    private String intact() {
        return lastCheckpoint == null ? "no checkpoint was written yet" : "the last checkpoint, " + lastCheckpoint.getFileName() + ", is intact";
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
        shareState();
        return this;
    }

    /** Every rank starts from rank 0's state (identical anyway: same seed, same checkpoint; this makes it certain). */
    private void shareState() {
        if (collective.size() == 1) return;
        program.syncToHost();
        collective.broadcast(program.state());
        program.syncToDevice();
    }

    private PhaseProgram buildProgram(Phase phase, SiT model) {
        if (model == null) {
            SiTConfig c = phase == Phase.WARMUP ? modelCfg.truncatedTo(cfg.l2rDepth()) : modelCfg;
            model = new SiT(c).initialize(cfg.seed());
        }
        int local = localBatch();
        sync = null;
        return new PhaseProgram(backend, model, phase, cfg, local, align, (long) collective.rank() * local * sampleValues(), recompute, collective.size() > 1);
    }

    /**
     * The transition of SPEC section 4: the full model, every tensor whose name is in the warmup
     * model copied from it, the rest freshly initialized; EMA = copy; a fresh optimizer.
     */
    private void transition() {
        program.syncToHost();
        SiT warm = program.model;
        SiT full = new SiT(modelCfg).initialize(cfg.seed() + 1);
        List<String> copied = full.parameters().copyMatchingFrom(warm.parameters());
        List<String> fresh = new ArrayList<>();
        for (String n : full.parameters().all().keySet()) if (!copied.contains(n)) fresh.add(n);
        program.close();
        program = buildProgram(Phase.FULL, full);
        shareState();
        listener.onTransition(copied, fresh);
    }

    /** Trains until {@code cfg.steps()}, or until {@code stopAt} when it is smaller (for tests and staged runs). */
    public void run(long stopAt) {
        if (program == null) throw new IllegalStateException("call startFresh() or resume() first");
        long end = Math.min(stopAt, cfg.steps());
        int local = localBatch(), from = collective.rank() * local;
        int[] all = new int[batch], idx = new int[local];
        float[] u = new float[batch], times = new float[batch];
        int per = (int) sampleValues();
        float[] std = posterior == null ? null : new float[local * per], eps = posterior == null ? null : new float[local * per];
        while (step < end) {
            Phase phase = schedule.phase(step);
            if (phase != program.phase) transition();
            long t0 = System.nanoTime();
            PhaseProgram p = program;
            order.batchIndices(step, all);
            System.arraycopy(all, from, idx, 0, local); // this rank's slice of the global batch
            if (posterior == null) {
                data.batch(idx, p.x0.data(), p.labels.data(), null);
            } else { // z = (mean + std * eps) * scale + shift, a fresh eps per step
                float[] x = p.x0.data();
                data.moments(idx, x, std, p.labels.data());
                posteriorNoise(cfg.seed(), step, from, local, per, eps, backend.host());
                for (int i = 0; i < x.length; i++) x[i] = posterior.draw(x[i], std[i], eps[i]);
            }
            List<AlignTarget> specs = cfg.alignTargets();
            for (int k = 0; k < p.targets.size(); k++) data.features(specs.get(k).features(), idx, p.targets.get(k).data());
            try {
                checkBatch(idx, p);
            } catch (TrainingException e) {
                if (collective.size() > 1) collective.abort(e.getMessage(), 2);
                throw e;
            }
            dropLabels(p.labels.data(), u, from);
            drawTimes(p, phase, times, from);
            if (p.timeWeights != null) cfg.reed().timeWeight().fill(p.t.data(), p.timeWeights.data(), cfg.reed().timeCutoffLow(), cfg.reed().timeCutoffHigh());
            double lambda = schedule.lambda(step);
            double wDiff = phase == Phase.WARMUP ? Double.NaN : schedule.wDiff(step);
            p.lambda.set((float) lambda);
            if (p.wDiff != null) p.wDiff.set((float) wDiff);
            p.adamStep.set(step - phaseStart(phase) + 1);
            p.noiseCounter.set(step);
            p.forward();
            double[] losses = new double[3 + p.alignTerms.size()];
            losses[0] = p.loss.item();
            losses[1] = p.lossV == null ? Double.NaN : p.lossV.item();
            losses[2] = p.lossAlign == null ? Double.NaN : p.lossAlign.item();
            for (int k = 0; k < p.alignTerms.size(); k++) losses[3 + k] = p.alignTerms.get(k).item();
            collective.average(losses); // the global batch's means: each rank's mean over its equal slice, averaged
            double loss = losses[0], lossV = losses[1], lossA = losses[2];
            checkFinite("loss_v", p.lossV != null, lossV);
            checkFinite("loss_align", p.lossAlign != null, lossA);
            checkFinite("loss", true, loss);
            if (collective.size() == 1) {
                p.update();
            } else {
                if (sync == null) sync = collective.gradientSync(p.trained, p.backwardGraph);
                p.backward(sync::afterOp); // buckets start reducing while backward goes on
                sync.finish();
                p.apply();
            }
            if (!Float.isFinite(p.gradNorm.item())) throw new TrainingException("step " + (step + 1) + ": the gradient norm is " + p.gradNorm.item() + " (a non-finite gradient); stopping, " + intact());
            step++;
            double secs = (System.nanoTime() - t0) / 1e9;
            java.util.SequencedMap<String, Double> terms = new java.util.LinkedHashMap<>();
            if (p.alignTerms.size() > 1) for (int k = 0; k < p.alignTerms.size(); k++) terms.put(termNames.get(k), losses[3 + k]);
            double wAlign = cfg.method() == Method.REED ? schedule.wAlign(step - 1) : Double.NaN;
            listener.onStep(new StepLog(step, phase, loss, lossV, lossA, lambda, p.gradNorm.item(), batch / secs, secs, wDiff, wAlign, terms));
            if (cfg.checkpointEvery() > 0 && step % cfg.checkpointEvery() == 0 || step == cfg.steps()) saveCheckpoint();
            if (cfg.sampleEvery() > 0 && phase == Phase.FULL && (step % cfg.sampleEvery() == 0 || step == cfg.steps())) {
                p.syncToHost();
                listener.onSample(step, p);
            }
        }
    }

    private long phaseStart(Phase phase) {
        return phase == Phase.WARMUP ? 0 : cfg.warmup();
    }

    private void checkFinite(String term, boolean present, double v) {
        if (present && !Double.isFinite(v)) throw new TrainingException("step " + (step + 1) + ": " + term + " is " + (float) v + "; stopping, " + intact());
    }

    /** A non-finite value in the data would make every later step non-finite: stop at the row that has it. */
    private void checkBatch(int[] idx, PhaseProgram p) {
        int bad = erw.model.Checkpoint.firstNonFinite(p.x0.data());
        String what = posterior == null ? "image" : "posterior moments";
        int per = p.x0.size() / localBatch();
        for (int k = 0; k < p.targets.size() && bad < 0; k++) {
            Tensor tg = p.targets.get(k);
            bad = erw.model.Checkpoint.firstNonFinite(tg.data());
            what = k == 0 && p.targets.size() == 1 ? "target features" : "target features '" + cfg.alignTargets().get(k).features() + "'";
            per = tg.size() / localBatch();
        }
        if (bad >= 0) {
            throw new TrainingException("step " + (step + 1) + ": the dataset's " + what + " of sample " + idx[bad / per] + " hold a non-finite value; stopping, " + intact());
        }
    }

    /** Parameters, EMA and optimizer moments must be finite before they are written: a checkpoint is never poisoned. */
    private void checkStateFinite() {
        for (Tensor t : program.state()) {
            int bad = erw.model.Checkpoint.firstNonFinite(t.data());
            if (bad >= 0) {
                throw new TrainingException("step " + step + ": " + t.name() + " became non-finite (" + t.data()[bad] + " at index " + bad
                        + "; is the learning rate too high?); stopping before writing a checkpoint, " + intact());
            }
        }
    }

    /** Label dropout: each label becomes the null class with probability labelDropout (keyed by step). */
    private void dropLabels(float[] labels, float[] u, int from) {
        if (cfg.labelDropout() <= 0) return;
        Philox.uniform(cfg.seed(), STREAM_DROP, step << 20, u, 0, u.length); // drawn for the global batch; this rank's slice applies
        for (int i = 0; i < labels.length; i++) if (u[from + i] < cfg.labelDropout()) labels[i] = modelCfg.numClasses();
    }

    /**
     * The standard normals of the posterior draws of step {@code step}, samples
     * [{@code first}, {@code first + n}) of the global batch ({@code sampleSize} values each) into
     * {@code out}: sample j from Philox stream {@link #STREAM_POSTERIOR}, blocks from
     * {@code step * 2^32 + j * ceil(sampleSize / 4)}. A rank asks for its slice and gets exactly what
     * one process draws for those samples; no two steps share a block. {@code pool} may be null.
     */
    public static void posteriorNoise(long seed, long step, int first, int n, int sampleSize, float[] out, erw.engine.host.WorkerPool pool) {
        long blocks = (sampleSize + 3) / 4;
        if ((first + (long) n) * blocks > 1L << 32) throw new IllegalArgumentException("posterior noise: " + (first + n) + " samples of " + sampleSize + " exceed 2^32 blocks per step");
        erw.engine.host.WorkerPool.RangeBody body = (lo, hi) -> {
            for (int j = lo; j < hi; j++) Philox.normal(seed, STREAM_POSTERIOR, (step << 32) + (first + j) * blocks, out, j * sampleSize, sampleSize);
        };
        if (pool == null || n == 1) body.run(0, n);
        else pool.parallelFor(n, 1, body);
    }

    private void drawTimes(PhaseProgram p, Phase phase, float[] t, int from) {
        if (phase == Phase.WARMUP) {
            java.util.Arrays.fill(p.t.data(), 0f);
            return;
        }
        if (cfg.timeSampling() == TrainConfig.TimeSampling.LOGNORMAL) {
            Philox.normal(cfg.seed(), STREAM_T, step << 20, t, 0, t.length);
            for (int i = 0; i < t.length; i++) {
                double s = Math.exp(t[i]);
                t[i] = (float) (s / (1 + s));
            }
        } else {
            Philox.uniform(cfg.seed(), STREAM_T, step << 20, t, 0, t.length);
        }
        System.arraycopy(t, from, p.t.data(), 0, p.t.size()); // drawn for the global batch; this rank's slice
    }

    // ---- checkpoints ---------------------------------------------------------------------------

    public static final String STEP_KEY = "erw.step", PHASE_KEY = "erw.phase", TRAIN_KEY = "erw.train";

    public Path checkpointPath(long s) {
        return runDir.resolve(String.format("step-%07d.safetensors", s));
    }

    /** Model, EMA, AdamW moments, step, phase and configs in one atomically written file. */
    public Path saveCheckpoint() {
        program.syncToHost();
        checkStateFinite();
        if (collective.rank() != 0) return null; // rank 0 writes; the others hold the same state
        Map<String, SafeTensors.Tensor> tensors = new LinkedHashMap<>(Checkpoint.tensors(program.model.parameters(), ""));
        for (Tensor e : program.ema) tensors.put(e.name(), Checkpoint.live(e));
        for (Tensor m : program.adam.firstMoments()) tensors.put("optim." + m.name(), Checkpoint.live(m));
        for (Tensor v : program.adam.secondMoments()) tensors.put("optim." + v.name(), Checkpoint.live(v));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put(Checkpoint.CONFIG_KEY, program.model.config().toJson());
        meta.put(TRAIN_KEY, cfg.toJson());
        meta.put(STEP_KEY, Long.toString(step));
        meta.put(PHASE_KEY, Integer.toString(program.phase.number()));
        meta.put("format", "erw-checkpoint/1");
        meta.putAll(extraMetadata);
        Path file = checkpointPath(step);
        try {
            Files.createDirectories(runDir);
        } catch (IOException e) {
            throw new TrainingException("cannot create run directory " + runDir + ": " + e.getMessage());
        }
        SafeTensors.write(file, tensors, meta);
        lastCheckpoint = file;
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

    /**
     * Restores model, EMA, optimizer and step from a checkpoint written by {@link #saveCheckpoint()}.
     * Nothing in the file is trusted: the step must be an integer within the run it was written by,
     * the phase must be the one the schedule gives for that step and hold the model of that phase
     * (the warmup model in phase 1, the full model in phase 2), and every tensor must have its exact
     * shape and finite values. Each failure is one line naming the file and the field or tensor.
     */
    public Trainer resume(Path checkpoint) {
        try (SafeTensorsFile f = SafeTensors.open(checkpoint)) {
            Map<String, String> meta = f.metadata();
            if (!meta.containsKey(STEP_KEY) || !meta.containsKey(PHASE_KEY) || !meta.containsKey(TRAIN_KEY)) {
                throw new IllegalArgumentException(checkpoint + " is not a training checkpoint (no step/phase/config metadata)");
            }
            TrainConfig written;
            try {
                written = TrainConfig.fromJson(meta.get(TRAIN_KEY));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(checkpoint + ": metadata " + TRAIN_KEY + ": " + e.getMessage());
            }
            long s;
            try {
                s = Long.parseLong(meta.get(STEP_KEY).trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(checkpoint + ": metadata " + STEP_KEY + " = '" + meta.get(STEP_KEY) + "' is not an integer");
            }
            if (s < 0 || s > written.steps()) {
                throw new IllegalArgumentException(checkpoint + ": metadata " + STEP_KEY + " = " + s + " is outside the run's [0, " + written.steps() + "] steps");
            }
            if (s >= cfg.steps()) {
                throw new IllegalArgumentException(checkpoint + " is at step " + s + ", the run's last (--steps " + cfg.steps() + "): nothing to do; pass --steps N > " + s + " to extend it");
            }
            String ph = meta.get(PHASE_KEY).trim();
            Phase phase = Phase.ofNumber(ph);
            boolean endOfWarmup = phase == Phase.WARMUP && s == cfg.warmup() && s > 0;
            if (phase == null || (phase != schedule.phase(s) && !endOfWarmup)) {
                throw new IllegalArgumentException(checkpoint + ": metadata " + PHASE_KEY + " = '" + ph + "' does not match step " + s + " (phase "
                        + schedule.phase(s).number() + " for method " + cfg.method().id() + " with " + cfg.warmup() + " warmup steps)");
            }
            SiTConfig stored = Checkpoint.config(f, null);
            SiTConfig expected = phase == Phase.WARMUP ? modelCfg.truncatedTo(cfg.l2rDepth()) : modelCfg;
            if (!stored.equals(expected)) {
                throw new IllegalArgumentException(checkpoint + ": metadata " + Checkpoint.CONFIG_KEY + " holds " + (stored.truncated() ? "a warmup model" : "a full model")
                        + " " + stored.toJson() + " but phase " + phase.number() + " of this run needs " + expected.toJson());
            }
            SiT model = new SiT(stored);
            Checkpoint.loadInto(f, model.parameters(), "", false);
            if (program != null) program.close();
            program = buildProgram(phase, model);
            String purpose = "to resume";
            for (Tensor t : program.ema) Checkpoint.readExact(f, t.name(), t, purpose);
            for (Tensor t : program.adam.firstMoments()) Checkpoint.readExact(f, "optim." + t.name(), t, purpose);
            for (Tensor t : program.adam.secondMoments()) Checkpoint.readExact(f, "optim." + t.name(), t, purpose);
            step = s;
            lastCheckpoint = checkpoint;
            program.syncToDevice();
            shareState();
            return this;
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
