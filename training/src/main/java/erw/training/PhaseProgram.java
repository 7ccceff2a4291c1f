package erw.training;

import erw.engine.Backend;
import erw.engine.Graph;
import erw.engine.Plan;
import erw.engine.Tensor;
import erw.engine.ops.AdamW;
import erw.engine.ops.ClipGradNorm;
import erw.engine.ops.EmaUpdate;
import erw.engine.ops.LinearInterpolant;
import erw.engine.ops.Randn;
import erw.engine.ops.ZeroGrad;
import erw.model.SiT;
import erw.model.SiTConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * One phase's training step as a composition of recorded graphs, compiled once:
 * <ul>
 * <li>Phase 1 (ERW warmup): forward of the truncated model on the clean input with t = 0,
 * alignment loss weighted by lambda; backward; clip; AdamW.</li>
 * <li>Phase 2 (ERW full, REPA, SiT): noise + linear interpolant, forward of the full model,
 * velocity loss + lambda * alignment (no alignment for SiT); backward; clip; AdamW; EMA.</li>
 * </ul>
 * Host-written inputs: {@link #x0}, {@link #labels}, {@link #t}, {@link #targets}; scalars
 * {@link #lambda}, {@link #lr}, {@link #adamStep}, {@link #noiseCounter}, {@link #emaDecay}.
 */
public final class PhaseProgram implements AutoCloseable {
    public static final long STREAM_NOISE = 1;

    public final Phase phase;
    public final SiT model;
    public final Tensor x0, labels, t, targets;
    public final Tensor lambda, lr, adamStep, noiseCounter, emaDecay, gradNorm;
    public final Tensor loss, lossV, lossAlign;
    public final AdamW adam;
    public final List<Tensor> trained;
    /** EMA copies of every model tensor (phase 2 only), in the store's order. */
    public final List<Tensor> ema;
    private final List<Plan> plans = new ArrayList<>();
    private final Backend backend;

    public PhaseProgram(Backend backend, SiT model, Phase phase, TrainConfig cfg, int batch, boolean align) {
        this.phase = phase;
        this.model = model;
        this.backend = backend;
        SiTConfig mc = model.config();
        int c = mc.inChannels(), side = mc.inputSize();
        x0 = Tensor.input("batch.x0", batch, c, side, side);
        labels = Tensor.input("batch.y", batch);
        t = Tensor.input("batch.t", batch);
        targets = align ? Tensor.input("batch.z_target", batch, mc.tokens(), mc.zDim()) : null;
        lambda = Tensor.scalar("lambda", 0);
        lr = Tensor.scalar("lr", (float) cfg.lr());
        adamStep = Tensor.scalar("adam.step", 0);
        noiseCounter = Tensor.scalar("noise.counter", 0);
        emaDecay = Tensor.scalar("ema.decay", (float) cfg.emaDecay());
        gradNorm = Tensor.scalar("grad_norm", 0);

        Graph fwd = new Graph("phase" + phase.number() + ".forward");
        Tensor total;
        if (phase == Phase.WARMUP) {
            SiT.Outputs out = model.forward(fwd, x0, t, labels);
            lossV = null;
            lossAlign = alignLoss(fwd, cfg, out.zs(), batch);
            total = fwd.scale("loss", lossAlign, 1f, lambda);
        } else {
            Tensor noise = Tensor.state("noise", batch, c, side, side);
            fwd.add(new Randn("noise", noise, cfg.seed(), STREAM_NOISE, noiseCounter));
            Tensor xt = Tensor.state("batch.x_t", batch, c, side, side), vTarget = Tensor.state("batch.v_target", batch, c, side, side);
            fwd.add(new LinearInterpolant("interpolant", x0, noise, t, xt, vTarget));
            SiT.Outputs out = model.forward(fwd, xt, t, labels);
            lossV = fwd.mse("loss_v", out.velocity(), vTarget);
            if (align) {
                lossAlign = alignLoss(fwd, cfg, out.zs(), batch);
                total = fwd.add("loss", lossV, fwd.scale("lambda*loss_align", lossAlign, 1f, lambda));
            } else {
                lossAlign = null;
                total = lossV;
            }
        }
        loss = total;
        Graph bwd = fwd.backward(total);

        // SiT trains without the projector; every other recipe trains all parameters
        List<Tensor> params = new ArrayList<>();
        List<String> projector = SiT.projectorNames();
        model.parameters().all().forEach((name, p) -> {
            if (p.requiresGrad() && (align || !projector.contains(name))) params.add(p);
        });
        trained = List.copyOf(params);
        Graph opt = new Graph("phase" + phase.number() + ".optimizer");
        opt.add(new ClipGradNorm("clip", trained, (float) cfg.clip(), gradNorm));
        adam = opt.add(new AdamW("adamw", trained, lr, adamStep, (float) cfg.beta1(), (float) cfg.beta2(), (float) cfg.adamEps(), (float) cfg.weightDecay()));
        opt.add(new ZeroGrad("zero_grad", model.parameters().trainable()));

        fwd.readBack(java.util.stream.Stream.of(loss, lossV, lossAlign).filter(java.util.Objects::nonNull).distinct().toArray(Tensor[]::new));
        bwd.readBack();
        opt.readBack(gradNorm);
        List<Graph> step = new ArrayList<>(List.of(fwd, bwd, opt));
        if (phase == Phase.FULL) {
            List<Tensor> src = new ArrayList<>(), dst = new ArrayList<>();
            model.parameters().all().forEach((name, p) -> {
                src.add(p);
                Tensor e = Tensor.state("ema." + name, p.shape());
                System.arraycopy(p.data(), 0, e.data(), 0, p.size());
                dst.add(e);
            });
            ema = List.copyOf(dst);
            Graph emaGraph = new Graph("phase2.ema");
            emaGraph.add(new EmaUpdate("ema", src, ema, emaDecay));
            step.add(emaGraph.readBack());
        } else {
            ema = List.of();
        }
        // one cycle: a device backend keeps model, gradients, moments and EMA resident across the graphs
        plans.addAll(backend.compileCycle("phase" + phase.number() + ".step", step));
    }

    private Tensor alignLoss(Graph g, TrainConfig cfg, Tensor zs, int batch) {
        return switch (cfg.align()) {
            case COSINE -> g.cosineAlign("loss_align", zs, targets);
            case NTXENT -> g.ntXentAlign("loss_align", zs, targets, batch, (float) cfg.ntxentTau(), cfg.ntxentSymmetric());
        };
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
