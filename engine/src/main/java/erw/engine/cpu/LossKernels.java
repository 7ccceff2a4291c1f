package erw.engine.cpu;

import erw.engine.Tensor;
import erw.engine.host.WorkerPool;
import erw.engine.ops.CosineAlignLoss;
import erw.engine.ops.L2Norm;
import erw.engine.ops.Mean;
import erw.engine.ops.MseLoss;
import erw.engine.ops.NtXentLoss;
import erw.engine.ops.Sum;
import java.util.List;

/**
 * CPU kernels of the losses and reductions to a scalar (mse, cosine_align, ntxent_align, sum, mean,
 * l2norm), forward and backward side by side. Sums are blocked and in double, so they are deterministic.
 */
final class LossKernels {
    private LossKernels() {}

    // ---- mse -----------------------------------------------------------------------------------

    static void mseForward(MseLoss op, WorkerPool pool) {
        float[] a = op.pred().data(), b = op.target().data();
        double s = Reduce.sum(pool, a.length, (lo, hi) -> {
            double acc = 0;
            for (int i = lo; i < hi; i++) {
                double d = a[i] - b[i];
                acc += d * d;
            }
            return acc;
        });
        op.out().data()[0] = (float) (s / a.length);
    }

    static void mseBackward(MseLoss op, WorkerPool pool) {
        Tensor pred = op.pred(), target = op.target();
        float[] a = pred.data(), b = target.data();
        float k = 2f * op.out().grad()[0] / a.length;
        float[] ga = pred.requiresGrad() ? pred.grad() : null, gb = target.requiresGrad() ? target.grad() : null;
        pool.parallelFor(a.length, 4096, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                float g = k * (a[i] - b[i]);
                if (ga != null) ga[i] += g;
                if (gb != null) gb[i] -= g;
            }
        });
    }

    // ---- cosine_align: row cosines and norms saved for the backward -----------------------------

    static void cosineForward(CosineAlignLoss op, WorkerPool pool) {
        int rows = op.rows(), width = op.width();
        float[] zd = op.z().data(), yd = op.y().data(), cos = op.cos().data(), zNorm = op.zNorm().data(), yNorm = op.yNorm().data();
        pool.parallelFor(rows, 16, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int o = r * width;
                float zn = Math.max((float) Math.sqrt(Vec.dot(zd, o, zd, o, width)), CosineAlignLoss.EPS);
                float yn = Math.max((float) Math.sqrt(Vec.dot(yd, o, yd, o, width)), CosineAlignLoss.EPS);
                zNorm[r] = zn;
                yNorm[r] = yn;
                cos[r] = Vec.dot(zd, o, yd, o, width) / (zn * yn);
            }
        });
        double s = 0;
        if (op.weights() == null) {
            for (int r = 0; r < rows; r++) s += cos[r];
        } else {
            float[] w = op.weights().data();
            int per = op.rowsPerWeight();
            for (int r = 0; r < rows; r++) s += w[r / per] * cos[r];
        }
        op.out().data()[0] = (float) (-s / rows);
    }

    static void cosineBackward(CosineAlignLoss op, WorkerPool pool) {
        Tensor z = op.z();
        if (!z.requiresGrad()) return;
        int rows = op.rows(), width = op.width();
        float[] zd = z.data(), yd = op.y().data(), gz = z.grad(), cos = op.cos().data(), zNorm = op.zNorm().data(), yNorm = op.yNorm().data();
        float g0 = -op.out().grad()[0] / rows;
        float[] w = op.weights() == null ? null : op.weights().data();
        int per = op.rowsPerWeight();
        pool.parallelFor(rows, 16, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int o = r * width;
                float g = w == null ? g0 : g0 * w[r / per];
                float a = g / (zNorm[r] * yNorm[r]);
                float b = -g * cos[r] / (zNorm[r] * zNorm[r]);
                for (int c = 0; c < width; c++) gz[o + c] += a * yd[o + c] + b * zd[o + c];
            }
        });
    }

    // ---- ntxent_align: the backward recomputes the logits -----------------------------------------

    /** Normalized rows of token j: u (N, Z), w (N, Z), norms of z in zn. Returns logits (N, N). */
    private static float[] logits(NtXentLoss op, int j, float[] u, float[] w, float[] zn) {
        int n = op.n(), t = op.t(), width = op.width();
        float tau = op.tau();
        float[] zd = op.z().data(), yd = op.y().data();
        for (int a = 0; a < n; a++) {
            int o = (a * t + j) * width;
            float nz = Math.max((float) Math.sqrt(Vec.dot(zd, o, zd, o, width)), NtXentLoss.EPS);
            float ny = Math.max((float) Math.sqrt(Vec.dot(yd, o, yd, o, width)), NtXentLoss.EPS);
            zn[a] = nz;
            for (int c = 0; c < width; c++) {
                u[a * width + c] = zd[o + c] / nz;
                w[a * width + c] = yd[o + c] / ny;
            }
        }
        float[] l = new float[n * n];
        for (int a = 0; a < n; a++) {
            for (int b = 0; b < n; b++) l[a * n + b] = Vec.dot(u, a * width, w, b * width, width) / tau;
        }
        return l;
    }

    /** Softmax over rows (dim 1) of logits, or over columns when byColumn; returns the CE sum of the diagonal. */
    private static double softmax(int n, float[] l, float[] p, boolean byColumn) {
        double ce = 0;
        for (int a = 0; a < n; a++) {
            float m = Float.NEGATIVE_INFINITY;
            for (int b = 0; b < n; b++) m = Math.max(m, byColumn ? l[b * n + a] : l[a * n + b]);
            double s = 0;
            for (int b = 0; b < n; b++) s += Math.exp((byColumn ? l[b * n + a] : l[a * n + b]) - m);
            double lse = m + Math.log(s);
            for (int b = 0; b < n; b++) {
                int idx = byColumn ? b * n + a : a * n + b;
                p[idx] = (float) Math.exp(l[idx] - lse);
            }
            ce += lse - l[a * n + a];
        }
        return ce;
    }

    static void ntxentForward(NtXentLoss op, WorkerPool pool) {
        int n = op.n(), t = op.t(), width = op.width();
        boolean symmetric = op.symmetric();
        float[] perToken = new float[t];
        pool.parallelFor(t, (lo, hi) -> {
            float[] u = new float[n * width], w = new float[n * width], zn = new float[n], p = new float[n * n];
            for (int j = lo; j < hi; j++) {
                float[] l = logits(op, j, u, w, zn);
                double ce = softmax(n, l, p, false);
                if (symmetric) ce = 0.5 * (ce + softmax(n, l, p, true));
                perToken[j] = (float) ce;
            }
        });
        double s = 0;
        for (int j = 0; j < t; j++) s += perToken[j];
        op.out().data()[0] = (float) (s / ((double) n * t));
    }

    static void ntxentBackward(NtXentLoss op, WorkerPool pool) {
        Tensor z = op.z();
        if (!z.requiresGrad()) return;
        int n = op.n(), t = op.t(), width = op.width();
        float tau = op.tau();
        boolean symmetric = op.symmetric();
        float[] gz = z.grad();
        float g = op.out().grad()[0] / ((float) n * t);
        pool.parallelFor(t, (lo, hi) -> {
            float[] u = new float[n * width], w = new float[n * width], zn = new float[n], p = new float[n * n];
            float[] dl = new float[n * n], du = new float[width];
            for (int j = lo; j < hi; j++) {
                float[] l = logits(op, j, u, w, zn);
                softmax(n, l, p, false);
                float k = symmetric ? 0.5f * g : g;
                for (int a = 0; a < n; a++) for (int b = 0; b < n; b++) dl[a * n + b] = k * (p[a * n + b] - (a == b ? 1f : 0f));
                if (symmetric) {
                    softmax(n, l, p, true);
                    for (int a = 0; a < n; a++) for (int b = 0; b < n; b++) dl[a * n + b] += k * (p[a * n + b] - (a == b ? 1f : 0f));
                }
                for (int a = 0; a < n; a++) {
                    java.util.Arrays.fill(du, 0f);
                    for (int b = 0; b < n; b++) Vec.axpy(dl[a * n + b] / tau, w, b * width, du, 0, width);
                    float proj = Vec.dot(du, 0, u, a * width, width);
                    int o = (a * t + j) * width;
                    float inv = 1f / zn[a];
                    for (int c = 0; c < width; c++) gz[o + c] += (du[c] - proj * u[a * width + c]) * inv;
                }
            }
        });
    }

    // ---- sum, mean, l2norm ---------------------------------------------------------------------

    private static double blockSum(WorkerPool pool, float[] d) {
        return Reduce.sum(pool, d.length, (lo, hi) -> {
            double acc = 0;
            for (int i = lo; i < hi; i++) acc += d[i];
            return acc;
        });
    }

    static void sumForward(Sum op, WorkerPool pool) {
        double s = 0;
        s += blockSum(pool, op.x().data());
        op.out().data()[0] = (float) s;
    }

    static void meanForward(Mean op, WorkerPool pool) {
        double s = 0;
        s += blockSum(pool, op.x().data());
        op.out().data()[0] = (float) (s / op.x().size());
    }

    static void l2normForward(L2Norm op, WorkerPool pool) {
        double s = 0;
        for (Tensor x : op.xs()) s += Reduce.sumSquares(pool, x.data());
        op.out().data()[0] = (float) Math.sqrt(s);
    }

    /** gx += k (sum, mean) or gx += k x (l2norm) for every input that wants a gradient. */
    private static void reductionBackward(List<Tensor> xs, float k, boolean l2, WorkerPool pool) {
        for (Tensor x : xs) {
            if (!x.requiresGrad()) continue;
            float[] d = x.data(), gx = x.grad();
            pool.parallelFor(d.length, 4096, (lo, hi) -> {
                if (l2) for (int i = lo; i < hi; i++) gx[i] += k * d[i];
                else for (int i = lo; i < hi; i++) gx[i] += k;
            });
        }
    }

    static void sumBackward(Sum op, WorkerPool pool) {
        reductionBackward(op.inputs(), op.out().grad()[0], false, pool);
    }

    static void meanBackward(Mean op, WorkerPool pool) {
        reductionBackward(op.inputs(), op.out().grad()[0] / op.x().size(), false, pool);
    }

    static void l2normBackward(L2Norm op, WorkerPool pool) {
        Tensor out = op.out();
        float g = out.grad()[0];
        reductionBackward(op.xs(), out.data()[0] > 0 ? g / out.data()[0] : 0f, true, pool);
    }
}
