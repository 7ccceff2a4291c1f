package erw.engine.tornado;

import erw.engine.Tensor;
import erw.engine.ops.AdamW;
import erw.engine.ops.ClipGradNorm;
import erw.engine.ops.EmaUpdate;
import erw.engine.ops.LinearInterpolant;
import erw.engine.ops.Randn;
import erw.engine.ops.SeedGrad;
import erw.engine.ops.ZeroGrad;
import erw.engine.tornado.kernels.OptimizerKernels;
import erw.engine.tornado.kernels.PointwiseKernels;
import erw.engine.tornado.kernels.ReduceKernels;
import java.util.List;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * Non-differentiated steps of the optimizer and data graphs: adamw, clip_grad_norm, ema,
 * zero_grad, seed_grad, randn, linear_interpolant. One task per parameter tensor (one buffer per
 * parameter, as the architecture asks).
 */
final class OptimizerLowering {
    private OptimizerLowering() {}

    static void clipGradNorm(ClipGradNorm op, TaskSink s) {
        List<Tensor> params = op.params();
        FloatArray norm = s.write(op.normOut());
        for (int k = 0; k < params.size(); k++) {
            FloatArray g = s.gradRead(params.get(k));
            LossLowering.reduce(s, g, g, params.get(k).size(), ReduceKernels.MODE_SQUARES, norm, 0, 1f, k > 0);
        }
        s.task("sqrt", ReduceKernels::sqrtAt, norm, 0);
        float maxNorm = op.maxNorm();
        for (Tensor p : params) {
            FloatArray gd = s.gradUpdate(p);
            int n = p.size();
            s.task("clip", OptimizerKernels::clipScale, gd, norm, maxNorm, n);
        }
    }

    static void ema(EmaUpdate op, TaskSink s) {
        List<Tensor> params = op.params(), ema = op.ema();
        FloatArray decay = s.read(op.decay());
        for (int k = 0; k < params.size(); k++) {
            FloatArray p = s.read(params.get(k)), e = s.update(ema.get(k));
            int n = params.get(k).size();
            s.task("ema", OptimizerKernels::ema, p, e, decay, n);
        }
    }

    static void zeroGrad(ZeroGrad op, TaskSink s) {
        for (Tensor t : op.tensors()) {
            if (t.grad() == null) continue;
            FloatArray gd = s.gradUpdate(t);
            int n = t.size();
            s.task("zero", PointwiseKernels::fill, gd, 0f, n);
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
        for (int k = 0; k < params.size(); k++) {
            Tensor p = params.get(k);
            FloatArray pd = s.update(p), gd = s.gradRead(p), md = s.update(m.get(k)), vd = s.update(v.get(k));
            int n = p.size();
            s.task("adamw", OptimizerKernels::adamw, pd, gd, md, vd, coef, beta1, beta2, eps, decay, n);
        }
    }
}
