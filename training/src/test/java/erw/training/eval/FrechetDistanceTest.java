package erw.training.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.host.Philox;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.ArrayRealVector;
import org.apache.commons.math3.linear.RealMatrix;
import org.junit.jupiter.api.Test;

class FrechetDistanceTest {
    private static RealMatrix rotation(double a) {
        return new Array2DRowRealMatrix(new double[][]{{Math.cos(a), -Math.sin(a), 0}, {Math.sin(a), Math.cos(a), 0}, {0, 0, 1}});
    }

    @Test
    void closedFormForGaussiansWithSharedEigenvectors() {
        // S1 = R diag(a) R^T, S2 = R diag(b) R^T commute: FD = |dmu|^2 + sum (sqrt a - sqrt b)^2
        double[] a = {4, 1, 0.25}, b = {1, 9, 0.25};
        RealMatrix r = rotation(0.7);
        RealMatrix s1 = r.multiply(new Array2DRowRealMatrix(new double[][]{{a[0], 0, 0}, {0, a[1], 0}, {0, 0, a[2]}})).multiply(r.transpose());
        RealMatrix s2 = r.multiply(new Array2DRowRealMatrix(new double[][]{{b[0], 0, 0}, {0, b[1], 0}, {0, 0, b[2]}})).multiply(r.transpose());
        var g1 = new FrechetDistance.Gaussian(new ArrayRealVector(new double[]{1, 2, 3}), s1);
        var g2 = new FrechetDistance.Gaussian(new ArrayRealVector(new double[]{0, 2, 5}), s2);
        double expected = 1 + 4;
        for (int i = 0; i < 3; i++) expected += Math.pow(Math.sqrt(a[i]) - Math.sqrt(b[i]), 2);
        assertEquals(expected, FrechetDistance.between(g1, g2), 1e-9);
        assertEquals(0, FrechetDistance.between(g1, g1), 1e-9);
    }

    @Test
    void nonCommutingCovariancesAreSymmetricInTheirArguments() {
        RealMatrix s1 = new Array2DRowRealMatrix(new double[][]{{2, 0.5}, {0.5, 1}});
        RealMatrix s2 = new Array2DRowRealMatrix(new double[][]{{1, -0.3}, {-0.3, 3}});
        var g1 = new FrechetDistance.Gaussian(new ArrayRealVector(2), s1);
        var g2 = new FrechetDistance.Gaussian(new ArrayRealVector(2), s2);
        // 2-D closed form: tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)) for M = S1^1/2 S2 S1^1/2
        double det = s1.getEntry(0, 0) * s1.getEntry(1, 1) - 0.25;
        double det2 = 3 - 0.09;
        double trM = s1.multiply(s2).getTrace();
        double expected = s1.getTrace() + s2.getTrace() - 2 * Math.sqrt(trM + 2 * Math.sqrt(det * det2));
        assertEquals(expected, FrechetDistance.between(g1, g2), 1e-9);
        assertEquals(FrechetDistance.between(g2, g1), FrechetDistance.between(g1, g2), 1e-9);
    }

    @Test
    void fittedFromSamplesConvergesToTheClosedForm() {
        int n = 40_000, d = 2;
        float[] x = new float[n * d], y = new float[n * d];
        Philox.normal(1, 1, 0, x, 0, x.length);
        Philox.normal(1, 2, 0, y, 0, y.length);
        for (int i = 0; i < n; i++) {
            y[i * d] = 2 * y[i * d] + 1;  // N((1, 0), diag(4, 1))
        }
        double fd = FrechetDistance.between(FrechetDistance.Gaussian.fit(x, n, d), FrechetDistance.Gaussian.fit(y, n, d));
        assertEquals(1 + 1, fd, 0.1); // |dmu|^2 = 1, (2 - 1)^2 = 1
        assertThrows(IllegalArgumentException.class, () -> FrechetDistance.Gaussian.fit(new float[3], 1, 3));
    }

    @Test
    void rankDeficientCovariancesFromFewSamplesInManyDimensions() {
        // 40 samples in 256 dimensions: covariances of rank 39 (EigenDecomposition did not converge here)
        int n = 40, d = 256;
        float[] x = new float[n * d], y = new float[n * d];
        Philox.normal(3, 1, 0, x, 0, x.length);
        Philox.normal(3, 2, 0, y, 0, y.length);
        FrechetDistance.Gaussian gx = FrechetDistance.Gaussian.fit(x, n, d), gy = FrechetDistance.Gaussian.fit(y, n, d);
        double fd = FrechetDistance.between(gx, gy);
        // round-off of the square roots of ~217 zero eigenvalues, relative to the traces (~2 x 256)
        assertEquals(0, FrechetDistance.between(gx, gx), 1e-6 * 2 * gx.cov().getTrace());
        assertEquals(fd, FrechetDistance.between(gy, gx), 1e-6 * fd);
        assertTrue(fd > 0 && Double.isFinite(fd), "fd " + fd);
    }
}
