package erw.training.eval;

import erw.engine.cpu.Sgemm;
import erw.engine.host.WorkerPool;

/**
 * Improved precision and recall (Kynkaanniemi et al., NeurIPS 2019) in a feature space: each set's
 * manifold is the union of balls around its points whose radii reach each point's k-th nearest
 * neighbour in the same set. Precision is the fraction of generated points inside the real manifold
 * (how many samples look real), recall the fraction of real points inside the generated manifold
 * (how much of the data the samples cover). Euclidean distances, k = 3 as in the paper.
 */
public final class PrecisionRecall {
    public static final int K = 3;

    private PrecisionRecall() {}

    public record Result(double precision, double recall) {}

    /** {@code real} (nr x d) and {@code gen} (ng x d) row-major; both sets need more than k points. */
    public static Result compute(float[] real, int nr, float[] gen, int ng, int d, int k, WorkerPool pool) {
        if (nr <= k || ng <= k) throw new IllegalArgumentException("precision/recall needs more than k = " + k + " points per set, got " + nr + " and " + ng);
        float[][] rr = distances(real, nr, real, nr, d, pool), gg = distances(gen, ng, gen, ng, d, pool), rg = distances(real, nr, gen, ng, d, pool);
        double[] realRadius = kthNeighbour(rr, k), genRadius = kthNeighbour(gg, k);
        int inReal = 0, inGen = 0;
        for (int j = 0; j < ng; j++) {
            for (int i = 0; i < nr; i++) {
                if (rg[i][j] <= realRadius[i]) {
                    inReal++;
                    break;
                }
            }
        }
        for (int i = 0; i < nr; i++) {
            for (int j = 0; j < ng; j++) {
                if (rg[i][j] <= genRadius[j]) {
                    inGen++;
                    break;
                }
            }
        }
        return new Result(inReal / (double) ng, inGen / (double) nr);
    }

    /** Squared Euclidean distances (na x nb), from |a|^2 + |b|^2 - 2 a.b, clamped at 0. */
    static float[][] distances(float[] a, int na, float[] b, int nb, int d, WorkerPool pool) {
        float[] dot = new float[na * nb];
        Sgemm.gemm(pool, false, true, na, nb, d, a, 0, b, 0, dot, 0, false);
        double[] sa = norms(a, na, d), sb = norms(b, nb, d);
        float[][] out = new float[na][nb];
        for (int i = 0; i < na; i++) {
            for (int j = 0; j < nb; j++) out[i][j] = (float) Math.max(0, sa[i] + sb[j] - 2.0 * dot[i * nb + j]);
        }
        return out;
    }

    private static double[] norms(float[] x, int n, int d) {
        double[] s = new double[n];
        for (int i = 0; i < n; i++) {
            double acc = 0;
            for (int c = 0; c < d; c++) acc += (double) x[i * d + c] * x[i * d + c];
            s[i] = acc;
        }
        return s;
    }

    /** Per row, the k-th smallest distance to another point of the same set (the point itself excluded). */
    private static double[] kthNeighbour(float[][] self, int k) {
        double[] r = new double[self.length];
        for (int i = 0; i < self.length; i++) {
            float[] row = self[i].clone();
            row[i] = Float.POSITIVE_INFINITY;
            java.util.Arrays.sort(row);
            r[i] = row[k - 1];
        }
        return r;
    }
}
