package erw.engine.cpu;

import erw.engine.EngineException;
import erw.engine.Tensor;
import erw.engine.host.WorkerPool;
import erw.engine.ops.LayerNorm;
import erw.engine.ops.Softmax;
import erw.engine.ops.SoftmaxCrossEntropy;
import jdk.incubator.vector.FloatVector;

/** CPU kernels of the row-wise ops (layernorm, softmax, softmax_cross_entropy), forward and backward side by side. */
final class RowKernels {
    private RowKernels() {}

    private static final int L = Vec.S.length();

    // ---- layernorm: statistics in float vector sums of a fixed lane order, saved for the backward

    static void layerNormForward(LayerNorm op, WorkerPool pool) {
        int rows = op.rows(), d = op.d();
        float eps = op.eps();
        Tensor weight = op.weight(), bias = op.bias();
        float[] xd = op.x().data(), od = op.out().data(), mean = op.mean().data(), rstd = op.rstd().data();
        float[] w = weight == null ? null : weight.data(), b = bias == null ? null : bias.data();
        pool.parallelFor(rows, 8, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int o = r * d;
                // float vector sums in a fixed lane order (two passes: mean, then centred squares)
                float m = Vec.sum(xd, o, d) / d;
                float v = centredSquares(xd, o, d, m);
                float rs = (float) (1.0 / Math.sqrt((double) v / d + eps));
                mean[r] = m;
                rstd[r] = rs;
                if (w == null) {
                    normalize(xd, o, d, m, rs, od);
                } else {
                    for (int i = 0; i < d; i++) od[o + i] = (xd[o + i] - m) * rs * w[i] + b[i];
                }
            }
        });
    }

    /** sum_i (x[o+i] - m)^2 with 16-lane partial sums. */
    private static float centredSquares(float[] x, int o, int d, float m) {
        int i = 0;
        float s = 0f;
        if (d >= L) {
            FloatVector acc = FloatVector.zero(Vec.S), mv = FloatVector.broadcast(Vec.S, m);
            for (int ub = Vec.S.loopBound(d); i < ub; i += L) {
                FloatVector t = FloatVector.fromArray(Vec.S, x, o + i).sub(mv);
                acc = t.fma(t, acc);
            }
            s = FastMath.sumLanes(acc);
        }
        for (; i < d; i++) s += (x[o + i] - m) * (x[o + i] - m);
        return s;
    }

    private static void normalize(float[] x, int o, int d, float m, float rs, float[] out) {
        int i = 0;
        FloatVector mv = FloatVector.broadcast(Vec.S, m), rv = FloatVector.broadcast(Vec.S, rs);
        for (int ub = Vec.S.loopBound(d); i < ub; i += L) FloatVector.fromArray(Vec.S, x, o + i).sub(mv).mul(rv).intoArray(out, o + i);
        for (; i < d; i++) out[o + i] = (x[o + i] - m) * rs;
    }

    /** sums of g and of g * xhat over a row (no affine weight). */
    private static void gradSums(float[] g, float[] x, int o, int d, float m, float rs, float[] sums) {
        int i = 0;
        float sg = 0f, sgx = 0f;
        if (d >= L) {
            FloatVector ag = FloatVector.zero(Vec.S), agx = FloatVector.zero(Vec.S);
            FloatVector mv = FloatVector.broadcast(Vec.S, m), rv = FloatVector.broadcast(Vec.S, rs);
            for (int ub = Vec.S.loopBound(d); i < ub; i += L) {
                FloatVector gv = FloatVector.fromArray(Vec.S, g, o + i);
                FloatVector xh = FloatVector.fromArray(Vec.S, x, o + i).sub(mv).mul(rv);
                ag = ag.add(gv);
                agx = gv.fma(xh, agx);
            }
            sg = FastMath.sumLanes(ag);
            sgx = FastMath.sumLanes(agx);
        }
        for (; i < d; i++) {
            sg += g[o + i];
            sgx += g[o + i] * (x[o + i] - m) * rs;
        }
        sums[0] = sg;
        sums[1] = sgx;
    }

    /** gx += rs * (g - mg - xhat * mgx) over a row (no affine weight). */
    private static void gradInput(float[] g, float[] x, int o, int d, float m, float rs, float mg, float mgx, float[] gx) {
        int i = 0;
        FloatVector mv = FloatVector.broadcast(Vec.S, m), rv = FloatVector.broadcast(Vec.S, rs);
        FloatVector mgv = FloatVector.broadcast(Vec.S, mg), mgxv = FloatVector.broadcast(Vec.S, mgx);
        for (int ub = Vec.S.loopBound(d); i < ub; i += L) {
            FloatVector xh = FloatVector.fromArray(Vec.S, x, o + i).sub(mv).mul(rv);
            FloatVector t = FloatVector.fromArray(Vec.S, g, o + i).sub(mgv).sub(xh.mul(mgxv));
            t.fma(rv, FloatVector.fromArray(Vec.S, gx, o + i)).intoArray(gx, o + i);
        }
        for (; i < d; i++) {
            float xh = (x[o + i] - m) * rs;
            gx[o + i] += rs * (g[o + i] - mg - xh * mgx);
        }
    }

    static void layerNormBackward(LayerNorm op, WorkerPool pool) {
        Tensor x = op.x(), weight = op.weight(), bias = op.bias();
        int rows = op.rows(), d = op.d();
        float[] mean = op.mean().data(), rstd = op.rstd().data();
        float[] xd = x.data(), g = op.out().grad();
        float[] w = weight == null ? null : weight.data();
        if (x.requiresGrad()) {
            float[] gx = x.grad();
            pool.parallelFor(rows, 8, (lo, hi) -> {
                float[] sums = new float[2];
                for (int r = lo; r < hi; r++) {
                    int o = r * d;
                    float m = mean[r], rs = rstd[r];
                    if (w == null) {
                        gradSums(g, xd, o, d, m, rs, sums);
                        gradInput(g, xd, o, d, m, rs, sums[0] / d, sums[1] / d, gx);
                        continue;
                    }
                    double sg = 0, sgx = 0;
                    for (int i = 0; i < d; i++) {
                        float gi = w == null ? g[o + i] : g[o + i] * w[i];
                        float xh = (xd[o + i] - m) * rs;
                        sg += gi;
                        sgx += gi * xh;
                    }
                    float mg = (float) (sg / d), mgx = (float) (sgx / d);
                    for (int i = 0; i < d; i++) {
                        float gi = w == null ? g[o + i] : g[o + i] * w[i];
                        float xh = (xd[o + i] - m) * rs;
                        gx[o + i] += rs * (gi - mg - xh * mgx);
                    }
                }
            });
        }
        if (weight != null && (weight.requiresGrad() || bias.requiresGrad())) {
            float[] gw = weight.grad(), gb = bias.grad();
            pool.parallelFor(d, 16, (c0, c1) -> {
                int wdt = c1 - c0;
                float[] aw = new float[wdt], ab = new float[wdt];
                for (int r = 0; r < rows; r++) {
                    int o = r * d;
                    float m = mean[r], rs = rstd[r];
                    for (int c = 0; c < wdt; c++) {
                        float gi = g[o + c0 + c];
                        aw[c] += gi * (xd[o + c0 + c] - m) * rs;
                        ab[c] += gi;
                    }
                }
                for (int c = 0; c < wdt; c++) {
                    if (gw != null) gw[c0 + c] += aw[c];
                    if (gb != null) gb[c0 + c] += ab[c];
                }
            });
        }
    }

    // ---- softmax -------------------------------------------------------------------------------

    static void softmaxForward(Softmax op, WorkerPool pool) {
        int rows = op.rows(), c = op.c();
        float[] xd = op.x().data(), od = op.out().data();
        pool.parallelFor(rows, 8, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int o = r * c;
                float m = Float.NEGATIVE_INFINITY;
                for (int i = 0; i < c; i++) m = Math.max(m, xd[o + i]);
                float s = 0;
                for (int i = 0; i < c; i++) {
                    float e = (float) Math.exp(xd[o + i] - m);
                    od[o + i] = e;
                    s += e;
                }
                float inv = 1f / s;
                for (int i = 0; i < c; i++) od[o + i] *= inv;
            }
        });
    }

    static void softmaxBackward(Softmax op, WorkerPool pool) {
        Tensor x = op.x(), out = op.out();
        if (!x.requiresGrad()) return;
        int rows = op.rows(), c = op.c();
        float[] y = out.data(), g = out.grad(), gx = x.grad();
        pool.parallelFor(rows, 8, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int o = r * c;
                float dot = 0;
                for (int i = 0; i < c; i++) dot += g[o + i] * y[o + i];
                for (int i = 0; i < c; i++) gx[o + i] += y[o + i] * (g[o + i] - dot);
            }
        });
    }

    // ---- softmax_cross_entropy: the probabilities are saved for the backward --------------------

    private static int label(SoftmaxCrossEntropy op, int i) {
        float f = op.labels().data()[i];
        int c = (int) f, k = op.k();
        if (c != f || c < 0 || c >= k) throw new EngineException(op.type() + " '" + op.name() + "': label " + f + " at row " + i + " is outside [0, " + k + ")");
        return c;
    }

    static void crossEntropyForward(SoftmaxCrossEntropy op, WorkerPool pool) {
        int n = op.n(), k = op.k();
        float[] l = op.logits().data(), prob = op.prob().data();
        double loss = 0;
        for (int i = 0; i < n; i++) {
            int o = i * k;
            float m = Float.NEGATIVE_INFINITY;
            for (int c = 0; c < k; c++) m = Math.max(m, l[o + c]);
            double s = 0;
            for (int c = 0; c < k; c++) s += Math.exp(l[o + c] - m);
            double lse = m + Math.log(s);
            for (int c = 0; c < k; c++) prob[o + c] = (float) Math.exp(l[o + c] - lse);
            loss += lse - l[o + label(op, i)];
        }
        op.out().data()[0] = (float) (loss / n);
    }

    static void crossEntropyBackward(SoftmaxCrossEntropy op, WorkerPool pool) {
        Tensor logits = op.logits();
        if (!logits.requiresGrad()) return;
        int n = op.n(), k = op.k();
        float[] prob = op.prob().data();
        float g = op.out().grad()[0] / n;
        float[] gl = logits.grad();
        for (int i = 0; i < n; i++) {
            int o = i * k, y = label(op, i);
            for (int c = 0; c < k; c++) gl[o + c] += g * (prob[o + c] - (c == y ? 1f : 0f));
        }
    }
}
