package erw.engine.cpu;

import erw.engine.Tensor;
import erw.engine.host.Philox;
import erw.engine.host.WorkerPool;
import erw.engine.ops.AdamW;
import erw.engine.ops.ClipGradNorm;
import erw.engine.ops.EmaUpdate;
import erw.engine.ops.LinearInterpolant;
import erw.engine.ops.Randn;
import erw.engine.ops.SeedGrad;
import erw.engine.ops.ZeroGrad;
import java.util.List;

/**
 * CPU kernels of the non-differentiated steps of optimizer and data graphs (adamw, clip_grad_norm,
 * ema, zero_grad, seed_grad, randn, linear_interpolant).
 */
final class OptimizerKernels {
    private OptimizerKernels() {}

    static void adamw(AdamW op, WorkerPool pool) {
        List<Tensor> params = op.params(), m = op.m(), v = op.v();
        float beta1 = op.beta1(), beta2 = op.beta2(), eps = op.eps(), weightDecay = op.weightDecay();
        float rate = op.lr().data()[0];
        double t = op.step().data()[0];
        float bc1 = (float) (1 - Math.pow(beta1, t));
        float bc2Sqrt = (float) Math.sqrt(1 - Math.pow(beta2, t));
        float stepSize = rate / bc1;
        float decay = 1f - rate * weightDecay;
        for (int k = 0; k < params.size(); k++) {
            float[] p = params.get(k).data(), g = params.get(k).grad(), md = m.get(k).data(), vd = v.get(k).data();
            pool.parallelFor(p.length, 4096, (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    float gi = g[i];
                    float pi = weightDecay != 0f ? p[i] * decay : p[i];
                    float mi = beta1 * md[i] + (1f - beta1) * gi;
                    float vi = beta2 * vd[i] + (1f - beta2) * gi * gi;
                    md[i] = mi;
                    vd[i] = vi;
                    p[i] = pi - stepSize * mi / ((float) Math.sqrt(vi) / bc2Sqrt + eps);
                }
            });
        }
    }

    static void clipGradNorm(ClipGradNorm op, WorkerPool pool) {
        List<Tensor> params = op.params();
        double s = 0;
        for (Tensor p : params) s += Reduce.sumSquares(pool, p.grad());
        float norm = (float) Math.sqrt(s);
        op.normOut().data()[0] = norm;
        float coef = Math.min(1f, op.maxNorm() / (norm + 1e-6f));
        if (coef >= 1f || !Float.isFinite(coef)) return;
        for (Tensor p : params) {
            float[] g = p.grad();
            pool.parallelFor(g.length, 4096, (lo, hi) -> {
                for (int i = lo; i < hi; i++) g[i] *= coef;
            });
        }
    }

    static void ema(EmaUpdate op, WorkerPool pool) {
        List<Tensor> params = op.params(), ema = op.ema();
        float d = op.decay().data()[0], w = 1f - d;
        for (int k = 0; k < params.size(); k++) {
            float[] p = params.get(k).data(), e = ema.get(k).data();
            pool.parallelFor(p.length, 4096, (lo, hi) -> {
                for (int i = lo; i < hi; i++) e[i] = d * e[i] + w * p[i];
            });
        }
    }

    static void zeroGrad(ZeroGrad op, WorkerPool pool) {
        for (Tensor t : op.tensors()) {
            float[] g = t.grad();
            if (g == null) continue;
            pool.parallelFor(g.length, 16384, (lo, hi) -> java.util.Arrays.fill(g, lo, hi, 0f));
        }
    }

    static void seedGrad(SeedGrad op, WorkerPool pool) {
        op.loss().grad()[0] = 1f;
    }

    static void randn(Randn op, WorkerPool pool) {
        Tensor out = op.out();
        long c = (long) op.counter().data()[0];
        Philox.normal(pool, op.seed(), op.stream(), (c << 32) + op.offset() / 4, out.data(), 0, out.size());
    }

    static void linearInterpolant(LinearInterpolant op, WorkerPool pool) {
        int n = op.n(), per = op.per();
        float[] a = op.x0().data(), e = op.noise().data(), td = op.t().data(), xd = op.xt().data(), vd = op.v().data();
        pool.parallelFor(n, (lo, hi) -> {
            for (int b = lo; b < hi; b++) {
                float tb = td[b];
                for (int i = b * per; i < (b + 1) * per; i++) {
                    xd[i] = (1f - tb) * a[i] + tb * e[i];
                    vd[i] = e[i] - a[i];
                }
            }
        });
    }
}
