package erw.training.eval;

/**
 * CKNNA (Huh et al. 2024, "The Platonic Representation Hypothesis"; used by REPA and ERW): centered
 * kernel alignment restricted to pairs that are mutual k-nearest neighbours in both
 * representations. Rows are L2-normalised, kernels are linear (cosine similarities), HSIC is the
 * unbiased estimator, and CKNNA = HSIC_k(K, L) / sqrt(HSIC_k(K, K) HSIC_k(L, L)), exactly as the
 * reference implementation's {@code cknna(..., unbiased=True)}.
 */
public final class Cknna {
    private Cknna() {}

    /**
     * @param a  (n, da) row-major features of the first representation
     * @param b  (n, db) row-major features of the second, same rows (images)
     * @param k  neighbours per row (10 in the papers)
     */
    public static double of(float[] a, int da, float[] b, int db, int n, int k) {
        if (a.length != (long) n * da || b.length != (long) n * db) {
            throw new IllegalArgumentException("CKNNA: features hold " + a.length + " and " + b.length + " values, expected " + n + " x " + da + " and " + n + " x " + db);
        }
        if (n < 4 || k < 1 || k >= n) throw new IllegalArgumentException("CKNNA needs n >= 4 rows and 1 <= k < n, got n " + n + ", k " + k);
        double[][] kk = gram(a, n, da), ll = gram(b, n, db);
        boolean[][] nk = neighbours(kk, k), nl = neighbours(ll, k);
        double kl = hsic(kk, ll, nk, nl), kself = hsic(kk, kk, nk, nk), lself = hsic(ll, ll, nl, nl);
        return kl / (Math.sqrt(kself * lself) + 1e-6);
    }

    /** Cosine-similarity matrix of the rows. */
    static double[][] gram(float[] x, int n, int d) {
        double[][] u = new double[n][d];
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < d; j++) s += (double) x[i * d + j] * x[i * d + j];
            double inv = 1 / Math.max(Math.sqrt(s), 1e-12);
            for (int j = 0; j < d; j++) u[i][j] = x[i * d + j] * inv;
        }
        double[][] g = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) {
                double s = 0;
                for (int c = 0; c < d; c++) s += u[i][c] * u[j][c];
                g[i][j] = s;
                g[j][i] = s;
            }
        }
        return g;
    }

    /** Row i's k most similar other rows (the diagonal excluded; ties to the lower index). */
    static boolean[][] neighbours(double[][] g, int k) {
        int n = g.length;
        boolean[][] m = new boolean[n][n];
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            final double[] row = g[i];
            final int self = i;
            for (int j = 0; j < n; j++) order[j] = j;
            java.util.Arrays.sort(order, (p, q) -> p == self ? 1 : q == self ? -1 : Double.compare(row[q], row[p]));
            for (int r = 0; r < k; r++) m[i][order[r]] = true;
        }
        return m;
    }

    /** Unbiased HSIC of the kernels masked to pairs that are neighbours in both masks. */
    static double hsic(double[][] kf, double[][] lf, boolean[][] mk, boolean[][] ml) {
        int n = kf.length;
        double sumKL = 0, sumK = 0, sumL = 0;
        // one pass: the masked sums, and the column sums of K~ / row sums of L~ for sum(K~ L~)
        double[] colK = new double[n], rowL = new double[n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                if (i == j || !(mk[i][j] && ml[i][j])) continue;
                sumK += kf[i][j];
                sumL += lf[i][j];
                colK[j] += kf[i][j];
                rowL[i] += lf[i][j];
                // sum(K~ * L~^T) needs the transpose of the masked L
                if (mk[j][i] && ml[j][i]) sumKL += kf[i][j] * lf[j][i];
            }
        }
        // sum(K~ L~) = sum_l (sum_i K~_il)(sum_j L~_lj)
        double sumProd = 0;
        for (int l = 0; l < n; l++) sumProd += colK[l] * rowL[l];
        double h = sumKL + sumK * sumL / ((n - 1.0) * (n - 2.0)) - 2 * sumProd / (n - 2.0);
        return h / (n * (n - 3.0));
    }
}
