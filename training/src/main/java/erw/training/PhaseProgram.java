package erw.training;

import erw.engine.Backend;
import erw.engine.BufferPlanner;
import erw.engine.Graph;
import erw.engine.Plan;
import erw.engine.Tensor;
import erw.engine.ops.AdamW;
import erw.engine.ops.ClipGradNorm;
import erw.engine.ops.EmaUpdate;
import erw.engine.ops.LinearInterpolant;
import erw.engine.ops.Randn;
import erw.engine.ops.ZeroGrad;
import erw.model.Objective;
import erw.model.SiT;
import erw.model.SiTConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * One phase's training step as a composition of recorded graphs, compiled once:
 * <ul>
 * <li>Phase 1 (ERW warmup): forward of the truncated model on the clean input with t = 0,
 * alignment loss weighted by lambda; backward; clip; AdamW.</li>
 * <li>Phase 2 (ERW full, REPA, REED, SiT): noise + linear interpolant, forward of the full model,
 * w_diff * velocity loss + lambda * sum_k coef_k * alignment_k (no alignment for SiT, w_diff for
 * REED only); backward; clip; AdamW; EMA.</li>
 * </ul>
 * The loss is {@link Objective}'s. Host-written inputs: {@link #x0}, {@link #labels}, {@link #t},
 * {@link #targets} (one per alignment target, in the model's projector order), {@link #timeWeights};
 * scalars {@link #lambda}, {@link #wDiff}, {@link #lr}, {@link #adamStep}, {@link #noiseCounter},
 * {@link #emaDecay}.
 */
public final class PhaseProgram implements AutoCloseable {
    public static final long STREAM_NOISE = 1;

    public final Phase phase;
    public final SiT model;
    public final Tensor x0, labels, t;
    /** Target features per alignment target ((N,T,Z) per token, (N,Z) pooled); empty for SiT. */
    public final List<Tensor> targets;
    /** Per-sample w_t(t) (N), or null for constant weights. */
    public final Tensor timeWeights;
    /** The velocity loss weight (REED's full phase only, else null). */
    public final Tensor wDiff;
    public final Tensor lambda, lr, adamStep, noiseCounter, emaDecay, gradNorm;
    public final Tensor loss, lossV, lossAlign;
    /** Each target's term mean_batch[w_t * align_k] (one entry: the same tensor as {@link #lossAlign} with coefficient 1). */
    public final List<Tensor> alignTerms;
    public final AdamW adam;
    public final List<Tensor> trained;
    /** EMA copies of every model tensor (phase 2 only), in the store's order. */
    public final List<Tensor> ema;
    private final List<Plan> plans = new ArrayList<>();
    private final List<Graph> graphs;
    private final Backend backend;

    /** The backward graph (a data-parallel run reduces gradients as its ops finish). */
    public final Graph backwardGraph;

    public PhaseProgram(Backend backend, SiT model, Phase phase, TrainConfig cfg, int batch, boolean align) {
        this(backend, model, phase, cfg, batch, align, 0);
    }

    public PhaseProgram(Backend backend, SiT model, Phase phase, TrainConfig cfg, int batch, boolean align, long noiseOffset) {
        this(backend, model, phase, cfg, batch, align, noiseOffset, Recompute.NONE);
    }

    /** What a training step holds, as planned: bytes of each part (fp32). */
    public record Memory(long parameters, long gradients, long moments, long ema, long inputs, BufferPlanner.Summary activations) {
        public long total() {
            return parameters + gradients + moments + ema + inputs + activations.activationBytes();
        }
    }

    /**
     * The flops and bytes of a step of {@code phase} per op type (see {@link erw.engine.Workload}), recorded
     * without allocating anything; {@code activationBytes} 4 for fp32 activations, 2 for bf16 ones.
     */
    public static List<erw.engine.Workload.Row> workload(SiTConfig modelCfg, Phase phase, TrainConfig cfg, int batch, boolean align, Recompute recompute,
                                                         int activationBytes) {
        PhaseProgram p = new PhaseProgram(null, new SiT(modelCfg), phase, cfg, batch, align, 0, recompute);
        return erw.engine.Workload.of(p.graphs, activationBytes);
    }

    /**
     * The memory of a step of {@code phase} for a model of this config at {@code batch}, as the
     * {@link BufferPlanner} lays it out, without allocating it (SiT-XL/2 can be sized on a laptop).
     */
    public static Memory plannedMemory(SiTConfig modelCfg, Phase phase, TrainConfig cfg, int batch, boolean align, Recompute recompute) {
        SiT model = new SiT(modelCfg); // not initialized: its tensors get no storage
        PhaseProgram p = new PhaseProgram(null, model, phase, cfg, batch, align, 0, recompute);
        long params = 0, trained = 0, inputs = 0;
        for (Tensor t : model.parameters().all().values()) params += 4L * t.size();
        for (Tensor t : p.trained) trained += 4L * t.size();
        // batch inputs, scalars and per-step state (noise, x_t, target velocity): every tensor the step touches but
        // parameters, moments and EMA
        java.util.Set<Tensor> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        seen.addAll(model.parameters().all().values());
        seen.addAll(p.ema);
        seen.addAll(p.adam.firstMoments());
        seen.addAll(p.adam.secondMoments());
        for (Graph g : p.graphs) {
            for (erw.engine.Op op : g.ops()) {
                for (List<Tensor> ts : List.of(op.inputs(), op.outputs())) {
                    for (Tensor t : ts) {
                        Tensor r = t.root();
                        if (r.kind() != Tensor.Kind.ACTIVATION && r.kind() != Tensor.Kind.SAVED && seen.add(r)) inputs += 4L * r.size();
                    }
                }
            }
        }
        long ema = phase == Phase.FULL ? params : 0;
        return new Memory(params, trained, 2 * trained, ema, inputs, BufferPlanner.analyze("phase" + phase.number() + ".step", p.graphs));
    }

    /**
     * @param batch this process's samples per step (a data-parallel rank's slice of the global batch)
     * @param noiseOffset where this process's noise starts in the step's noise stream: rank r of a
     *     data-parallel run draws the slice one process would draw for the same samples
     */
    /**
     * @param recompute {@link Recompute#BLOCKS}: backward replays each transformer block's forward
     *     instead of keeping its activations (bit-identical results, less memory, about a third more compute)
     * @param backend null: record only (for {@link #plannedMemory}), nothing compiled or copied
     */
    public PhaseProgram(Backend backend, SiT model, Phase phase, TrainConfig cfg, int batch, boolean align, long noiseOffset, Recompute recompute) {
        this(backend, model, phase, cfg, batch, align, noiseOffset, recompute, false);
    }

    /**
     * @param hostGradients a data-parallel rank: the trained parameters' gradients are averaged on the host
     *     between {@link #backward} and {@link #apply}, so a device backend stages them through the host
     */
    public PhaseProgram(Backend backend, SiT model, Phase phase, TrainConfig cfg, int batch, boolean align, long noiseOffset, Recompute recompute,
                        boolean hostGradients) {
        this.phase = phase;
        this.model = model;
        this.backend = backend;
        SiTConfig mc = model.config();
        int c = mc.inChannels(), side = mc.inputSize();
        x0 = Tensor.input("batch.x0", batch, c, side, side);
        labels = Tensor.input("batch.y", batch);
        t = Tensor.input("batch.t", batch);
        List<SiTConfig.Projector> projectors = mc.projectors();
        List<AlignTarget> specs = cfg.alignTargets();
        List<Tensor> tg = new ArrayList<>();
        if (align) {
            if (specs.size() != projectors.size()) throw new IllegalArgumentException(specs.size() + " alignment targets for a model with " + projectors.size() + " projectors");
            for (int k = 0; k < projectors.size(); k++) {
                SiTConfig.Projector pr = projectors.get(k);
                String name = k == 0 ? "batch.z_target" : "batch.z_target." + k;
                tg.add(pr.pooled() ? Tensor.input(name, batch, pr.zDim()) : Tensor.input(name, batch, mc.tokens(), pr.zDim()));
            }
        }
        targets = List.copyOf(tg);
        timeWeights = align && cfg.reed().timeWeight() != erw.model.TimeWeight.CONSTANT ? Tensor.input("batch.w_t", batch) : null;
        wDiff = phase == Phase.FULL && cfg.method() == Method.REED ? Tensor.scalar("w_diff", 1) : null;
        lambda = Tensor.scalar("lambda", 0);
        lr = Tensor.scalar("lr", (float) cfg.lr());
        adamStep = Tensor.scalar("adam.step", 0);
        noiseCounter = Tensor.scalar("noise.counter", 0);
        emaDecay = Tensor.scalar("ema.decay", (float) cfg.emaDecay());
        gradNorm = Tensor.scalar("grad_norm", 0);

        Graph fwd = new Graph("phase" + phase.number() + ".forward").precision(cfg.precision());
        SiT.Outputs out;
        Tensor vTarget = null;
        if (phase == Phase.WARMUP) {
            out = model.forward(fwd, x0, t, labels);
        } else {
            Tensor noise = Tensor.state("noise", batch, c, side, side);
            fwd.add(new Randn("noise", noise, cfg.seed(), STREAM_NOISE, noiseCounter, noiseOffset));
            Tensor xt = Tensor.state("batch.x_t", batch, c, side, side);
            vTarget = Tensor.state("batch.v_target", batch, c, side, side);
            fwd.add(new LinearInterpolant("interpolant", x0, noise, t, xt, vTarget));
            out = model.forward(fwd, xt, t, labels);
        }
        List<Objective.Target> objectives = new ArrayList<>();
        for (int k = 0; k < targets.size(); k++) objectives.add(new Objective.Target(out.projections().get(k), targets.get(k), specs.get(k).coef()));
        Objective.Align kind = switch (cfg.align()) {
            case COSINE -> new Objective.Align.Cosine();
            case NTXENT -> new Objective.Align.NtXent((float) cfg.ntxentTau(), cfg.ntxentSymmetric());
        };
        Objective.Terms terms = Objective.record(fwd, out.velocity(), vTarget, wDiff, objectives, kind, timeWeights, lambda, batch);
        Tensor total = terms.loss();
        loss = total;
        lossV = terms.lossV();
        lossAlign = terms.lossAlign();
        alignTerms = terms.alignTerms();
        Graph bwd = fwd.backward(total, recompute == Recompute.BLOCKS);
        backwardGraph = bwd;

        // SiT trains without the projector; every other recipe trains all parameters
        List<Tensor> params = new ArrayList<>();
        model.parameters().all().forEach((name, p) -> {
            if (p.requiresGrad() && (align || !SiT.isProjector(name))) params.add(p);
        });
        trained = List.copyOf(params);
        Graph opt = new Graph("phase" + phase.number() + ".optimizer");
        opt.add(new ClipGradNorm("clip", trained, (float) cfg.clip(), gradNorm));
        adam = opt.add(new AdamW("adamw", trained, lr, adamStep, (float) cfg.beta1(), (float) cfg.beta2(), (float) cfg.adamEps(), (float) cfg.weightDecay()));
        opt.add(new ZeroGrad("zero_grad", model.parameters().trainable()));

        fwd.readBack(java.util.stream.Stream.concat(java.util.stream.Stream.of(loss, lossV, lossAlign), alignTerms.stream())
                .filter(java.util.Objects::nonNull).distinct().toArray(Tensor[]::new));
        bwd.readBack();
        opt.readBack(gradNorm);
        List<Graph> step = new ArrayList<>(List.of(fwd, bwd, opt));
        if (phase == Phase.FULL) {
            List<Tensor> src = new ArrayList<>(), dst = new ArrayList<>();
            model.parameters().all().forEach((name, p) -> {
                src.add(p);
                Tensor e = Tensor.state("ema." + name, p.shape());
                if (backend != null) System.arraycopy(p.data(), 0, e.data(), 0, p.size());
                dst.add(e);
            });
            ema = List.copyOf(dst);
            Graph emaGraph = new Graph("phase2.ema");
            emaGraph.add(new EmaUpdate("ema", src, ema, emaDecay));
            step.add(emaGraph.readBack());
        } else {
            ema = List.of();
        }
        graphs = List.copyOf(step);
        // one cycle: a device backend keeps model, gradients, moments and EMA resident across the graphs
        if (backend != null) plans.addAll(backend.compileCycle("phase" + phase.number() + ".step", step, hostGradients ? trained : List.of()));
    }

    /** A standalone copy of the model holding the EMA weights (phase 2), for sampling and evaluation. */
    public SiT emaModel() {
        if (ema.isEmpty()) throw new IllegalStateException("phase " + phase.number() + " keeps no EMA weights");
        SiT copy = new SiT(model.config());
        java.util.Map<String, Tensor> dst = copy.parameters().all();
        for (Tensor e : ema) {
            Tensor d = dst.get(e.name().substring("ema.".length()));
            System.arraycopy(e.data(), 0, d.data(), 0, e.size());
        }
        return copy;
    }

    /** Runs the forward graph (noise, interpolant, model, losses). */
    public void forward() {
        plans.get(0).run();
    }

    /** Runs backward, optimizer (and EMA) after {@link #forward()}. */
    public void update() {
        for (int i = 1; i < plans.size(); i++) plans.get(i).run();
    }

    /** Runs backward only, reporting each finished op of {@link #backwardGraph} to {@code afterOp}. */
    public void backward(java.util.function.IntConsumer afterOp) {
        plans.get(1).run(afterOp);
    }

    /** Runs clip, optimizer (and EMA) after {@link #backward}. */
    public void apply() {
        for (int i = 2; i < plans.size(); i++) plans.get(i).run();
    }

    /** Every tensor the host may read or restore between steps: model, EMA, AdamW moments. */
    public List<Tensor> state() {
        List<Tensor> all = new ArrayList<>(model.parameters().all().values());
        all.addAll(ema);
        all.addAll(adam.firstMoments());
        all.addAll(adam.secondMoments());
        return all;
    }

    /** Brings {@link #state()} back to the host (a device backend keeps it resident). */
    public void syncToHost() {
        backend.syncToHost(state());
    }

    /** Pushes host writes to {@link #state()} (a resume) to the device. */
    public void syncToDevice() {
        backend.syncToDevice(state());
    }

    @Override
    public void close() {
        for (Plan p : plans) p.close();
    }
}
