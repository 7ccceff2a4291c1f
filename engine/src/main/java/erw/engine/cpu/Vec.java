package erw.engine.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API building blocks for the hot loops that are not GEMMs (attention, norms, losses).
 * Each has a fixed reduction order for a given length, so results do not depend on threads.
 */
public final class Vec {
    private Vec() {}

    public static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    /**
     * One vector of +0, read with index 0 (stride 0) where a loop adds to "+0 or the old gradient" (a gradient's first
     * write, or an accumulation): the array and the stride are chosen outside the vector code, which stays one load.
     * Choosing the vector itself in the loop ({@code write ? zero : fromArray(..)}) ran modulate's backward on SiT-S/2
     * at 1.75-2.44 ms a call instead of 0.72, gated residual's at 1.23-1.60 instead of 0.87 (2-core Xeon, steady state).
     */
    static final float[] ZERO = new float[L];

    /** sum_i a[ao+i] * b[bo+i]. */
    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        int i = 0;
        float s = 0f;
        if (n >= L) {
            FloatVector acc = FloatVector.zero(S);
            for (int ub = S.loopBound(n); i < ub; i += L) {
                acc = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc);
            }
            s = FastMath.sumLanes(acc);
        }
        for (; i < n; i++) s += a[ao + i] * b[bo + i];
        return s;
    }

    /** y[yo+i] += alpha * x[xo+i]. */
    public static void axpy(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        if (n >= L) {
            FloatVector av = FloatVector.broadcast(S, alpha);
            for (int ub = S.loopBound(n); i < ub; i += L) {
                FloatVector.fromArray(S, x, xo + i).fma(av, FloatVector.fromArray(S, y, yo + i)).intoArray(y, yo + i);
            }
        }
        for (; i < n; i++) y[yo + i] += alpha * x[xo + i];
    }

    /** y[yo+i] = alpha * y[yo+i]. */
    public static void scale(float alpha, float[] y, int yo, int n) {
        int i = 0;
        if (n >= L) {
            for (int ub = S.loopBound(n); i < ub; i += L) {
                FloatVector.fromArray(S, y, yo + i).mul(alpha).intoArray(y, yo + i);
            }
        }
        for (; i < n; i++) y[yo + i] *= alpha;
    }

    /** sum_i a[ao+i]. */
    public static float sum(float[] a, int ao, int n) {
        int i = 0;
        float s = 0f;
        if (n >= L) {
            FloatVector acc = FloatVector.zero(S);
            for (int ub = S.loopBound(n); i < ub; i += L) acc = acc.add(FloatVector.fromArray(S, a, ao + i));
            s = FastMath.sumLanes(acc);
        }
        for (; i < n; i++) s += a[ao + i];
        return s;
    }

    /** max_i a[ao+i]. */
    public static float max(float[] a, int ao, int n) {
        // lanewise and lane-reducing MAX are Math.max, which is associative and commutative (NaN wins,
        // 0.0 beats -0.0), so this is the scalar loop's result in any order; the scalar loop ran at
        // ~1 ns an element (a chain of dependent maxes) and took a quarter of SiT-S/2's attention forward
        int i = 0;
        float m = Float.NEGATIVE_INFINITY;
        if (n >= 2 * L) {
            FloatVector m0 = FloatVector.fromArray(S, a, ao), m1 = FloatVector.fromArray(S, a, ao + L);
            for (i = 2 * L; i <= n - 2 * L; i += 2 * L) {
                m0 = m0.max(FloatVector.fromArray(S, a, ao + i));
                m1 = m1.max(FloatVector.fromArray(S, a, ao + i + L));
            }
            m = m0.max(m1).reduceLanes(jdk.incubator.vector.VectorOperators.MAX);
        }
        for (; i < n; i++) m = Math.max(m, a[ao + i]);
        return m;
    }
}
