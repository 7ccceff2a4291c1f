package erw.engine.tornado.kernels;

import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * Element-wise forward and backward kernels as {@code @Parallel} loops (one work-item per element;
 * TornadoVM picks the grid). "accumulate" variants add into gradient buffers, as every backward
 * of the engine does. Constants are literals: kernels see no static fields.
 */
public final class PointwiseKernels {
    private PointwiseKernels() {}

    /** out = a + b[i % nb] (nb == n: plain add; smaller: broadcast of b over rows). */
    public static void add(FloatArray a, FloatArray b, FloatArray out, int n, int nb) {
        for (@Parallel int i = 0; i < n; i++) {
            out.set(i, a.get(i) + b.get(i % nb));
        }
    }

    public static void mul(FloatArray a, FloatArray b, FloatArray out, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            out.set(i, a.get(i) * b.get(i));
        }
    }

    /** dst += src. */
    public static void accumulate(FloatArray src, FloatArray dst, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            dst.set(i, dst.get(i) + src.get(i));
        }
    }

    /** dst += src * other. */
    public static void accumulateProduct(FloatArray src, FloatArray other, FloatArray dst, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            dst.set(i, dst.get(i) + src.get(i) * other.get(i));
        }
    }

    /** out (+)= alpha * factor[0] * x; pass a buffer holding 1 as factor for a constant scale. */
    public static void scale(FloatArray x, FloatArray out, FloatArray factor, float alpha, int n, int accumulate) {
        for (@Parallel int i = 0; i < n; i++) {
            float v = alpha * factor.get(0) * x.get(i);
            if (accumulate == 1) {
                v += out.get(i);
            }
            out.set(i, v);
        }
    }

    public static void fill(FloatArray x, float v, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            x.set(i, v);
        }
    }

    public static void silu(FloatArray x, FloatArray out, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            float v = x.get(i);
            out.set(i, v / (1f + TornadoMath.exp(-v)));
        }
    }

    /** gx (+)= g * silu'(x): added to gx when acc is 1, else written (from zero). */
    public static void siluBackward(FloatArray x, FloatArray g, FloatArray gx, int n, int acc) {
        for (@Parallel int i = 0; i < n; i++) {
            float v = x.get(i);
            float s = 1f / (1f + TornadoMath.exp(-v));
            float base = acc != 0 ? gx.get(i) : 0f;
            gx.set(i, base + g.get(i) * s * (1f + v * (1f - s)));
        }
    }

    public static void gelu(FloatArray x, FloatArray out, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            float v = x.get(i);
            float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
            out.set(i, 0.5f * v * (1f + TornadoMath.tanh(u)));
        }
    }

    /** gx (+)= g * gelu'(x) (tanh form): added to gx when acc is 1, else written (from zero). */
    public static void geluBackward(FloatArray x, FloatArray g, FloatArray gx, int n, int acc) {
        for (@Parallel int i = 0; i < n; i++) {
            float v = x.get(i);
            float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
            float th = TornadoMath.tanh(u);
            float du = 0.7978845608028654f * (1f + 3f * 0.044715f * v * v);
            float base = acc != 0 ? gx.get(i) : 0f;
            gx.set(i, base + g.get(i) * (0.5f * (1f + th) + 0.5f * v * (1f - th * th) * du));
        }
    }

    /** out = x + gate[row / t] * h, rows of width d. */
    public static void gatedResidual(FloatArray x, FloatArray gate, FloatArray h, FloatArray out, int t, int d, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            int s = (i / d) / t * d + i % d;
            out.set(i, x.get(i) + gate.get(s) * h.get(i));
        }
    }

    /** out = x * (1 + scale[row / t]) + shift[row / t]. */
    public static void modulate(FloatArray x, FloatArray shift, FloatArray scale, FloatArray out, int t, int d, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            int s = (i / d) / t * d + i % d;
            out.set(i, x.get(i) * (1f + scale.get(s)) + shift.get(s));
        }
    }

    /**
     * Modulate's backward in one pass over g, a work-item per (sample b, column c) going through b's tokens in order:
     * gx[r, c] = g[r, c] (1 + scale[b, c]) (+ gx), and the shift and scale gradients' sums over the tokens of g and of
     * g x (+ theirs). {@code needX/needShift/needScale}: 1 computes that gradient; {@code accX/accShift/accScale}: 1 adds
     * to it, 0 writes it (as a sum with zero: the bits of adding to a zeroed gradient).
     */
    public static void modulateBackward(FloatArray g, FloatArray x, FloatArray scale, FloatArray gx, FloatArray gsh, FloatArray gsc,
                                        int needX, int accX, int needShift, int accShift, int needScale, int accScale, int batch, int t, int d) {
        for (@Parallel int e = 0; e < batch * d; e++) {
            int b = e / d;
            int c = e % d;
            float sc = needX == 1 ? 1f + scale.get(e) : 0f;
            float ssh = 0f;
            float ssc = 0f;
            for (int r = b * t; r < (b + 1) * t; r++) {
                int i = r * d + c;
                float gi = g.get(i);
                if (needX == 1) {
                    float base = accX == 1 ? gx.get(i) : 0f;
                    gx.set(i, base + gi * sc);
                }
                ssh += gi;
                if (needScale == 1) {
                    ssc += gi * x.get(i);
                }
            }
            if (needShift == 1) {
                gsh.set(e, (accShift == 1 ? gsh.get(e) : 0f) + ssh);
            }
            if (needScale == 1) {
                gsc.set(e, (accScale == 1 ? gsc.get(e) : 0f) + ssc);
            }
        }
    }

    /**
     * The gated residual's backward (out = x + gate[b] h) in one pass over g, a work-item per (sample b, column c) going
     * through b's tokens in order: gx = g (+ gx), gh = g gate[b, c] (+ gh), and the gate's gradient the sum over the
     * tokens of g h (+ its own); flags as {@link #modulateBackward}'s.
     */
    public static void gatedResidualBackward(FloatArray g, FloatArray gate, FloatArray h, FloatArray gx, FloatArray gh, FloatArray gg,
                                             int needX, int accX, int needH, int accH, int needGate, int accGate, int batch, int t, int d) {
        for (@Parallel int e = 0; e < batch * d; e++) {
            int b = e / d;
            int c = e % d;
            float gt = gate.get(e);
            float sg = 0f;
            for (int r = b * t; r < (b + 1) * t; r++) {
                int i = r * d + c;
                float gi = g.get(i);
                if (needX == 1) {
                    float base = accX == 1 ? gx.get(i) : 0f;
                    gx.set(i, base + gi);
                }
                if (needH == 1) {
                    float base = accH == 1 ? gh.get(i) : 0f;
                    gh.set(i, base + gi * gt);
                }
                if (needGate == 1) {
                    sg += gi * h.get(i);
                }
            }
            if (needGate == 1) {
                gg.set(e, (accGate == 1 ? gg.get(e) : 0f) + sg);
            }
        }
    }

    /** MSE gradient: k = 2 * gout[0] / n; gp += k (p - q) when usePred; gq -= k (p - q) when useTarget. */
    public static void mseBackward(FloatArray p, FloatArray q, FloatArray gout, FloatArray gp, FloatArray gq, int usePred, int useTarget, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            float k = 2f * gout.get(0) / n;
            float g = k * (p.get(i) - q.get(i));
            if (usePred == 1) {
                gp.set(i, gp.get(i) + g);
            }
            if (useTarget == 1) {
                gq.set(i, gq.get(i) - g);
            }
        }
    }

    /**
     * Gradient of sum (mode 0), mean (1) or l2norm (2) over all elements: gx += k * (x or 1) with
     * k from the output's gradient and value.
     */
    public static void reductionBackward(FloatArray x, FloatArray gx, FloatArray outValue, FloatArray outGrad, int mode, int total, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            float g = outGrad.get(0);
            float k = g;
            if (mode == 1) {
                k = g / total;
            } else if (mode == 2) {
                float norm = outValue.get(0);
                k = norm > 0f ? g / norm : 0f;
            }
            float v = mode == 2 ? k * x.get(i) : k;
            gx.set(i, gx.get(i) + v);
        }
    }

    /** x_t = (1 - t_b) x0 + t_b e and v = e - x0, per sample b of {@code per} elements. */
    public static void linearInterpolant(FloatArray x0, FloatArray noise, FloatArray t, FloatArray xt, FloatArray v, int per, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            float tb = t.get(i / per);
            float a = x0.get(i);
            float e = noise.get(i);
            xt.set(i, (1f - tb) * a + tb * e);
            v.set(i, e - a);
        }
    }
}
