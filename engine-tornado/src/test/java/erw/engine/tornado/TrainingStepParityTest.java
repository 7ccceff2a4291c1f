package erw.engine.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;

import erw.engine.Backend;
import erw.engine.Tensor;
import erw.engine.cpu.CpuBackend;
import erw.model.SiT;
import erw.model.SiTConfig;
import erw.training.PhaseProgram;
import erw.training.TrainConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Two whole ERW Phase 2 steps (Philox noise, interpolant, SiT forward with projector, velocity +
 * lambda * cosine alignment loss, backward, clip, AdamW, EMA) on TornadoVM against the CPU backend;
 * and two REED steps (a per-token and a pooled target, linear time weights, w_diff 0.3).
 * Tolerances: losses and gradient norm 1e-4 relative; AdamW first moments (0.1 x the clipped
 * gradient after step 1, so a gradient comparison) 2e-3 relative + 1e-7; parameters and EMA
 * within a tenth of the learning rate (AdamW moves a weight by about lr per step, so sign flips
 * of near-zero gradients would show as lr-sized errors).
 */
class TrainingStepParityTest {
    private static final int BATCH = 4;

    /** A small SiT (depth 2, D 64, 2 heads, patch 4 on 16x16x1, projector at block 1) with every weight random. */
    private static SiT model(boolean reed) {
        SiTConfig c = new SiTConfig(2, 64, 2, 4, 16, 1, 10, 1, 96, 32, 4.0, false, false, 0);
        if (reed) c = c.withProjectors(List.of(new SiTConfig.Projector(1, false, 96, 32), new SiTConfig.Projector(2, true, 48, 24)));
        SiT m = new SiT(c).initialize(7);
        SplittableRandom r = new SplittableRandom(11);
        // adaLN and final layer are zero-initialized; random weights make every gradient path non-trivial
        for (Tensor p : m.parameters().trainable()) {
            float[] d = p.data();
            for (int i = 0; i < d.length; i++) d[i] += (float) ((r.nextDouble() * 2 - 1) * 0.05);
        }
        return m;
    }

    private record Trace(List<Float> losses, List<float[]> moments, List<float[]> state) {}

    private static Trace run(Backend backend, boolean reed) {
        return run(backend, reed, false);
    }

    /**
     * {@code hostGradients}: as a data-parallel rank runs, backward, then the host changes every trained
     * gradient (here: halves it and adds 1e-3, as averaging with another rank would change it), then
     * clip, AdamW and EMA.
     */
    private static Trace run(Backend backend, boolean reed, boolean hostGradients) {
        TrainConfig cfg = TrainConfig.defaults().with(b -> {
            b.lr = 1e-3;
            b.seed = 5;
            if (reed) {
                b.method = "reed";
                b.targets = new ArrayList<>(List.of("features", "captions:block=2:pool=mean:hidden=48:coef=0.5"));
                b.timeWeight = "linear";
            }
        });
        try (PhaseProgram p = new PhaseProgram(backend, model(reed), erw.training.Phase.FULL, cfg, BATCH, true, 0, erw.training.Recompute.NONE, hostGradients)) {
            SplittableRandom r = new SplittableRandom(3);
            List<Float> losses = new ArrayList<>();
            List<float[]> firstMoments = new ArrayList<>();
            for (int step = 0; step < 2; step++) {
                float[] x0 = p.x0.data(), y = p.labels.data(), t = p.t.data();
                for (int i = 0; i < x0.length; i++) x0[i] = (float) (r.nextDouble() * 2 - 1);
                for (int i = 0; i < y.length; i++) y[i] = r.nextInt(11); // 10 = the null class
                for (int i = 0; i < t.length; i++) t[i] = (float) r.nextDouble();
                for (Tensor target : p.targets) {
                    float[] z = target.data();
                    for (int i = 0; i < z.length; i++) z[i] = (float) (r.nextDouble() * 2 - 1);
                }
                if (p.timeWeights != null) cfg.reed().timeWeight().fill(t, p.timeWeights.data(), 0, 1);
                if (p.wDiff != null) p.wDiff.set(0.3f);
                p.lambda.set(0.7f);
                p.adamStep.set(step + 1);
                p.noiseCounter.set(step);
                p.forward();
                losses.add(p.loss.item());
                losses.add(p.lossV.item());
                losses.add(p.lossAlign.item());
                if (hostGradients) {
                    p.backward(op -> {});
                    for (Tensor w : p.trained) {
                        float[] g = w.grad();
                        for (int i = 0; i < g.length; i++) g[i] = 0.5f * g[i] + 1e-3f;
                    }
                    p.apply();
                } else {
                    p.update();
                }
                losses.add(p.gradNorm.item());
                if (step == 0) {
                    p.syncToHost();
                    for (Tensor m : p.adam.firstMoments()) firstMoments.add(m.toArray());
                }
            }
            p.syncToHost();
            List<float[]> state = new ArrayList<>();
            for (Tensor s : p.model.parameters().all().values()) state.add(s.toArray());
            for (Tensor e : p.ema) state.add(e.toArray());
            return new Trace(losses, firstMoments, state);
        }
    }

    @Test
    void phase2StepsMatchTheCpu() {
        compare(false);
    }

    @Test
    void reedStepsWithTwoTargetsMatchTheCpu() {
        compare(true);
    }

    @Test
    void aDataParallelRanksHostStagedGradientsMatchTheCpu() {
        compare(false, true);
    }

    /** Phase 2 steps with attention as batched GEMMs (the CUDA backend's path; here the JIT GEMM kernel does the products): every block's attention shares the working buffers. */
    @Test
    void phase2StepsWithAttentionAsBatchedGemmsMatchTheCpu() {
        System.setProperty("erw.tornado.attention", "gemm");
        try {
            compare(false);
        } finally {
            System.clearProperty("erw.tornado.attention");
        }
    }

    private static void compare(boolean reed) {
        compare(reed, false);
    }

    private static void compare(boolean reed, boolean hostGradients) {
        TornadoBackend tv = Parity.tornado();
        Trace cpu, gpu;
        try (CpuBackend c = new CpuBackend(1)) {
            cpu = run(c, reed, hostGradients);
        }
        gpu = run(tv, reed, hostGradients);
        for (int i = 0; i < cpu.losses().size(); i++) {
            float e = cpu.losses().get(i), a = gpu.losses().get(i);
            assertEquals(e, a, 1e-4 * Math.abs(e) + 1e-6, "step " + i / 4 + " " + List.of("loss", "loss_v", "loss_align", "grad_norm").get(i % 4));
        }
        Parity.compare("phase2 AdamW first moments after step 1", null, cpu.moments(), gpu.moments(), 2e-3, 1e-7);
        Parity.compare("phase2 parameters and EMA after step 2", null, cpu.state(), gpu.state(), 0, 1e-4);
    }
}
