package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.Vec;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/**
 * NT-Xent alignment loss (SPEC section 3), per token position j: u_n = z_{n,j}/|z_{n,j}|,
 * w_m = y_{m,j}/|y_{m,j}|, logits_nm = u_n.w_m / tau; loss = mean over n and j of the cross-entropy
 * of row n with its positive on the diagonal (the other N-1 samples of the batch are negatives).
 * Symmetric: averaged with the same loss on the transposed logits. z and y are (N, T, Z); the
 * gradient flows to z.
 */
public final class NtXentLoss extends Op {
    private static final float EPS = 1e-12f;
    private final Tensor z, y, out;
    private final int n, t, width;
    private final float tau;
    private final boolean symmetric;
    private final float[] perToken;

    public NtXentLoss(String name, Tensor z, Tensor y, int batch, float tau, boolean symmetric, Tensor out) {
        super(name);
        this.z = z;
        this.y = y;
        this.out = out;
        this.n = batch;
        this.tau = tau;
        this.symmetric = symmetric;
        if (z.size() != y.size() || z.cols() != y.cols()) throw shapeError(type(), name, "projector tokens and targets must have the same shape", z, y);
        if (z.rows() % batch != 0) throw shapeError(type(), name, "rows must be batch " + batch + " x tokens", z);
        if (out.size() != 1) throw shapeError(type(), name, "output must be a scalar", out);
        if (!(tau > 0)) throw shapeError(type(), name, "temperature must be > 0, got " + tau, z);
        this.t = z.rows() / batch;
        this.width = z.cols();
        this.perToken = new float[t];
    }

    @Override public String type() { return "ntxent_align"; }
    @Override public List<Tensor> inputs() { return List.of(z, y); }
    @Override public List<Tensor> outputs() { return List.of(out); }

    /** Normalized rows of token j: u (N, Z), w (N, Z), norms of z in zn. Returns logits (N, N). */
    private float[] logits(int j, float[] u, float[] w, float[] zn) {
        float[] zd = z.data(), yd = y.data();
        for (int a = 0; a < n; a++) {
            int o = (a * t + j) * width;
            float nz = Math.max((float) Math.sqrt(Vec.dot(zd, o, zd, o, width)), EPS);
            float ny = Math.max((float) Math.sqrt(Vec.dot(yd, o, yd, o, width)), EPS);
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
    private double softmax(float[] l, float[] p, boolean byColumn) {
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

    @Override
    public void forward(WorkerPool pool) {
        pool.parallelFor(t, (lo, hi) -> {
            float[] u = new float[n * width], w = new float[n * width], zn = new float[n], p = new float[n * n];
            for (int j = lo; j < hi; j++) {
                float[] l = logits(j, u, w, zn);
                double ce = softmax(l, p, false);
                if (symmetric) ce = 0.5 * (ce + softmax(l, p, true));
                perToken[j] = (float) ce;
            }
        });
        double s = 0;
        for (int j = 0; j < t; j++) s += perToken[j];
        out.data()[0] = (float) (s / ((double) n * t));
    }

    @Override
    public void backward(WorkerPool pool) {
        if (!z.requiresGrad()) return;
        float[] gz = z.grad();
        float g = out.grad()[0] / ((float) n * t);
        pool.parallelFor(t, (lo, hi) -> {
            float[] u = new float[n * width], w = new float[n * width], zn = new float[n], p = new float[n * n];
            float[] dl = new float[n * n], du = new float[width];
            for (int j = lo; j < hi; j++) {
                float[] l = logits(j, u, w, zn);
                softmax(l, p, false);
                float k = symmetric ? 0.5f * g : g;
                for (int a = 0; a < n; a++) for (int b = 0; b < n; b++) dl[a * n + b] = k * (p[a * n + b] - (a == b ? 1f : 0f));
                if (symmetric) {
                    softmax(l, p, true);
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
}
