package erw.engine.cpu;

import erw.engine.Precision;
import erw.engine.Tensor;
import erw.engine.host.WorkerPool;
import erw.engine.ops.Attention;
import erw.engine.ops.Matmul;
import jdk.incubator.vector.FloatVector;

/** CPU kernels of matmul (blocked SGEMM) and fused attention, forward and backward side by side. */
final class LinearAlgebraKernels {
    private LinearAlgebraKernels() {}

    // ---- matmul --------------------------------------------------------------------------------

    static void matmulForward(Matmul op, WorkerPool pool) {
        Tensor a = op.a(), b = op.b(), bias = op.bias(), c = op.c();
        Sgemm.gemm(pool, op.precision(), op.transA(), op.transB(), op.m(), op.n(), op.k(), a.data(), 0, b.data(), 0, c.data(), 0, false,
                bias == null ? null : bias.data(), 0);
    }

    /** {@code writeA}/{@code writeB}: the step writes that operand's gradient whole instead of adding to it (its first write). */
    static void matmulBackward(Matmul op, boolean writeA, boolean writeB, WorkerPool pool) {
        Tensor a = op.a(), b = op.b(), bias = op.bias(), c = op.c();
        boolean transA = op.transA(), transB = op.transB();
        int m = op.m(), n = op.n(), k = op.k();
        float[] dc = c.grad();
        Precision pr = op.precision();
        if (a.requiresGrad()) {
            if (!transA) { // dA (m,k) += dC (m,n) . op(B)^T
                Sgemm.gemm(pool, pr, false, !transB, m, k, n, dc, 0, b.data(), 0, a.grad(), 0, !writeA, null, 0);
            } else {       // dA (k,m) += op(B) (k,n) . dC^T
                Sgemm.gemm(pool, pr, transB, true, k, m, n, b.data(), 0, dc, 0, a.grad(), 0, !writeA, null, 0);
            }
        }
        if (b.requiresGrad()) {
            if (!transB) { // dB (k,n) += op(A)^T (k,m) . dC
                Sgemm.gemm(pool, pr, !transA, false, k, n, m, a.data(), 0, dc, 0, b.grad(), 0, !writeB, null, 0);
            } else {       // dB (n,k) += dC^T (n,m) . op(A)
                Sgemm.gemm(pool, pr, true, transA, n, k, m, dc, 0, a.data(), 0, b.grad(), 0, !writeB, null, 0);
            }
        }
        if (bias != null && bias.requiresGrad()) Reduce.addColumnSums(pool, dc, 0, m, n, bias.grad(), 0);
    }

    // ---- attention -----------------------------------------------------------------------------

    /** Copies the (T, d) slab of q, k or v (which = 0, 1, 2) of sample b, head h into dst, row-major. */
    private static void gather(float[] src, int t, int dim, int hd, int b, int h, int which, float[] dst) {
        int stride = 3 * dim, base = b * t * stride + which * dim + h * hd;
        for (int j = 0; j < t; j++) System.arraycopy(src, base + j * stride, dst, j * hd, hd);
    }

    /** As {@link #gather} for q, times the softmax scale (S = (scale Q) K^T saves a pass over S). */
    private static void gatherScaledQ(float[] src, int t, int dim, int hd, float scale, int b, int h, float[] dst) {
        int stride = 3 * dim, base = b * t * stride + h * hd;
        for (int j = 0; j < t; j++) {
            int o = base + j * stride, d = j * hd, c = 0;
            for (int ub = Vec.S.loopBound(hd); c < ub; c += Vec.S.length()) FloatVector.fromArray(Vec.S, src, o + c).mul(scale).intoArray(dst, d + c);
            for (; c < hd; c++) dst[d + c] = src[o + c] * scale;
        }
    }

    /** s[off..off+T) = exp(s - shift) in place; returns the sum. */
    private static float expShifted(float[] s, int t, int off, float shift) {
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

    /**
     * The attention kernels' per-thread working arrays for one (batch, head) task, kept between calls:
     * allocated per call they came to ~50 MiB a step on SiT-S/2 at batch 8, which refilled the JVM's
     * young generation every step. Every array is written whole before it is read in a task.
     */
    private static final class AttentionScratch {
        final int t, hd;
        final float[] q, k, v, go, o, dq, dk, dv, p, dp, inv;

        AttentionScratch(int t, int hd) {
            this.t = t;
            this.hd = hd;
            q = new float[t * hd]; k = new float[t * hd]; v = new float[t * hd]; go = new float[t * hd]; o = new float[t * hd];
            dq = new float[t * hd]; dk = new float[t * hd]; dv = new float[t * hd];
            p = new float[t * t]; dp = new float[t * t]; inv = new float[t];
        }
    }

    private static final ThreadLocal<AttentionScratch> ATTENTION_SCRATCH = new ThreadLocal<>();

    private static AttentionScratch attentionScratch(int t, int hd) {
        AttentionScratch s = ATTENTION_SCRATCH.get();
        if (s == null || s.t != t || s.hd != hd) {
            s = new AttentionScratch(t, hd);
            ATTENTION_SCRATCH.set(s);
        }
        return s;
    }

    static void attentionForward(Attention op, WorkerPool pool) {
        int n = op.n(), t = op.t(), heads = op.heads(), dim = op.dim(), hd = op.hd();
        float scale = op.scale();
        Precision pr = op.precision();
        float[] src = op.qkv().data(), od = op.out().data(), lse = op.lse().data();
        pool.parallelFor(n * heads, (lo, hi) -> {
            AttentionScratch w = attentionScratch(t, hd);
            float[] q = w.q, k = w.k, v = w.v, p = w.p, o = w.o, inv = w.inv;
            for (int task = lo; task < hi; task++) {
                int b = task / heads, h = task % heads;
                gatherScaledQ(src, t, dim, hd, scale, b, h, q);
                gather(src, t, dim, hd, b, h, 1, k);
                gather(src, t, dim, hd, b, h, 2, v);
                // S = (scale Q) K^T as a small GEMM (nested in this loop, so it runs on this thread)
                Sgemm.gemm(pool, pr, false, true, t, t, hd, q, 0, k, 0, p, 0, false, null, 0);
                for (int i = 0; i < t; i++) {
                    int r = i * t;
                    float m = Vec.max(p, r, t);
                    float sum = expShifted(p, t, r, m);
                    inv[i] = 1f / sum;
                    lse[task * t + i] = m + (float) Math.log(sum);
                }
                // O = softmax(S) V: the unnormalized exp(S - max) times V, each row scaled by 1/sum on the way out
                Sgemm.gemm(pool, pr, false, false, t, hd, t, p, 0, v, 0, o, 0, false, null, 0);
                for (int i = 0; i < t; i++) {
                    int dOff = (b * t + i) * dim + h * hd, c = 0;
                    for (int ub = Vec.S.loopBound(hd); c < ub; c += Vec.S.length()) FloatVector.fromArray(Vec.S, o, i * hd + c).mul(inv[i]).intoArray(od, dOff + c);
                    for (; c < hd; c++) od[dOff + c] = o[i * hd + c] * inv[i];
                }
            }
        });
    }

    /** {@code write}: the step writes qkv's gradient whole (its first write; every element once, from zero) instead of adding to it. */
    static void attentionBackward(Attention op, boolean write, WorkerPool pool) {
        Tensor qkv = op.qkv(), out = op.out();
        if (!qkv.requiresGrad()) return;
        int n = op.n(), t = op.t(), heads = op.heads(), dim = op.dim(), hd = op.hd();
        float scale = op.scale();
        Precision pr = op.precision();
        float[] src = qkv.data(), od = out.data(), g = out.grad(), gq = qkv.grad(), lse = op.lse().data();
        pool.parallelFor(n * heads, (lo, hi) -> {
            AttentionScratch w = attentionScratch(t, hd);
            float[] q = w.q, k = w.k, v = w.v, go = w.go, o = w.o, p = w.p, dp = w.dp, dq = w.dq, dk = w.dk, dv = w.dv;
            for (int task = lo; task < hi; task++) {
                int b = task / heads, h = task % heads;
                gatherScaledQ(src, t, dim, hd, scale, b, h, q);
                gather(src, t, dim, hd, b, h, 1, k);
                gather(src, t, dim, hd, b, h, 2, v);
                for (int i = 0; i < t; i++) {
                    System.arraycopy(g, (b * t + i) * dim + h * hd, go, i * hd, hd);
                    System.arraycopy(od, (b * t + i) * dim + h * hd, o, i * hd, hd);
                }
                // the probabilities, recomputed from the saved log-sum-exp
                Sgemm.gemm(pool, pr, false, true, t, t, hd, q, 0, k, 0, p, 0, false, null, 0);
                for (int i = 0; i < t; i++) expShifted(p, t, i * t, lse[task * t + i]);
                Sgemm.gemm(pool, pr, false, true, t, t, hd, go, 0, v, 0, dp, 0, false, null, 0);   // dP = dO V^T
                Sgemm.gemm(pool, pr, true, false, t, hd, t, p, 0, go, 0, dv, 0, false, null, 0);   // dV = P^T dO
                for (int i = 0; i < t; i++) {                                          // dS = P (dP - rowsum(dO O))
                    float di = Vec.dot(go, i * hd, o, i * hd, hd);
                    int r = i * t, j = 0;
                    for (int ub = Vec.S.loopBound(t); j < ub; j += Vec.S.length()) {
                        FloatVector.fromArray(Vec.S, p, r + j).mul(FloatVector.fromArray(Vec.S, dp, r + j).sub(di)).intoArray(dp, r + j);
                    }
                    for (; j < t; j++) dp[r + j] = p[r + j] * (dp[r + j] - di);
                }
                Sgemm.gemm(pool, pr, false, false, t, hd, t, dp, 0, k, 0, dq, 0, false, null, 0);  // dQ = scale dS K (scale below)
                Sgemm.gemm(pool, pr, true, false, t, hd, t, dp, 0, q, 0, dk, 0, false, null, 0);   // dK = dS^T (scale Q)
                float[] gIn = write ? Vec.ZERO : gq; // gq, or +0 when written whole (see Vec.ZERO)
                int gs = write ? 0 : 1;
                for (int j = 0; j < t; j++) {
                    int row = (b * t + j) * 3 * dim + h * hd, c = 0;
                    for (int ub = Vec.S.loopBound(hd); c < ub; c += Vec.S.length()) {
                        int x = j * hd + c; // the same two roundings as the scalar tail: a product, then a sum
                        int qi = row + c, ki = row + dim + c, vi = row + 2 * dim + c;
                        FloatVector.fromArray(Vec.S, gIn, qi * gs).add(FloatVector.fromArray(Vec.S, dq, x).mul(scale)).intoArray(gq, qi);
                        FloatVector.fromArray(Vec.S, gIn, ki * gs).add(FloatVector.fromArray(Vec.S, dk, x)).intoArray(gq, ki);
                        FloatVector.fromArray(Vec.S, gIn, vi * gs).add(FloatVector.fromArray(Vec.S, dv, x)).intoArray(gq, vi);
                    }
                    for (; c < hd; c++) {
                        gq[row + c] = (write ? 0f : gq[row + c]) + scale * dq[j * hd + c];
                        gq[row + dim + c] = (write ? 0f : gq[row + dim + c]) + dk[j * hd + c];
                        gq[row + 2 * dim + c] = (write ? 0f : gq[row + 2 * dim + c]) + dv[j * hd + c];
                    }
                }
            }
        });
    }
}
