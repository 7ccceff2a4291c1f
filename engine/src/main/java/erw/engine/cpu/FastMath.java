package erw.engine.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * exp and tanh for the hot loops, built only from IEEE-exact operations (add, mul, fma, min/max,
 * conversions, shifts), in a vector and a scalar form that compute the same bits.
 *
 * <p>Why not the Vector API's lanewise EXP/TANH or {@code reduceLanes(ADD)}: their results differ
 * between the JIT's intrinsics and the Java fallback used before compilation, so the same seed
 * would give different numbers depending on JIT timing. These do not.
 *
 * <p>exp: x = k ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2), e^r by a degree-6 polynomial
 * (relative error about 2e-7), 2^k by building the exponent bits; inputs clamped to [-87, 88].
 */
public final class FastMath {
    private FastMath() {}

    /** The one species erw's kernels use; a constant, so C2 intrinsifies (x.species() in a method
     *  that is not inlined left SiLU boxing every vector: 0.9 GB of garbage per 10 steps). */
    private static final jdk.incubator.vector.VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final float LOG2E = 1.44269504088896341f;
    private static final float MAGIC = 12582912f; // 1.5 * 2^23: adding it rounds to an integer
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    private static final float C2 = 0.5f, C3 = 1.6666667e-1f, C4 = 4.1666668e-2f, C5 = 8.333334e-3f, C6 = 1.3888889e-3f;
    private static final float LO = -87f, HI = 88f;

    public static float exp(float x) {
        x = Math.min(Math.max(x, LO), HI);
        float kf = Math.fma(x, LOG2E, MAGIC) - MAGIC;
        float r = Math.fma(kf, -LN2_HI, x);
        r = Math.fma(kf, -LN2_LO, r);
        float p = Math.fma(r, C6, C5);
        p = Math.fma(p, r, C4);
        p = Math.fma(p, r, C3);
        p = Math.fma(p, r, C2);
        p = Math.fma(p, r, 1f);
        p = Math.fma(p, r, 1f);
        return p * Float.intBitsToFloat(((int) kf + 127) << 23);
    }

    public static FloatVector exp(FloatVector x) {
        x = x.max(LO).min(HI);
        FloatVector kf = x.fma(LOG2E, MAGIC).sub(MAGIC);
        FloatVector r = kf.fma(FloatVector.broadcast(S, -LN2_HI), x);
        r = kf.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector p = r.fma(C6, C5);
        p = p.fma(r, FloatVector.broadcast(S, C4));
        p = p.fma(r, FloatVector.broadcast(S, C3));
        p = p.fma(r, FloatVector.broadcast(S, C2));
        p = p.fma(r, FloatVector.broadcast(S, 1f));
        p = p.fma(r, FloatVector.broadcast(S, 1f));
        IntVector k = (IntVector) kf.convert(VectorOperators.F2I, 0);
        FloatVector pow2 = k.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return p.mul(pow2);
    }

    /** tanh(u) = sign(u) (1 - 2 / (e^{2|u|} + 1)); absolute error about 1e-7. */
    public static float tanh(float u) {
        float v = 1f - 2f / (exp(2f * Math.abs(u)) + 1f);
        return u < 0 ? -v : v;
    }

    public static FloatVector tanh(FloatVector u) {
        FloatVector e = exp(u.abs().mul(2f)).add(1f);
        FloatVector v = FloatVector.broadcast(S, 2f).div(e).neg().add(1f);
        return v.lanewise(VectorOperators.NEG, u.lt(0f));
    }

    /** 1 / (1 + e^{-x}). */
    public static float sigmoid(float x) {
        return 1f / (1f + exp(-x));
    }

    public static FloatVector sigmoid(FloatVector x) {
        return FloatVector.broadcast(S, 1f).div(exp(x.neg()).add(1f));
    }

    /** Sum of the lanes in lane order (reduceLanes' order is not fixed across JIT tiers). */
    public static float sumLanes(FloatVector v) {
        float s = 0f;
        for (int i = 0; i < v.length(); i++) s += v.lane(i); // lane(i) allocates nothing once compiled, toArray() did
        return s;
    }
}
