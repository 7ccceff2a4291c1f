package erw.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The vectorized maximum returns exactly what the scalar Math.max loop returns, NaN and signed zeros included. */
class VecTest {
    private static float scalarMax(float[] a, int ao, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) m = Math.max(m, a[ao + i]);
        return m;
    }

    @Test
    void maxIsTheScalarLoopsResultBitForBit() {
        SplittableRandom r = new SplittableRandom(3);
        float[] a = new float[400];
        for (int trial = 0; trial < 2000; trial++) {
            for (int i = 0; i < a.length; i++) {
                int kind = r.nextInt(40);
                a[i] = switch (kind) {
                    case 0 -> Float.NaN;
                    case 1 -> -0.0f;
                    case 2 -> 0.0f;
                    case 3 -> Float.NEGATIVE_INFINITY;
                    case 4 -> Float.POSITIVE_INFINITY;
                    default -> (float) (r.nextGaussian() * 10);
                };
            }
            // mostly without the specials, so that the ordinary maximum is exercised too
            if (trial % 2 == 0) for (int i = 0; i < a.length; i++) if (!Float.isFinite(a[i]) || a[i] == 0f) a[i] = (float) r.nextGaussian() - 100;
            if (trial % 7 == 0) java.util.Arrays.fill(a, -0.0f);
            if (trial % 7 == 1) { java.util.Arrays.fill(a, 0.0f); a[r.nextInt(a.length)] = -0.0f; }
            int ao = r.nextInt(50), n = r.nextInt(a.length - ao + 1);
            assertEquals(Float.floatToRawIntBits(scalarMax(a, ao, n)), Float.floatToRawIntBits(Vec.max(a, ao, n)), "offset " + ao + ", length " + n);
        }
    }
}
