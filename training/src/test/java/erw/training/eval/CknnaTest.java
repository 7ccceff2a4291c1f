package erw.training.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.host.Philox;
import org.junit.jupiter.api.Test;

class CknnaTest {
    static final int N = 40, DA = 6, DB = 5;

    static float[] a() {
        float[] a = new float[N * DA];
        for (int i = 0; i < N; i++) for (int j = 0; j < DA; j++) a[i * DA + j] = (float) (Math.sin(0.37 * i + 1.3 * j) + 0.1 * j);
        return a;
    }

    static float[] b() {
        float[] b = new float[N * DB];
        for (int i = 0; i < N; i++) for (int j = 0; j < DB; j++) b[i * DB + j] = (float) (Math.cos(0.23 * i * (j + 1)) + Math.sin(0.37 * i + 1.3 * (j % DA)));
        return b;
    }

    @Test
    void matchesThePlatonicReferenceImplementation() {
        // values from the reference cknna(..., unbiased=True) in PyTorch float64 on the same rows
        assertEquals(0.6311313029011487, Cknna.of(a(), DA, b(), DB, N, 10), 2e-6);
        assertEquals(0.0782112865458325, Cknna.of(a(), DA, b(), DB, N, 3), 2e-6);
        assertEquals(0.9999929071515085, Cknna.of(a(), DA, a(), DA, N, 10), 2e-6);
    }

    @Test
    void invariantToRotationAndScaleOfARepresentation() {
        float[] a = a(), r = new float[N * DA];
        double c = Math.cos(0.7), s = Math.sin(0.7);
        for (int i = 0; i < N; i++) {
            System.arraycopy(a, i * DA, r, i * DA, DA);
            r[i * DA] = (float) (3 * (c * a[i * DA] - s * a[i * DA + 1]));
            r[i * DA + 1] = (float) (3 * (s * a[i * DA] + c * a[i * DA + 1]));
            for (int j = 2; j < DA; j++) r[i * DA + j] = 3 * a[i * DA + j];
        }
        assertEquals(Cknna.of(a, DA, b(), DB, N, 10), Cknna.of(r, DA, b(), DB, N, 10), 1e-5);
    }

    @Test
    void independentRepresentationsScoreNearZero() {
        int n = 300, d = 16;
        float[] x = new float[n * d], y = new float[n * d];
        Philox.normal(1, 1, 0, x, 0, x.length);
        Philox.normal(2, 1, 0, y, 0, y.length);
        double v = Cknna.of(x, d, y, d, n, 10);
        assertTrue(Math.abs(v) < 0.1, "independent features gave CKNNA " + v);
    }

    @Test
    void badShapesAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Cknna.of(new float[10], 5, new float[9], 3, 2, 1));
        assertTrue(e.getMessage().contains("2 x 5"), e.getMessage());
    }
}
