package erw.engine.tornado;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.tornado.kernels.OptimizerKernels;
import erw.engine.tornado.kernels.PointwiseKernels;
import erw.engine.tornado.kernels.ReduceKernels;
import java.util.List;
import java.util.Set;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * Non-differentiated steps of the optimizer and data graphs: adamw, clip_grad_norm, ema,
 * zero_grad, seed_grad, randn, linear_interpolant. One task per parameter tensor (one buffer per
 * parameter, as the architecture asks).
 */
final class OptimizerLowering implements OpLowering {
    @Override
    public Set<String> types() {
        return Set.of("adamw", "clip_grad_norm", "ema", "zero_grad", "seed_grad", "randn", "linear_interpolant");
    }

    @Override
    public void forward(Op op, OpFields f, TaskSink s) {
        switch (op.type()) {
            case "adamw" -> adamw(f, s);
            case "clip_grad_norm" -> {
                List<Tensor> params = f.tensors("params");
                FloatArray norm = s.write(f.tensor("normOut"));
                for (int k = 0; k < params.size(); k++) {
                    FloatArray g = s.gradRead(params.get(k));
                    LossLowering.reduce(s, g, g, params.get(k).size(), ReduceKernels.MODE_SQUARES, norm, 0, 1f, k > 0);
                }
                s.task("sqrt", (g, i) -> g.task(i, ReduceKernels::sqrtAt, norm, 0));
                float maxNorm = f.real("maxNorm");
                for (Tensor p : params) {
                    FloatArray gd = s.gradUpdate(p);
                    int n = p.size();
                    s.task("clip", (g, i) -> g.task(i, OptimizerKernels::clipScale, gd, norm, maxNorm, n));
                }
            }
            case "ema" -> {
                List<Tensor> params = f.tensors("params"), ema = f.tensors("ema");
                FloatArray decay = s.read(f.tensor("decay"));
                for (int k = 0; k < params.size(); k++) {
                    FloatArray p = s.read(params.get(k)), e = s.update(ema.get(k));
                    int n = params.get(k).size();
                    s.task("ema", (g, i) -> g.task(i, OptimizerKernels::ema, p, e, decay, n));
                }
            }
            case "zero_grad" -> {
                for (Tensor t : f.tensors("tensors")) {
                    if (t.grad() == null) continue;
                    FloatArray gd = s.gradUpdate(t);
                    int n = t.size();
                    s.task("zero", (g, i) -> g.task(i, PointwiseKernels::fill, gd, 0f, n));
                }
            }
            case "seed_grad" -> {
                FloatArray gd = s.gradUpdate(op.outputs().get(0));
                s.task("seed", (g, i) -> g.task(i, ReduceKernels::setAt, gd, 0, 1f));
            }
            case "randn" -> {
                Tensor out = f.tensor("out");
                long seed = f.longValue("seed"), stream = f.longValue("stream");
                FloatArray od = s.write(out), counter = s.read(f.tensor("counter"));
                int n = out.size(), sLo = (int) seed, sHi = (int) (seed >>> 32), tLo = (int) stream, tHi = (int) (stream >>> 32);
                s.task("randn", (g, i) -> g.task(i, OptimizerKernels::randn, od, counter, sLo, sHi, tLo, tHi, n));
            }
            default -> { // linear_interpolant
                Tensor x0 = f.tensor("x0");
                FloatArray a = s.read(x0), e = s.read(f.tensor("noise")), t = s.read(f.tensor("t"));
                FloatArray xt = s.write(f.tensor("xt")), v = s.write(f.tensor("v"));
                int per = f.integer("per"), n = x0.size();
                s.task("interpolant", (g, i) -> g.task(i, PointwiseKernels::linearInterpolant, a, e, t, xt, v, per, n));
            }
        }
    }

    private static void adamw(OpFields f, TaskSink s) {
        List<Tensor> params = f.tensors("params"), m = f.tensors("m"), v = f.tensors("v");
        float beta1 = f.real("beta1"), beta2 = f.real("beta2"), eps = f.real("eps"), wd = f.real("weightDecay");
        FloatArray lr = s.read(f.tensor("lr")), step = s.read(f.tensor("step")), coef = s.scratch(3);
        s.task("adam_coef", (g, i) -> g.task(i, OptimizerKernels::adamCoefficients, lr, step, coef, beta1, beta2, wd));
        int decay = wd != 0f ? 1 : 0;
        for (int k = 0; k < params.size(); k++) {
            Tensor p = params.get(k);
            FloatArray pd = s.update(p), gd = s.gradRead(p), md = s.update(m.get(k)), vd = s.update(v.get(k));
            int n = p.size();
            s.task("adamw", (g, i) -> g.task(i, OptimizerKernels::adamw, pd, gd, md, vd, coef, beta1, beta2, eps, decay, n));
        }
    }
}
