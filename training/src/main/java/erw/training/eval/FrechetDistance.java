package erw.training.eval;

import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.ArrayRealVector;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.RealVector;

/**
 * The Frechet distance between two Gaussians fitted to feature sets (the FID formula):
 * |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2). Matrix square roots of the
 * symmetric positive semi-definite matrices come from commons-math3's SVD.
 */
public final class FrechetDistance {
    private FrechetDistance() {}

    /** Mean and covariance (unbiased, N - 1) of rows of a (n, d) row-major feature matrix. */
    public record Gaussian(RealVector mean, RealMatrix cov) {
        public static Gaussian fit(float[] features, int n, int d) {
            if (n < 2) throw new IllegalArgumentException("need at least 2 feature rows to fit a covariance, got " + n);
            if (features.length != (long) n * d) throw new IllegalArgumentException("features hold " + features.length + " values, expected " + n + " x " + d);
            double[] mu = new double[d];
            for (int i = 0; i < n; i++) for (int j = 0; j < d; j++) mu[j] += features[i * d + j];
            for (int j = 0; j < d; j++) mu[j] /= n;
            double[][] c = new double[d][d];
            double[] row = new double[d];
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < d; j++) row[j] = features[i * d + j] - mu[j];
                for (int a = 0; a < d; a++) {
                    double ra = row[a];
                    for (int b = a; b < d; b++) c[a][b] += ra * row[b];
                }
            }
            for (int a = 0; a < d; a++) for (int b = a; b < d; b++) {
                c[a][b] /= (n - 1);
                c[b][a] = c[a][b];
            }
            return new Gaussian(new ArrayRealVector(mu), new Array2DRowRealMatrix(c, false));
        }
    }

    public static double between(Gaussian g1, Gaussian g2) {
        RealVector diff = g1.mean().subtract(g2.mean());
        RealMatrix s1Half = sqrtPsd(g1.cov());
        RealMatrix inner = s1Half.multiply(g2.cov()).multiply(s1Half);
        inner = inner.add(inner.transpose()).scalarMultiply(0.5); // symmetric up to round-off
        double trSqrt = sqrtPsd(inner).getTrace();
        return diff.dotProduct(diff) + g1.cov().getTrace() + g2.cov().getTrace() - 2 * trSqrt;
    }

    /**
     * The symmetric square root of a symmetric PSD matrix. Through the SVD (for such a matrix
     * U = V and the singular values are the eigenvalues): commons-math3's EigenDecomposition fails
     * to converge on rank-deficient covariances (fewer samples than feature dimensions).
     */
    static RealMatrix sqrtPsd(RealMatrix m) {
        SingularValueDecomposition svd = new SingularValueDecomposition(m);
        RealMatrix u = svd.getU();
        double[] sv = svd.getSingularValues();
        RealMatrix scaled = u.copy();
        for (int j = 0; j < sv.length; j++) {
            double s = Math.sqrt(Math.max(sv[j], 0));
            for (int i = 0; i < u.getRowDimension(); i++) scaled.multiplyEntry(i, j, s);
        }
        return scaled.multiply(u.transpose());
    }
}
