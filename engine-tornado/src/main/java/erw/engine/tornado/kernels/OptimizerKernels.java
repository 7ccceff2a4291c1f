package erw.engine.tornado.kernels;

import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/** AdamW, gradient clipping, EMA and Philox normals on the device. */
public final class OptimizerKernels {
    private OptimizerKernels() {}

    /**
     * The per-step AdamW coefficients from the lr and step scalars, as the CPU computes them:
     * coef = {lr / (1 - b1^t), sqrt(1 - b2^t), 1 - lr * wd}.
     */
    public static void adamCoefficients(FloatArray lr, FloatArray step, FloatArray coef, float beta1, float beta2, float weightDecay) {
        for (@Parallel int i = 0; i < 1; i++) {
            float rate = lr.get(0);
            double t = step.get(0);
            float bc1 = (float) (1.0 - TornadoMath.pow((double) beta1, t));
            float bc2Sqrt = (float) TornadoMath.sqrt(1.0 - TornadoMath.pow((double) beta2, t));
            coef.set(0, rate / bc1);
            coef.set(1, bc2Sqrt);
            coef.set(2, 1f - rate * weightDecay);
        }
    }

    public static void adamw(FloatArray p, FloatArray g, FloatArray m, FloatArray v, FloatArray coef, float beta1, float beta2, float eps, int decay, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            adamwAt(p, g, m, v, coef, beta1, beta2, eps, decay, i);
        }
    }

    /** AdamW's update of element j (also {@link MultiTensorKernels#adamw3}'s). */
    static void adamwAt(FloatArray p, FloatArray g, FloatArray m, FloatArray v, FloatArray coef, float beta1, float beta2, float eps, int decay, int j) {
        float stepSize = coef.get(0);
        float bc2Sqrt = coef.get(1);
        float gi = g.get(j);
        float pi = decay == 1 ? p.get(j) * coef.get(2) : p.get(j);
        float mi = beta1 * m.get(j) + (1f - beta1) * gi;
        float vi = beta2 * v.get(j) + (1f - beta2) * gi * gi;
        m.set(j, mi);
        v.set(j, vi);
        p.set(j, pi - stepSize * mi / (TornadoMath.sqrt(vi) / bc2Sqrt + eps));
    }

    /** g *= min(1, maxNorm / (norm + 1e-6)) when that is below 1 and finite (torch's clip_grad_norm_). */
    public static void clipScale(FloatArray g, FloatArray norm, float maxNorm, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            float coef = TornadoMath.min(1f, maxNorm / (norm.get(0) + 1e-6f));
            if (coef < 1f && coef == coef && coef > -3.4028235e38f) {
                g.set(i, g.get(i) * coef);
            }
        }
    }

    /** ema = d ema + (1 - d) p, d read from a scalar buffer. */
    public static void ema(FloatArray p, FloatArray e, FloatArray decay, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            emaAt(p, e, decay.get(0), i);
        }
    }

    /** The EMA update of element j (also {@link MultiTensorKernels#ema6}'s). */
    static void emaAt(FloatArray p, FloatArray e, float d, int j) {
        e.set(j, d * e.get(j) + (1f - d) * p.get(j));
    }

    /**
     * Standard normals from Philox4x32-10, bit-compatible with the CPU's erw.engine.host.Philox:
     * element i from block (counter * 2^32 + i/4) keyed by the seed, on the given stream, via
     * Box-Muller in double on the word pairs (0,1) and (2,3). The top 24 bits are taken as
     * (w >> 8) & 0xFFFFFF: TornadoVM's OpenCL code for the int {@code >>>} gave negative values.
     */
    public static void randn(FloatArray out, FloatArray counter, int seedLo, int seedHi, int streamLo, int streamHi, int quadOffset, int n) {
        for (@Parallel int q = 0; q < (n + 3) / 4; q++) {
            long index = (((long) counter.get(0)) << 32) + (quadOffset & 0xFFFFFFFFL) + q;
            int k0 = seedLo;
            int k1 = seedHi;
            int c0 = (int) index;
            int c1 = (int) (index >>> 32);
            int c2 = streamLo;
            int c3 = streamHi;
            for (int r = 0; r < 10; r++) {
                long p0 = 0xD2511F53L * (c0 & 0xFFFFFFFFL);
                long p1 = 0xCD9E8D57L * (c2 & 0xFFFFFFFFL);
                int n0 = ((int) (p1 >>> 32)) ^ c1 ^ k0;
                int n2 = ((int) (p0 >>> 32)) ^ c3 ^ k1;
                c1 = (int) p1;
                c3 = (int) p0;
                c0 = n0;
                c2 = n2;
                k0 += 0x9E3779B9;
                k1 += 0xBB67AE85;
            }
            int base = 4 * q;
            double u1 = (((c0 >> 8) & 0xFFFFFF) + 0.5) * 5.9604644775390625E-8;
            double u2 = (((c1 >> 8) & 0xFFFFFF) + 0.5) * 5.9604644775390625E-8;
            double rad = TornadoMath.sqrt(-2.0 * TornadoMath.log(u1));
            double ang = 6.283185307179586 * u2;
            out.set(base, (float) (rad * TornadoMath.cos(ang)));
            if (base + 1 < n) {
                out.set(base + 1, (float) (rad * TornadoMath.sin(ang)));
            }
            double u3 = (((c2 >> 8) & 0xFFFFFF) + 0.5) * 5.9604644775390625E-8;
            double u4 = (((c3 >> 8) & 0xFFFFFF) + 0.5) * 5.9604644775390625E-8;
            double rad2 = TornadoMath.sqrt(-2.0 * TornadoMath.log(u3));
            double ang2 = 6.283185307179586 * u4;
            if (base + 2 < n) {
                out.set(base + 2, (float) (rad2 * TornadoMath.cos(ang2)));
            }
            if (base + 3 < n) {
                out.set(base + 3, (float) (rad2 * TornadoMath.sin(ang2)));
            }
        }
    }
}
