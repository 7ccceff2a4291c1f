package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.FastMath;
import erw.engine.cpu.Sgemm;
import erw.engine.cpu.Vec;
import erw.engine.cpu.WorkerPool;
import java.util.List;
import jdk.incubator.vector.FloatVector;

/**
 * Fused multi-head scaled-dot-product attention on a packed qkv tensor (N*T, 3D), laid out as
 * (N, T, 3, h, d) like the published SiT: {@code out = softmax(q k^T / sqrt(d)) v}, heads
 * concatenated into (N*T, D).
 *
 * <p>Memory-lean: the (T x T) probabilities are never stored. The forward keeps one log-sum-exp per
 * query row; the backward recomputes each probability row from it (as FlashAttention does), so the
 * extra memory is N*h*T floats instead of N*h*T*T.
 */
public final class Attention extends Op {
    private final Tensor qkv, out;
    private final int n, t, heads, dim, hd;
    private final float scale;
    private final float[] lse;

    public Attention(String name, Tensor qkv, int batch, int heads, Tensor out) {
        super(name);
        this.qkv = qkv;
        this.out = out;
        this.n = batch;
        this.heads = heads;
        if (qkv.cols() % 3 != 0) throw shapeError(type(), name, "qkv's last dimension must be 3*D", qkv);
        this.dim = qkv.cols() / 3;
        if (heads < 1 || dim % heads != 0) throw shapeError(type(), name, "hidden size " + dim + " is not divisible by " + heads + " heads", qkv);
        this.hd = dim / heads;
        if (qkv.rows() % batch != 0) throw shapeError(type(), name, "rows must be batch " + batch + " x tokens", qkv);
        this.t = qkv.rows() / batch;
        if (out.rows() != qkv.rows() || out.cols() != dim) throw shapeError(type(), name, "output must be (" + qkv.rows() + ", " + dim + ")", qkv, out);
        this.scale = (float) (1.0 / Math.sqrt(hd));
        this.lse = new float[n * heads * t];
    }

    @Override public String type() { return "attention"; }
    @Override public List<Tensor> inputs() { return List.of(qkv); }
    @Override public List<Tensor> outputs() { return List.of(out); }
    @Override public long flops() { return 4L * n * heads * t * t * hd; }

    /** Copies the (T, d) slab of q, k or v (which = 0, 1, 2) of sample b, head h into dst, row-major. */
    private void gather(float[] src, int b, int h, int which, float[] dst) {
        int stride = 3 * dim, base = b * t * stride + which * dim + h * hd;
        for (int j = 0; j < t; j++) System.arraycopy(src, base + j * stride, dst, j * hd, hd);
    }

    /** As {@link #gather} for q, times the softmax scale (S = (scale Q) K^T saves a pass over S). */
    private void gatherScaledQ(float[] src, int b, int h, float[] dst) {
        int stride = 3 * dim, base = b * t * stride + h * hd;
        for (int j = 0; j < t; j++) {
            int o = base + j * stride, d = j * hd, c = 0;
            for (int ub = Vec.S.loopBound(hd); c < ub; c += Vec.S.length()) FloatVector.fromArray(Vec.S, src, o + c).mul(scale).intoArray(dst, d + c);
            for (; c < hd; c++) dst[d + c] = src[o + c] * scale;
        }
    }

    /** s[off..off+T) = exp(s - shift) in place; returns the sum. */
    private float expShifted(float[] s, int off, float shift) {
        int j = 0;
        FloatVector acc = FloatVector.zero(Vec.S);
        for (int ub = Vec.S.loopBound(t); j < ub; j += Vec.S.length()) {
            FloatVector e = FastMath.exp(FloatVector.fromArray(Vec.S, s, off + j).sub(shift));
            e.intoArray(s, off + j);
            acc = acc.add(e);
        }
        float sum = FastMath.sumLanes(acc);
        for (; j < t; j++) {
            float e = FastMath.exp(s[off + j] - shift);
            s[off + j] = e;
            sum += e;
        }
        return sum;
    }

    @Override
    public void forward(WorkerPool pool) {
        float[] src = qkv.data(), od = out.data();
        pool.parallelFor(n * heads, (lo, hi) -> {
            float[] q = new float[t * hd], k = new float[t * hd], v = new float[t * hd], p = new float[t * t], o = new float[t * hd], inv = new float[t];
            for (int task = lo; task < hi; task++) {
                int b = task / heads, h = task % heads;
                gatherScaledQ(src, b, h, q);
                gather(src, b, h, 1, k);
                gather(src, b, h, 2, v);
                // S = (scale Q) K^T as a small GEMM (nested in this loop, so it runs on this thread)
                Sgemm.gemm(pool, false, true, t, t, hd, q, 0, k, 0, p, 0, false);
                for (int i = 0; i < t; i++) {
                    int r = i * t;
                    float m = Vec.max(p, r, t);
                    float sum = expShifted(p, r, m);
                    inv[i] = 1f / sum;
                    lse[task * t + i] = m + (float) Math.log(sum);
                }
                // O = softmax(S) V: the unnormalized exp(S - max) times V, each row scaled by 1/sum on the way out
                Sgemm.gemm(pool, false, false, t, hd, t, p, 0, v, 0, o, 0, false);
                for (int i = 0; i < t; i++) {
                    int dOff = (b * t + i) * dim + h * hd, c = 0;
                    for (int ub = Vec.S.loopBound(hd); c < ub; c += Vec.S.length()) FloatVector.fromArray(Vec.S, o, i * hd + c).mul(inv[i]).intoArray(od, dOff + c);
                    for (; c < hd; c++) od[dOff + c] = o[i * hd + c] * inv[i];
                }
            }
        });
    }

    @Override
    public void backward(WorkerPool pool) {
        if (!qkv.requiresGrad()) return;
        float[] src = qkv.data(), od = out.data(), g = out.grad(), gq = qkv.grad();
        pool.parallelFor(n * heads, (lo, hi) -> {
            float[] q = new float[t * hd], k = new float[t * hd], v = new float[t * hd], go = new float[t * hd], o = new float[t * hd];
            float[] p = new float[t * t], dp = new float[t * t], dq = new float[t * hd], dk = new float[t * hd], dv = new float[t * hd];
            for (int task = lo; task < hi; task++) {
                int b = task / heads, h = task % heads;
                gatherScaledQ(src, b, h, q);
                gather(src, b, h, 1, k);
                gather(src, b, h, 2, v);
                for (int i = 0; i < t; i++) {
                    System.arraycopy(g, (b * t + i) * dim + h * hd, go, i * hd, hd);
                    System.arraycopy(od, (b * t + i) * dim + h * hd, o, i * hd, hd);
                }
                // the probabilities, recomputed from the saved log-sum-exp
                Sgemm.gemm(pool, false, true, t, t, hd, q, 0, k, 0, p, 0, false);
                for (int i = 0; i < t; i++) expShifted(p, i * t, lse[task * t + i]);
                Sgemm.gemm(pool, false, true, t, t, hd, go, 0, v, 0, dp, 0, false);   // dP = dO V^T
                Sgemm.gemm(pool, true, false, t, hd, t, p, 0, go, 0, dv, 0, false);   // dV = P^T dO
                for (int i = 0; i < t; i++) {                                          // dS = P (dP - rowsum(dO O))
                    float di = Vec.dot(go, i * hd, o, i * hd, hd);
                    int r = i * t;
                    for (int j = 0; j < t; j++) dp[r + j] = p[r + j] * (dp[r + j] - di);
                }
                Sgemm.gemm(pool, false, false, t, hd, t, dp, 0, k, 0, dq, 0, false);  // dQ = scale dS K (scale below)
                Sgemm.gemm(pool, true, false, t, hd, t, dp, 0, q, 0, dk, 0, false);   // dK = dS^T (scale Q)
                for (int j = 0; j < t; j++) {
                    int row = (b * t + j) * 3 * dim + h * hd;
                    for (int c = 0; c < hd; c++) {
                        gq[row + c] += scale * dq[j * hd + c];
                        gq[row + dim + c] += dk[j * hd + c];
                        gq[row + 2 * dim + c] += dv[j * hd + c];
                    }
                }
            }
        });
    }
}
