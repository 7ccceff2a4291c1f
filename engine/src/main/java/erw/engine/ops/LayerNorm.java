package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.FastMath;
import erw.engine.cpu.Vec;
import erw.engine.cpu.WorkerPool;
import jdk.incubator.vector.FloatVector;
import java.util.ArrayList;
import java.util.List;

/**
 * LayerNorm over the last dimension, optionally with affine weight and bias. The per-row mean and
 * reciprocal standard deviation are kept for the backward pass (statistics in double).
 */
public final class LayerNorm extends Op {
    private static final int L = Vec.S.length();
    private final Tensor x, weight, bias, out;
    private final float eps;
    private final int rows, d;
    private final float[] mean, rstd;

    public LayerNorm(String name, Tensor x, Tensor weight, Tensor bias, float eps, Tensor out) {
        super(name);
        this.x = x;
        this.weight = weight;
        this.bias = bias;
        this.out = out;
        this.eps = eps;
        this.d = x.cols();
        this.rows = x.rows();
        if (out.size() != x.size()) throw shapeError(type(), name, "output size differs from input", x, out);
        if ((weight == null) != (bias == null)) throw shapeError(type(), name, "affine needs both weight and bias", x);
        if (weight != null && (weight.size() != d || bias.size() != d)) throw shapeError(type(), name, "affine parameters must have " + d + " elements", x, weight, bias);
        this.mean = new float[rows];
        this.rstd = new float[rows];
    }

    @Override public String type() { return "layernorm"; }

    @Override public List<Tensor> inputs() {
        List<Tensor> l = new ArrayList<>(List.of(x));
        if (weight != null) { l.add(weight); l.add(bias); }
        return l;
    }

    @Override public List<Tensor> outputs() { return List.of(out); }

    @Override
    public void forward(WorkerPool pool) {
        float[] xd = x.data(), od = out.data();
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

    @Override
    public void backward(WorkerPool pool) {
        float[] xd = x.data(), g = out.grad();
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
}
