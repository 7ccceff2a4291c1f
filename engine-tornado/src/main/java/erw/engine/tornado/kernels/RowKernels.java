package erw.engine.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * Row-wise kernels (LayerNorm, softmax, cross-entropy): one work-group of {@link #GROUP} (128) per row, row sums by
 * a local-memory tree. Launch: global rows*GROUP, local GROUP.
 */
public final class RowKernels {
    private RowKernels() {}

    public static final int GROUP = 128;

    /** The mean of x[o .. o + d) over the work-group. */
    private static float rowMean(KernelContext ctx, int lid, FloatArray x, int o, int d) {
        float s = 0f;
        for (int i = lid; i < d; i += GROUP) {
            s += x.get(o + i);
        }
        return WorkGroup.sum(ctx, lid, GROUP, s) / d;
    }

    /** The biased variance of x[o .. o + d) about {@code mu} over the work-group (two passes: no cancellation). */
    private static float rowVariance(KernelContext ctx, int lid, FloatArray x, int o, int d, float mu) {
        float v = 0f;
        for (int i = lid; i < d; i += GROUP) {
            float t = x.get(o + i) - mu;
            v += t * t;
        }
        return WorkGroup.sum(ctx, lid, GROUP, v) / d;
    }

    /** stats[2r] = mean, stats[2r+1] = 1/sqrt(var + eps) of row r (width d). */
    public static void layerNormStats(KernelContext ctx, FloatArray x, FloatArray stats, int d, float eps) {
        int row = ctx.groupIdx;
        int lid = ctx.localIdx;
        int o = row * d;
        float mu = rowMean(ctx, lid, x, o, d);
        float var = rowVariance(ctx, lid, x, o, d, mu);
        if (lid == 0) {
            stats.set(2 * row, mu);
            stats.set(2 * row + 1, 1f / TornadoMath.sqrt(var + eps));
        }
    }

    /**
     * LayerNorm of row r in one work-group: mean and 1/sqrt(var + eps) as {@link #layerNormStats} computes them (saved for the
     * backward), then out = (x - mean) * rstd [* w + b] (element-wise): one task and one read of the row
     * from memory instead of two tasks and two.
     */
    public static void layerNormForward(KernelContext ctx, FloatArray x, FloatArray w, FloatArray b, FloatArray out, FloatArray mean, FloatArray rstd,
                                        int affine, int d, float eps) {
        int row = ctx.groupIdx;
        int lid = ctx.localIdx;
        int o = row * d;
        float mu = rowMean(ctx, lid, x, o, d);
        float var = rowVariance(ctx, lid, x, o, d, mu);
        float rs = 1f / TornadoMath.sqrt(var + eps);
        for (int i = lid; i < d; i += GROUP) {
            float y = (x.get(o + i) - mu) * rs;
            if (affine == 1) {
                y = y * w.get(i) + b.get(i);
            }
            out.set(o + i, y);
        }
        if (lid == 0) {
            mean.set(row, mu);
            rstd.set(row, rs);
        }
    }

    /** gx += rstd * (gi - mean(gi) - xhat * mean(gi * xhat)), gi = g [* w]; mean and rstd saved by the forward. */
    public static void layerNormBackwardInput(KernelContext ctx, FloatArray x, FloatArray mean, FloatArray rstd, FloatArray w, FloatArray g, FloatArray gx, int affine, int d) {
        float[] b1 = ctx.allocateFloatLocalArray(GROUP);
        float[] b2 = ctx.allocateFloatLocalArray(GROUP);
        int row = ctx.groupIdx;
        int lid = ctx.localIdx;
        int o = row * d;
        float m = mean.get(row);
        float rs = rstd.get(row);
        float sg = 0f;
        float sgx = 0f;
        for (int i = lid; i < d; i += GROUP) {
            float gi = g.get(o + i);
            if (affine == 1) {
                gi = gi * w.get(i);
            }
            float xh = (x.get(o + i) - m) * rs;
            sg += gi;
            sgx += gi * xh;
        }
        b1[lid] = sg;
        b2[lid] = sgx;
        ctx.localBarrier();
        for (int st = GROUP / 2; st > 0; st >>= 1) {
            if (lid < st) {
                b1[lid] += b1[lid + st];
                b2[lid] += b2[lid + st];
            }
            ctx.localBarrier();
        }
        float mg = b1[0] / d;
        float mgx = b2[0] / d;
        for (int i = lid; i < d; i += GROUP) {
            float gi = g.get(o + i);
            if (affine == 1) {
                gi = gi * w.get(i);
            }
            float xh = (x.get(o + i) - m) * rs;
            gx.set(o + i, gx.get(o + i) + rs * (gi - mg - xh * mgx));
        }
    }

    /**
     * gw[c] += sum_r g * xhat, gb[c] += sum_r g. Launch: global (ceil(d/16)*16, 16), local (16, 16).
     */
    public static void layerNormBackwardAffine(KernelContext ctx, FloatArray x, FloatArray mean, FloatArray rstd, FloatArray g, FloatArray gw, FloatArray gb,
                                               int useW, int useB, int rows, int d) {
        float[] aw = ctx.allocateFloatLocalArray(256);
        float[] ab = ctx.allocateFloatLocalArray(256);
        int lx = ctx.localIdx;
        int ly = ctx.localIdy;
        int c = ctx.groupIdx * 16 + lx;
        float sw = 0f;
        float sb = 0f;
        if (c < d) {
            for (int r = ly; r < rows; r += 16) {
                float gi = g.get(r * d + c);
                sw += gi * (x.get(r * d + c) - mean.get(r)) * rstd.get(r);
                sb += gi;
            }
        }
        aw[ly * 16 + lx] = sw;
        ab[ly * 16 + lx] = sb;
        ctx.localBarrier();
        for (int st = 8; st > 0; st >>= 1) {
            if (ly < st) {
                aw[ly * 16 + lx] += aw[(ly + st) * 16 + lx];
                ab[ly * 16 + lx] += ab[(ly + st) * 16 + lx];
            }
            ctx.localBarrier();
        }
        if (ly == 0 && c < d) {
            if (useW == 1) {
                gw.set(c, gw.get(c) + aw[lx]);
            }
            if (useB == 1) {
                gb.set(c, gb.get(c) + ab[lx]);
            }
        }
    }

    public static void softmax(KernelContext ctx, FloatArray x, FloatArray out, int c) {
        int row = ctx.groupIdx;
        int lid = ctx.localIdx;
        int o = row * c;
        float m = -3.4028235e38f;
        for (int i = lid; i < c; i += GROUP) {
            m = TornadoMath.max(m, x.get(o + i));
        }
        float mx = WorkGroup.max(ctx, lid, GROUP, m);
        float s = 0f;
        for (int i = lid; i < c; i += GROUP) {
            float e = TornadoMath.exp(x.get(o + i) - mx);
            out.set(o + i, e);
            s += e;
        }
        float inv = 1f / WorkGroup.sum(ctx, lid, GROUP, s);
        for (int i = lid; i < c; i += GROUP) {
            out.set(o + i, out.get(o + i) * inv);
        }
    }

    /** gx += y * (g - sum(g * y)). */
    public static void softmaxBackward(KernelContext ctx, FloatArray y, FloatArray g, FloatArray gx, int c) {
        int row = ctx.groupIdx;
        int lid = ctx.localIdx;
        int o = row * c;
        float s = 0f;
        for (int i = lid; i < c; i += GROUP) {
            s += g.get(o + i) * y.get(o + i);
        }
        float dot = WorkGroup.sum(ctx, lid, GROUP, s);
        for (int i = lid; i < c; i += GROUP) {
            gx.set(o + i, gx.get(o + i) + y.get(o + i) * (g.get(o + i) - dot));
        }
    }

    /** Per row of logits (k classes): lse[r] and loss[r] = lse - l[label]. One work-item per row. */
    public static void crossEntropyRows(FloatArray logits, FloatArray labels, FloatArray lse, FloatArray loss, int rows, int k) {
        for (@Parallel int r = 0; r < rows; r++) {
            int o = r * k;
            float m = -3.4028235e38f;
            for (int c = 0; c < k; c++) {
                m = TornadoMath.max(m, logits.get(o + c));
            }
            float s = 0f;
            for (int c = 0; c < k; c++) {
                s += TornadoMath.exp(logits.get(o + c) - m);
            }
            float l = m + TornadoMath.log(s);
            lse.set(r, l);
            int y = (int) labels.get(r);
            loss.set(r, l - logits.get(o + y));
        }
    }

    /** gl += gout[0] / rows * (softmax - onehot(label)). */
    public static void crossEntropyBackward(FloatArray logits, FloatArray labels, FloatArray lse, FloatArray gout, FloatArray gl, int rows, int k) {
        for (@Parallel int i = 0; i < rows * k; i++) {
            int r = i / k;
            int c = i % k;
            float g = gout.get(0) / rows;
            float p = TornadoMath.exp(logits.get(i) - lse.get(r));
            int y = (int) labels.get(r);
            float hot = c == y ? 1f : 0f;
            gl.set(i, gl.get(i) + g * (p - hot));
        }
    }
}
