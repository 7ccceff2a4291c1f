package erw.engine.tornado;

import erw.engine.Tensor;
import erw.engine.ops.AdamW;
import erw.engine.ops.ClipGradNorm;
import erw.engine.ops.EmaUpdate;
import erw.engine.ops.LinearInterpolant;
import erw.engine.ops.Randn;
import erw.engine.ops.SeedGrad;
import erw.engine.ops.ZeroGrad;
import erw.engine.tornado.kernels.MultiTensorKernels;
import erw.engine.tornado.kernels.OptimizerKernels;
import erw.engine.tornado.kernels.PointwiseKernels;
import erw.engine.tornado.kernels.ReduceKernels;
import java.util.List;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * Non-differentiated steps of the optimizer and data graphs: adamw, clip_grad_norm, ema,
 * zero_grad, seed_grad, randn, linear_interpolant. Each parameter keeps its own buffer; the per-parameter passes
 * run over groups of tensors per task ({@link MultiTensorKernels}), the few tensors past the last full group one by one.
 */
final class OptimizerLowering {
    private OptimizerLowering() {}

    /** Cumulative sizes of tensors {@code from .. from + g - 1} of a list. */
    private static int[] ends(List<Tensor> ts, int from, int g) {
        int[] c = new int[g];
        long sum = 0;
        for (int k = 0; k < g; k++) {
            sum += ts.get(from + k).size();
            if (sum > Integer.MAX_VALUE) throw new erw.engine.EngineException("TornadoVM backend: a group of " + g + " tensors has more than 2^31 elements");
            c[k] = (int) sum;
        }
        return c;
    }

    /**
     * The gradient norm: squares summed by {@link MultiTensorKernels#sumSquares8} over groups of 8 gradients into one
     * partial per 8192 elements, the partials summed in order by one work-group, the tensors of the last, partial group
     * added one by one; then every gradient scaled, 8 per task.
     */
    static void clipGradNorm(ClipGradNorm op, TaskSink s) {
        List<Tensor> params = op.params();
        FloatArray norm = s.write(op.normOut());
        int G = MultiTensorKernels.G_NORM, full = params.size() / G * G;
        int partials = 0;
        for (int k = 0; k < full; k += G) partials += chunks(ends(params, k, G)[G - 1]);
        boolean any = false;
        if (partials > 0) {
            FloatArray partial = s.scratch(partials);
            int base = 0;
            for (int k = 0; k < full; k += G) {
                int[] c = ends(params, k, G);
                FloatArray[] g = new FloatArray[G];
                for (int j = 0; j < G; j++) g[j] = s.gradRead(params.get(k + j));
                String id = s.task("norm_partials", MultiTensorKernels::sumSquares8, new KernelContext(), g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7],
                        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], partial, base);
                s.grid1(id, (long) chunks(c[G - 1]) * ReduceKernels.GROUP, ReduceKernels.GROUP);
                base += chunks(c[G - 1]);
            }
            LossLowering.reduce(s, partial, partial, partials, ReduceKernels.MODE_SUM, norm, 0, 1f, false);
            any = true;
        }
        for (int k = full; k < params.size(); k++) {
            FloatArray g = s.gradRead(params.get(k));
            LossLowering.reduce(s, g, g, params.get(k).size(), ReduceKernels.MODE_SQUARES, norm, 0, 1f, any);
            any = true;
        }
        s.task("sqrt", ReduceKernels::sqrtAt, norm, 0);
        float maxNorm = op.maxNorm();
        G = MultiTensorKernels.G_CLIP;
        full = params.size() / G * G;
        for (int k = 0; k < full; k += G) {
            int[] c = ends(params, k, G);
            FloatArray[] g = new FloatArray[G];
            for (int j = 0; j < G; j++) g[j] = s.gradUpdate(params.get(k + j));
            s.task("clip", MultiTensorKernels::clip8, g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], norm, maxNorm, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
        }
        for (int k = full; k < params.size(); k++) {
            Tensor p = params.get(k);
            s.task("clip", OptimizerKernels::clipScale, s.gradUpdate(p), norm, maxNorm, p.size());
        }
    }

    private static int chunks(int n) {
        return (n + MultiTensorKernels.NORM_CHUNK - 1) / MultiTensorKernels.NORM_CHUNK;
    }

    static void ema(EmaUpdate op, TaskSink s) {
        List<Tensor> params = op.params(), ema = op.ema();
        FloatArray decay = s.read(op.decay());
        int G = MultiTensorKernels.G_EMA, full = params.size() / G * G;
        for (int k = 0; k < full; k += G) {
            int[] c = ends(params, k, G);
            FloatArray[] p = new FloatArray[G], e = new FloatArray[G];
            for (int j = 0; j < G; j++) {
                p[j] = s.read(params.get(k + j));
                e[j] = s.update(ema.get(k + j));
            }
            s.task("ema", MultiTensorKernels::ema6, p[0], e[0], p[1], e[1], p[2], e[2], p[3], e[3], p[4], e[4], p[5], e[5], decay, c[0], c[1], c[2], c[3], c[4], c[5]);
        }
        for (int k = full; k < params.size(); k++) {
            FloatArray p = s.read(params.get(k)), e = s.update(ema.get(k));
            s.task("ema", OptimizerKernels::ema, p, e, decay, params.get(k).size());
        }
    }

    static void zeroGrad(ZeroGrad op, TaskSink s) {
        List<Tensor> ts = op.tensors().stream().filter(Tensor::requiresGrad).toList();
        int G = MultiTensorKernels.G_ZERO, full = ts.size() / G * G;
        for (int k = 0; k < full; k += G) {
            int[] c = ends(ts, k, G);
            FloatArray[] x = new FloatArray[G];
            for (int j = 0; j < G; j++) x[j] = s.gradUpdate(ts.get(k + j));
            s.task("zero", MultiTensorKernels::zero8, x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
        }
        for (int k = full; k < ts.size(); k++) {
            Tensor t = ts.get(k);
            s.task("zero", PointwiseKernels::fill, s.gradUpdate(t), 0f, t.size());
        }
    }

    static void seedGrad(SeedGrad op, TaskSink s) {
        FloatArray gd = s.gradUpdate(op.loss());
        s.task("seed", ReduceKernels::setAt, gd, 0, 1f);
    }

    static void randn(Randn op, TaskSink s) {
        Tensor out = op.out();
        long seed = op.seed(), stream = op.stream();
        FloatArray od = s.write(out), counter = s.read(op.counter());
        int n = out.size(), sLo = (int) seed, sHi = (int) (seed >>> 32), tLo = (int) stream, tHi = (int) (stream >>> 32);
        int quadOffset = (int) (op.offset() / 4);
        s.task("randn", OptimizerKernels::randn, od, counter, sLo, sHi, tLo, tHi, quadOffset, n);
    }

    static void linearInterpolant(LinearInterpolant op, TaskSink s) {
        Tensor x0 = op.x0();
        FloatArray a = s.read(x0), e = s.read(op.noise()), t = s.read(op.t());
        FloatArray xt = s.write(op.xt()), v = s.write(op.v());
        int per = op.per(), n = x0.size();
        s.task("interpolant", PointwiseKernels::linearInterpolant, a, e, t, xt, v, per, n);
    }

    static void adamw(AdamW op, TaskSink s) {
        List<Tensor> params = op.params(), m = op.m(), v = op.v();
        float beta1 = op.beta1(), beta2 = op.beta2(), eps = op.eps(), wd = op.weightDecay();
        FloatArray lr = s.read(op.lr()), step = s.read(op.step()), coef = s.scratch(3);
        s.task("adam_coef", OptimizerKernels::adamCoefficients, lr, step, coef, beta1, beta2, wd);
        int decay = wd != 0f ? 1 : 0;
        int G = MultiTensorKernels.G_ADAM, full = params.size() / G * G;
        for (int k = 0; k < full; k += G) {
            int[] c = ends(params, k, G);
            FloatArray[] pd = new FloatArray[G], gd = new FloatArray[G], md = new FloatArray[G], vd = new FloatArray[G];
            for (int j = 0; j < G; j++) {
                Tensor p = params.get(k + j);
                pd[j] = s.update(p);
                gd[j] = s.gradRead(p);
                md[j] = s.update(m.get(k + j));
                vd[j] = s.update(v.get(k + j));
            }
            s.task("adamw", MultiTensorKernels::adamw3, pd[0], gd[0], md[0], vd[0], pd[1], gd[1], md[1], vd[1], pd[2], gd[2], md[2], vd[2],
                    coef, beta1, beta2, eps, decay, c[0], c[1], c[2]);
        }
        for (int k = full; k < params.size(); k++) {
            Tensor p = params.get(k);
            FloatArray pd = s.update(p), gd = s.gradRead(p), md = s.update(m.get(k)), vd = s.update(v.get(k));
            s.task("adamw", OptimizerKernels::adamw, pd, gd, md, vd, coef, beta1, beta2, eps, decay, p.size());
        }
    }
}
