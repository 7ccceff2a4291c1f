package erw.engine.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * Alignment losses: row statistics of the cosine loss and the NT-Xent logits/log-sum-exps and
 * gradient. The scalar totals are finished by {@link ReduceKernels#reduce}.
 */
public final class LossKernels {
    private LossKernels() {}

    /**
     * Per row r: cos[r] = cos(z_r, y_r), norms[2r] = |z_r|, norms[2r+1] = |y_r| (norms clamped at 1e-12). One work-group of
     * {@link RowKernels#GROUP} per row, so a warp reads consecutive elements. Launch: global rows * RowKernels.GROUP, local RowKernels.GROUP.
     */
    public static void rowCosine(KernelContext ctx, FloatArray z, FloatArray y, FloatArray cos, FloatArray norms, int width) {
        int r = ctx.groupIdx;
        int lid = ctx.localIdx;
        int o = r * width;
        float zz = 0f;
        float yy = 0f;
        float zy = 0f;
        for (int c = lid; c < width; c += RowKernels.GROUP) {
            float a = z.get(o + c);
            float b = y.get(o + c);
            zz += a * a;
            yy += b * b;
            zy += a * b;
        }
        zz = WorkGroup.sum(ctx, lid, RowKernels.GROUP, zz);
        yy = WorkGroup.sum(ctx, lid, RowKernels.GROUP, yy);
        zy = WorkGroup.sum(ctx, lid, RowKernels.GROUP, zy);
        if (lid == 0) {
            float zn = TornadoMath.max(TornadoMath.sqrt(zz), 1e-12f);
            float yn = TornadoMath.max(TornadoMath.sqrt(yy), 1e-12f);
            cos.set(r, zy / (zn * yn));
            norms.set(2 * r, zn);
            norms.set(2 * r + 1, yn);
        }
    }

    /** Cosine loss gradient: g = -gout[0]/rows; gz += g/(|z||y|) y - g cos/|z|^2 z. */
    public static void cosineBackward(FloatArray z, FloatArray y, FloatArray cos, FloatArray norms, FloatArray gout, FloatArray gz, int rows, int width) {
        for (@Parallel int i = 0; i < rows * width; i++) {
            int r = i / width;
            float g = -gout.get(0) / rows;
            float zn = norms.get(2 * r);
            float a = g / (zn * norms.get(2 * r + 1));
            float b = -g * cos.get(r) / (zn * zn);
            gz.set(i, gz.get(i) + a * y.get(i) + b * z.get(i));
        }
    }

    /** Weighted row cosines (cosine_align with per-sample weights): out[r] = w[r / rowsPerWeight] * cos[r]. */
    public static void weightRows(FloatArray cos, FloatArray w, FloatArray out, int rows, int rowsPerWeight) {
        for (@Parallel int r = 0; r < rows; r++) {
            out.set(r, w.get(r / rowsPerWeight) * cos.get(r));
        }
    }

    /**
     * Weighted cosine loss gradient: as {@link #cosineBackward} with row r's g scaled by its sample's
     * weight, g = (-gout[0]/rows) * w[r / rowsPerWeight].
     */
    public static void cosineBackwardWeighted(FloatArray z, FloatArray y, FloatArray cos, FloatArray norms, FloatArray gout, FloatArray w, FloatArray gz,
                                              int rows, int width, int rowsPerWeight) {
        for (@Parallel int i = 0; i < rows * width; i++) {
            int r = i / width;
            float g0 = -gout.get(0) / rows;
            float g = g0 * w.get(r / rowsPerWeight);
            float zn = norms.get(2 * r);
            float a = g / (zn * norms.get(2 * r + 1));
            float b = -g * cos.get(r) / (zn * zn);
            gz.set(i, gz.get(i) + a * y.get(i) + b * z.get(i));
        }
    }

    /** NT-Xent logits per token j: logits[(j n + a) n + b] = cos(z_{a,j}, y_{b,j}) / tau; rows (N, T, Z). */
    public static void ntxentLogits(FloatArray z, FloatArray y, FloatArray norms, FloatArray logits, int n, int t, int width, float invTau) {
        for (@Parallel int e = 0; e < t * n * n; e++) {
            int j = e / (n * n);
            int a = (e / n) % n;
            int b = e % n;
            int ra = a * t + j;
            int rb = b * t + j;
            float s = 0f;
            for (int c = 0; c < width; c++) {
                s += z.get(ra * width + c) * y.get(rb * width + c);
            }
            logits.set(e, s / (norms.get(2 * ra) * norms.get(2 * rb + 1)) * invTau);
        }
    }

    /**
     * Per (j, a): row and column log-sum-exp of the logits of token j, and the cross-entropy of
     * the diagonal (averaged with the column one when symmetric) in loss[j n + a].
     */
    public static void ntxentRows(FloatArray logits, FloatArray lse, FloatArray loss, int n, int t, int symmetric) {
        for (@Parallel int e = 0; e < t * n; e++) {
            int j = e / n;
            int a = e % n;
            int base = j * n * n;
            float mr = -3.4028235e38f;
            float mc = -3.4028235e38f;
            for (int b = 0; b < n; b++) {
                mr = TornadoMath.max(mr, logits.get(base + a * n + b));
                mc = TornadoMath.max(mc, logits.get(base + b * n + a));
            }
            float sr = 0f;
            float sc = 0f;
            for (int b = 0; b < n; b++) {
                sr += TornadoMath.exp(logits.get(base + a * n + b) - mr);
                sc += TornadoMath.exp(logits.get(base + b * n + a) - mc);
            }
            float lr = mr + TornadoMath.log(sr);
            float lc = mc + TornadoMath.log(sc);
            lse.set(2 * e, lr);
            lse.set(2 * e + 1, lc);
            float diag = logits.get(base + a * n + a);
            float ce = lr - diag;
            if (symmetric == 1) {
                ce = 0.5f * (ce + lc - diag);
            }
            loss.set(e, ce);
        }
    }

    /** NT-Xent gradient for row (a, j) of z: through the normalisation of z. */
    public static void ntxentBackward(FloatArray z, FloatArray y, FloatArray norms, FloatArray logits, FloatArray lse, FloatArray gout, FloatArray gz,
                                      int n, int t, int width, float invTau, int symmetric) {
        for (@Parallel int e = 0; e < n * t; e++) {
            int a = e / t;
            int j = e % t;
            int ra = a * t + j;
            float g = gout.get(0) / (n * t);
            float k = symmetric == 1 ? 0.5f * g : g;
            int base = j * n * n;
            float zn = norms.get(2 * ra);
            float proj = 0f;
            for (int c = 0; c < width; c++) {
                float du = 0f;
                for (int b = 0; b < n; b++) {
                    float dl = ntxentDl(logits, lse, base, j, n, a, b, k, symmetric);
                    int rb = b * t + j;
                    du += dl * invTau * y.get(rb * width + c) / norms.get(2 * rb + 1);
                }
                proj += du * z.get(ra * width + c) / zn;
            }
            for (int c = 0; c < width; c++) {
                float du = 0f;
                for (int b = 0; b < n; b++) {
                    float dl = ntxentDl(logits, lse, base, j, n, a, b, k, symmetric);
                    int rb = b * t + j;
                    du += dl * invTau * y.get(rb * width + c) / norms.get(2 * rb + 1);
                }
                float u = z.get(ra * width + c) / zn;
                gz.set(ra * width + c, gz.get(ra * width + c) + (du - proj * u) / zn);
            }
        }
    }

    private static float ntxentDl(FloatArray logits, FloatArray lse, int base, int j, int n, int a, int b, float k, int symmetric) {
        float l = logits.get(base + a * n + b);
        float hot = a == b ? 1f : 0f;
        float dl = k * (TornadoMath.exp(l - lse.get(2 * (j * n + a))) - hot);
        if (symmetric == 1) {
            dl += k * (TornadoMath.exp(l - lse.get(2 * (j * n + b) + 1)) - hot);
        }
        return dl;
    }
}
