package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.FastMath;
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

    /** The same slab transposed to (d, T), so that a row of scores is a sum of T-long axpys. */
    private void gatherTransposed(float[] src, int b, int h, int which, float[] dst) {
        int stride = 3 * dim, base = b * t * stride + which * dim + h * hd;
        for (int j = 0; j < t; j++) {
            int o = base + j * stride;
            for (int c = 0; c < hd; c++) dst[c * t + j] = src[o + c];
        }
    }

    /** s[0..T) = scale * q_i . K^T, from the transposed keys. */
    private void scores(float[] q, int i, float[] kt, float[] s) {
        java.util.Arrays.fill(s, 0f);
        for (int c = 0; c < hd; c++) Vec.axpy(q[i * hd + c], kt, c * t, s, 0, t);
        Vec.scale(scale, s, 0, t);
    }

    /** p = exp(s - shift) in place; returns the sum. */
    private float expShifted(float[] s, float shift) {
        int j = 0;
        FloatVector acc = FloatVector.zero(Vec.S);
        for (int ub = Vec.S.loopBound(t); j < ub; j += Vec.S.length()) {
            FloatVector e = FastMath.exp(FloatVector.fromArray(Vec.S, s, j).sub(shift));
            e.intoArray(s, j);
            acc = acc.add(e);
        }
        float sum = FastMath.sumLanes(acc);
        for (; j < t; j++) {
            float e = FastMath.exp(s[j] - shift);
            s[j] = e;
            sum += e;
        }
        return sum;
    }

    @Override
    public void forward(WorkerPool pool) {
        float[] src = qkv.data(), od = out.data();
        pool.parallelFor(n * heads, (lo, hi) -> {
            float[] q = new float[t * hd], kt = new float[t * hd], v = new float[t * hd], p = new float[t], o = new float[hd];
            for (int task = lo; task < hi; task++) {
                int b = task / heads, h = task % heads;
                gather(src, b, h, 0, q);
                gatherTransposed(src, b, h, 1, kt);
                gather(src, b, h, 2, v);
                for (int i = 0; i < t; i++) {
                    scores(q, i, kt, p);
                    float m = Vec.max(p, 0, t);
                    float sum = expShifted(p, m);
                    java.util.Arrays.fill(o, 0f);
                    for (int j = 0; j < t; j++) Vec.axpy(p[j], v, j * hd, o, 0, hd);
                    float inv = 1f / sum;
                    int dst = (b * t + i) * dim + h * hd;
                    for (int c = 0; c < hd; c++) od[dst + c] = o[c] * inv;
                    lse[task * t + i] = m + (float) Math.log(sum);
                }
            }
        });
    }

    @Override
    public void backward(WorkerPool pool) {
        if (!qkv.requiresGrad()) return;
        float[] src = qkv.data(), od = out.data(), g = out.grad(), gq = qkv.grad();
        pool.parallelFor(n * heads, (lo, hi) -> {
            float[] q = new float[t * hd], k = new float[t * hd], kt = new float[t * hd], vt = new float[t * hd];
            float[] dkt = new float[t * hd], dvt = new float[t * hd], dq = new float[hd], go = new float[hd], p = new float[t], dp = new float[t];
            for (int task = lo; task < hi; task++) {
                int b = task / heads, h = task % heads;
                gather(src, b, h, 0, q);
                gather(src, b, h, 1, k);
                gatherTransposed(src, b, h, 1, kt);
                gatherTransposed(src, b, h, 2, vt);
                java.util.Arrays.fill(dkt, 0f);
                java.util.Arrays.fill(dvt, 0f);
                for (int i = 0; i < t; i++) {
                    int oRow = (b * t + i) * dim + h * hd;
                    System.arraycopy(g, oRow, go, 0, hd);
                    float di = Vec.dot(go, 0, od, oRow, hd);
                    scores(q, i, kt, p);
                    expShifted(p, lse[task * t + i]);               // the probabilities, recomputed
                    java.util.Arrays.fill(dp, 0f);
                    for (int c = 0; c < hd; c++) Vec.axpy(go[c], vt, c * t, dp, 0, t);   // dP_i = dO_i V^T
                    for (int c = 0; c < hd; c++) Vec.axpy(go[c], p, 0, dvt, c * t, t);   // dV^T += dO_i^T P_i
                    for (int j = 0; j < t; j++) dp[j] = p[j] * (dp[j] - di) * scale;      // dS_i (times the scale)
                    java.util.Arrays.fill(dq, 0f);
                    for (int j = 0; j < t; j++) Vec.axpy(dp[j], k, j * hd, dq, 0, hd);    // dQ_i = dS_i K
                    for (int c = 0; c < hd; c++) Vec.axpy(q[i * hd + c], dp, 0, dkt, c * t, t); // dK^T += Q_i^T dS_i
                    int qRow = (b * t + i) * 3 * dim + h * hd;
                    for (int c = 0; c < hd; c++) gq[qRow + c] += dq[c];
                }
                for (int j = 0; j < t; j++) {
                    int row = (b * t + j) * 3 * dim + h * hd;
                    for (int c = 0; c < hd; c++) {
                        gq[row + dim + c] += dkt[c * t + j];
                        gq[row + 2 * dim + c] += dvt[c * t + j];
                    }
                }
            }
        });
    }
}
