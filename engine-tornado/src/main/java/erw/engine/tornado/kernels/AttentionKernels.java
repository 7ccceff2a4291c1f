package erw.engine.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * Multi-head attention on packed qkv (N*T, 3D) laid out (N, T, 3, h, d). One work-group of 64 per
 * (sample, head, row). The other rows are taken {@link #CHUNK} at a time: a chunk's scores live in local
 * memory, max and sum by local trees, and the row's running max, sum and output are rescaled from chunk
 * to chunk (the online softmax of FlashAttention), so any number of tokens works. The head dimension is
 * at most {@link #MAX_HEAD_DIM} (the per-row accumulators are in local memory). Launch: global N*h*T*64,
 * local 64.
 *
 * <p>The backward runs in two passes so that no two work-groups write the same gradient row:
 * per query row (dQ, plus the row's log-sum-exp and D = dO.O saved in {@code stats}; the log-sum-exp
 * takes one sweep over the keys, dQ a second), then per key row (dK, dV), which recomputes the
 * probabilities from the saved statistics. Kernels stay flat: every reduction is written out where it
 * is used. Moved into static helpers that take the KernelContext and the local arrays (the scores of a
 * chunk with their max, a group sum), the same code gave wrong outputs and NaN on PoCL with TornadoVM 5.2
 * (session 10): TornadoVM indexes a local array that reached a method as a parameter by byte offset, past
 * its end (see {@link WorkGroup#sum}), which a chunk of 1,024 scores cannot survive.
 */
public final class AttentionKernels {
    private AttentionKernels() {}

    public static final int GROUP = 64;
    /** Rows of scores held in local memory at once. */
    public static final int CHUNK = 1024;
    /** Largest head dimension: the accumulators of one row (output, dQ, dK, dV) are local arrays of this size. */
    public static final int MAX_HEAD_DIM = 256;

    public static void forward(KernelContext ctx, FloatArray qkv, FloatArray out, int t, int heads, int dim, int hd, float scale) {
        float[] p = ctx.allocateFloatLocalArray(1024);
        float[] acc = ctx.allocateFloatLocalArray(256);
        float[] red = ctx.allocateFloatLocalArray(64);
        int g = ctx.groupIdx;
        int lid = ctx.localIdx;
        int i = g % t;
        int bh = g / t;
        int h = bh % heads;
        int b = bh / heads;
        int stride = 3 * dim;
        int qo = (b * t + i) * stride + h * hd;
        int kb = b * t * stride + dim + h * hd;
        int vb = kb + dim;
        for (int c = lid; c < hd; c += 64) {
            acc[c] = 0f;
        }
        float m = -3.4028235e38f;
        float l = 0f;
        for (int j0 = 0; j0 < t; j0 += 1024) {
            int n = TornadoMath.min(1024, t - j0);
            float mx = -3.4028235e38f;
            for (int j = lid; j < n; j += 64) {
                float s = 0f;
                for (int c = 0; c < hd; c++) {
                    s += qkv.get(qo + c) * qkv.get(kb + (j0 + j) * stride + c);
                }
                s = s * scale;
                p[j] = s;
                mx = TornadoMath.max(mx, s);
            }
            red[lid] = mx;
            ctx.localBarrier();
            for (int st = 32; st > 0; st >>= 1) {
                if (lid < st) {
                    red[lid] = TornadoMath.max(red[lid], red[lid + st]);
                }
                ctx.localBarrier();
            }
            float mNew = TornadoMath.max(m, red[0]);
            ctx.localBarrier();
            float alpha = TornadoMath.exp(m - mNew);
            float sum = 0f;
            for (int j = lid; j < n; j += 64) {
                float e = TornadoMath.exp(p[j] - mNew);
                p[j] = e;
                sum += e;
            }
            red[lid] = sum;
            ctx.localBarrier();
            for (int st = 32; st > 0; st >>= 1) {
                if (lid < st) {
                    red[lid] += red[lid + st];
                }
                ctx.localBarrier();
            }
            l = l * alpha + red[0];
            for (int c = lid; c < hd; c += 64) {
                float o = 0f;
                for (int j = 0; j < n; j++) {
                    o += p[j] * qkv.get(vb + (j0 + j) * stride + c);
                }
                acc[c] = acc[c] * alpha + o;
            }
            m = mNew;
            ctx.localBarrier();
        }
        float inv = 1f / l;
        int oo = (b * t + i) * dim + h * hd;
        for (int c = lid; c < hd; c += 64) {
            out.set(oo + c, acc[c] * inv);
        }
    }

    /**
     * Pass 1 of the backward, per query row: dQ += dS K (written from zero when accumulate is 0: the gradient's
     * first write); stats[2g] = lse, stats[2g+1] = dO.O.
     */
    public static void backwardQuery(KernelContext ctx, FloatArray qkv, FloatArray out, FloatArray gout, FloatArray gqkv, FloatArray stats,
                                     int t, int heads, int dim, int hd, float scale, int accumulate) {
        float[] p = ctx.allocateFloatLocalArray(1024);
        float[] acc = ctx.allocateFloatLocalArray(256);
        float[] red = ctx.allocateFloatLocalArray(64);
        int g = ctx.groupIdx;
        int lid = ctx.localIdx;
        int i = g % t;
        int bh = g / t;
        int h = bh % heads;
        int b = bh / heads;
        int stride = 3 * dim;
        int qo = (b * t + i) * stride + h * hd;
        int kb = b * t * stride + dim + h * hd;
        int vb = kb + dim;
        int oo = (b * t + i) * dim + h * hd;
        // sweep 1: the row's log-sum-exp, chunk by chunk (running max and rescaled sum)
        float m = -3.4028235e38f;
        float l = 0f;
        for (int j0 = 0; j0 < t; j0 += 1024) {
            int n = TornadoMath.min(1024, t - j0);
            float mx = -3.4028235e38f;
            for (int j = lid; j < n; j += 64) {
                float s = 0f;
                for (int c = 0; c < hd; c++) {
                    s += qkv.get(qo + c) * qkv.get(kb + (j0 + j) * stride + c);
                }
                s = s * scale;
                p[j] = s;
                mx = TornadoMath.max(mx, s);
            }
            red[lid] = mx;
            ctx.localBarrier();
            for (int st = 32; st > 0; st >>= 1) {
                if (lid < st) {
                    red[lid] = TornadoMath.max(red[lid], red[lid + st]);
                }
                ctx.localBarrier();
            }
            float mNew = TornadoMath.max(m, red[0]);
            ctx.localBarrier();
            float sum = 0f;
            for (int j = lid; j < n; j += 64) {
                sum += TornadoMath.exp(p[j] - mNew);
            }
            red[lid] = sum;
            ctx.localBarrier();
            for (int st = 32; st > 0; st >>= 1) {
                if (lid < st) {
                    red[lid] += red[lid + st];
                }
                ctx.localBarrier();
            }
            l = l * TornadoMath.exp(m - mNew) + red[0];
            m = mNew;
            ctx.localBarrier();
        }
        float lse = m + TornadoMath.log(l);
        float dpart = 0f;
        for (int c = lid; c < hd; c += 64) {
            dpart += gout.get(oo + c) * out.get(oo + c);
            acc[c] = 0f;
        }
        red[lid] = dpart;
        ctx.localBarrier();
        for (int st = 32; st > 0; st >>= 1) {
            if (lid < st) {
                red[lid] += red[lid + st];
            }
            ctx.localBarrier();
        }
        float di = red[0];
        ctx.localBarrier();
        // sweep 2: dS = P (dP - D) scale, chunk by chunk, into dQ
        for (int j0 = 0; j0 < t; j0 += 1024) {
            int n = TornadoMath.min(1024, t - j0);
            for (int j = lid; j < n; j += 64) {
                float s = 0f;
                float dp = 0f;
                for (int c = 0; c < hd; c++) {
                    s += qkv.get(qo + c) * qkv.get(kb + (j0 + j) * stride + c);
                    dp += gout.get(oo + c) * qkv.get(vb + (j0 + j) * stride + c);
                }
                float pj = TornadoMath.exp(s * scale - lse);
                p[j] = pj * (dp - di) * scale;
            }
            ctx.localBarrier();
            for (int c = lid; c < hd; c += 64) {
                float a = 0f;
                for (int j = 0; j < n; j++) {
                    a += p[j] * qkv.get(kb + (j0 + j) * stride + c);
                }
                acc[c] += a;
            }
            ctx.localBarrier();
        }
        for (int c = lid; c < hd; c += 64) {
            float base = accumulate != 0 ? gqkv.get(qo + c) : 0f;
            gqkv.set(qo + c, base + acc[c]);
        }
        if (lid == 0) {
            stats.set(2 * g, lse);
            stats.set(2 * g + 1, di);
        }
    }

    /** Pass 2 of the backward, per key row j: dK += dS^T Q, dV += P^T dO (written from zero when accumulate is 0). */
    public static void backwardKeyValue(KernelContext ctx, FloatArray qkv, FloatArray gout, FloatArray gqkv, FloatArray stats,
                                        int t, int heads, int dim, int hd, float scale, int accumulate) {
        float[] p = ctx.allocateFloatLocalArray(1024);
        float[] ds = ctx.allocateFloatLocalArray(1024);
        float[] dkAcc = ctx.allocateFloatLocalArray(256);
        float[] dvAcc = ctx.allocateFloatLocalArray(256);
        int g = ctx.groupIdx;
        int lid = ctx.localIdx;
        int j = g % t;
        int bh = g / t;
        int h = bh % heads;
        int b = bh / heads;
        int stride = 3 * dim;
        int ko = (b * t + j) * stride + dim + h * hd;
        int vo = ko + dim;
        for (int c = lid; c < hd; c += 64) {
            dkAcc[c] = 0f;
            dvAcc[c] = 0f;
        }
        for (int i0 = 0; i0 < t; i0 += 1024) {
            int n = TornadoMath.min(1024, t - i0);
            for (int r = lid; r < n; r += 64) {
                int i = i0 + r;
                int qi = (b * t + i) * stride + h * hd;
                int oi = (b * t + i) * dim + h * hd;
                float s = 0f;
                float dp = 0f;
                for (int c = 0; c < hd; c++) {
                    s += qkv.get(qi + c) * qkv.get(ko + c);
                    dp += gout.get(oi + c) * qkv.get(vo + c);
                }
                int si = 2 * (bh * t + i);
                float pij = TornadoMath.exp(s * scale - stats.get(si));
                p[r] = pij;
                ds[r] = pij * (dp - stats.get(si + 1)) * scale;
            }
            ctx.localBarrier();
            for (int c = lid; c < hd; c += 64) {
                float dk = 0f;
                float dv = 0f;
                for (int r = 0; r < n; r++) {
                    dk += ds[r] * qkv.get((b * t + i0 + r) * stride + h * hd + c);
                    dv += p[r] * gout.get((b * t + i0 + r) * dim + h * hd + c);
                }
                dkAcc[c] += dk;
                dvAcc[c] += dv;
            }
            ctx.localBarrier();
        }
        for (int c = lid; c < hd; c += 64) {
            float baseK = accumulate != 0 ? gqkv.get(ko + c) : 0f;
            float baseV = accumulate != 0 ? gqkv.get(vo + c) : 0f;
            gqkv.set(ko + c, baseK + dkAcc[c]);
            gqkv.set(vo + c, baseV + dvAcc[c]);
        }
    }

    // ---- attention as batched GEMMs (the CUDA backend's path: its products are cuBLAS calls) ----------------------
    // The layout of the CPU backend's attention: per (sample, head) slabs (T, d) of scale*Q, K and V; S = (scale Q) K^T;
    // P = exp(S - rowmax), O = P V scaled by 1/rowsum; the backward recomputes P from the saved log-sum-exp.
    // Slabs are (N*h, T, d) row-major: head h of sample b is slab b*h + h. Every kernel is one work-item per element
    // or per row.

    /** Where element x of a (N*T, D) row-major tensor goes in the (N*h, T, d) slabs. */
    private static int slabIndex(int x, int t, int heads, int dim, int hd) {
        int c = x % dim;
        int bi = x / dim;
        int i = bi % t;
        int b = bi / t;
        return ((b * heads + c / hd) * t + i) * hd + c % hd;
    }

    /** q, k, v slabs from packed qkv (N*T, 3D); q times {@code scale}. {@code total} = N*T*D. */
    public static void split(FloatArray qkv, FloatArray q, FloatArray k, FloatArray v, int total, int t, int heads, int dim, int hd, float scale) {
        for (@Parallel int x = 0; x < total; x++) {
            int dst = slabIndex(x, t, heads, dim, hd);
            int src = x / dim * 3 * dim + x % dim;
            q.set(dst, qkv.get(src) * scale);
            k.set(dst, qkv.get(src + dim));
            v.set(dst, qkv.get(src + 2 * dim));
        }
    }

    /**
     * The backward's gathers in one pass: {@link #split}'s q, k, v slabs, and the slabs of the output and of its gradient
     * (both (N*T, D)). {@code total} = N*T*D.
     */
    public static void splitForBackward(FloatArray qkv, FloatArray q, FloatArray k, FloatArray v, FloatArray out, FloatArray outSlabs, FloatArray gout,
                                        FloatArray goutSlabs, int total, int t, int heads, int dim, int hd, float scale) {
        for (@Parallel int x = 0; x < total; x++) {
            int dst = slabIndex(x, t, heads, dim, hd);
            int src = x / dim * 3 * dim + x % dim;
            q.set(dst, qkv.get(src) * scale);
            k.set(dst, qkv.get(src + dim));
            v.set(dst, qkv.get(src + 2 * dim));
            outSlabs.set(dst, out.get(x));
            goutSlabs.set(dst, gout.get(x));
        }
    }

    /**
     * Row r of the (N*h*T, T) scores: exp(s - rowmax) in place, lse[r] = its log-sum-exp, inv[r] = 1/sum. One work-group of
     * {@link RowKernels#GROUP} per row, so a warp reads consecutive scores (one thread per row read them a row apart). Launch:
     * global rows * RowKernels.GROUP, local RowKernels.GROUP.
     */
    public static void softmaxRows(KernelContext ctx, FloatArray p, FloatArray lse, FloatArray inv, int t) {
        int r = ctx.groupIdx;
        int lid = ctx.localIdx;
        int o = r * t;
        float m = -3.4028235e38f;
        for (int j = lid; j < t; j += RowKernels.GROUP) {
            m = TornadoMath.max(m, p.get(o + j));
        }
        m = WorkGroup.max(ctx, lid, RowKernels.GROUP, m);
        float sum = 0f;
        for (int j = lid; j < t; j += RowKernels.GROUP) {
            float e = TornadoMath.exp(p.get(o + j) - m);
            p.set(o + j, e);
            sum += e;
        }
        sum = WorkGroup.sum(ctx, lid, RowKernels.GROUP, sum);
        if (lid == 0) {
            lse.set(r, m + TornadoMath.log(sum));
            inv.set(r, 1f / sum);
        }
    }

    /** out (N*T, D) = the slabs of P V, each row times its 1/sum. {@code total} = N*T*D. */
    public static void gatherOutput(FloatArray o, FloatArray inv, FloatArray out, int total, int t, int heads, int dim, int hd) {
        for (@Parallel int x = 0; x < total; x++) {
            int c = x % dim;
            int bi = x / dim;
            int i = bi % t;
            int b = bi / t;
            int row = (b * heads + c / hd) * t + i;
            out.set(x, o.get(row * hd + c % hd) * inv.get(row));
        }
    }

    /** The probabilities again: each score becomes exp(s - lse of its row); {@code total} = rows * t, element-wise. */
    public static void expRows(FloatArray p, FloatArray lse, int total, int t) {
        for (@Parallel int x = 0; x < total; x++) {
            p.set(x, TornadoMath.exp(p.get(x) - lse.get(x / t)));
        }
    }

    /**
     * dS = P (dP - rowsum(dO O)) in place of dP, per row of the (N*h*T, T) scores; one work-group of {@link RowKernels#GROUP} per row
     * (as {@link #softmaxRows}). Launch: global rows * RowKernels.GROUP, local RowKernels.GROUP.
     */
    public static void scoreGradRows(KernelContext ctx, FloatArray p, FloatArray dp, FloatArray dout, FloatArray out, int t, int hd) {
        int r = ctx.groupIdx;
        int lid = ctx.localIdx;
        float di = 0f;
        for (int c = lid; c < hd; c += RowKernels.GROUP) {
            di += dout.get(r * hd + c) * out.get(r * hd + c);
        }
        di = WorkGroup.sum(ctx, lid, RowKernels.GROUP, di);
        int o = r * t;
        for (int j = lid; j < t; j += RowKernels.GROUP) {
            dp.set(o + j, p.get(o + j) * (dp.get(o + j) - di));
        }
    }

    /**
     * qkv's gradient (N*T, 3D) from the slabs of dQ (times {@code scale}), dK and dV; added to it when {@code accumulate}
     * is 1, else written. {@code total} = N*T*D.
     */
    public static void gradientToQkv(FloatArray dq, FloatArray dk, FloatArray dv, FloatArray gqkv, int total, int t, int heads, int dim, int hd,
                                     float scale, int accumulate) {
        for (@Parallel int x = 0; x < total; x++) {
            int c = x % dim;
            int bi = x / dim;
            int i = bi % t;
            int b = bi / t;
            int s = ((b * heads + c / hd) * t + i) * hd + c % hd;
            int dst = bi * 3 * dim + c;
            float gq = scale * dq.get(s);
            float gk = dk.get(s);
            float gv = dv.get(s);
            if (accumulate == 1) {
                gq += gqkv.get(dst);
                gk += gqkv.get(dst + dim);
                gv += gqkv.get(dst + 2 * dim);
            }
            gqkv.set(dst, gq);
            gqkv.set(dst + dim, gk);
            gqkv.set(dst + 2 * dim, gv);
        }
    }
}
