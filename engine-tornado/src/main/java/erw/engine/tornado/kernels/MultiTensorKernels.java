package erw.engine.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * The optimizer's per-parameter passes over groups of tensors, one task per group instead of one per tensor.
 * TornadoVM 5.2 compiles every task on its own (its code caches are keyed by task), so a SiT step's hundreds of
 * per-tensor zero, clip, AdamW, EMA and norm tasks were half of its kernel compilations and launches. A kernel
 * cannot take an array of buffers, so each takes a fixed number of tensors as separate arguments (as many as
 * TornadoVM's 20-argument tasks hold) and runs over their concatenation: {@code c0 < c1 < ...} are the cumulative
 * sizes, element {@code i} belongs to the first tensor whose end exceeds it. Per element the arithmetic is that
 * of the single-tensor kernels ({@link OptimizerKernels}, {@link PointwiseKernels#fill}); the norm's partial sums
 * are fixed per work-group, so results do not depend on scheduling. The kernels are written out per tensor (the
 * same chain of ranges in each); a tensor count change means writing the chain to match.
 */
public final class MultiTensorKernels {
    private MultiTensorKernels() {}

    /** Tensors per task of each kernel. */
    public static final int G_ZERO = 8, G_EMA = 6, G_CLIP = 8, G_ADAM = 3, G_NORM = 8;
    /** Elements of the concatenation that one work-group of {@link #sumSquares8} sums (256 threads, 32 each). */
    public static final int NORM_CHUNK = 8192;

    /** x_k[j] = 0 for 8 tensors (c_k: cumulative sizes). */
    public static void zero8(FloatArray x0, FloatArray x1, FloatArray x2, FloatArray x3, FloatArray x4, FloatArray x5, FloatArray x6, FloatArray x7, int c0, int c1, int c2, int c3, int c4, int c5, int c6, int c7) {
        for (@Parallel int i = 0; i < c7; i++) {
            if (i < c0) {
                x0.set(i, 0f);
            } else if (i < c1) {
                x1.set(i - c0, 0f);
            } else if (i < c2) {
                x2.set(i - c1, 0f);
            } else if (i < c3) {
                x3.set(i - c2, 0f);
            } else if (i < c4) {
                x4.set(i - c3, 0f);
            } else if (i < c5) {
                x5.set(i - c4, 0f);
            } else if (i < c6) {
                x6.set(i - c5, 0f);
            } else {
                x7.set(i - c6, 0f);
            }
        }
    }

    /** ema_k = d ema_k + (1 - d) p_k for 6 tensors, d read from a scalar buffer. */
    public static void ema6(FloatArray p0, FloatArray e0, FloatArray p1, FloatArray e1, FloatArray p2, FloatArray e2, FloatArray p3, FloatArray e3, FloatArray p4, FloatArray e4, FloatArray p5, FloatArray e5, FloatArray decay, int c0, int c1, int c2, int c3, int c4, int c5) {
        for (@Parallel int i = 0; i < c5; i++) {
            float d = decay.get(0);
            if (i < c0) {
                OptimizerKernels.emaAt(p0, e0, d, i);
            } else if (i < c1) {
                OptimizerKernels.emaAt(p1, e1, d, i - c0);
            } else if (i < c2) {
                OptimizerKernels.emaAt(p2, e2, d, i - c1);
            } else if (i < c3) {
                OptimizerKernels.emaAt(p3, e3, d, i - c2);
            } else if (i < c4) {
                OptimizerKernels.emaAt(p4, e4, d, i - c3);
            } else {
                OptimizerKernels.emaAt(p5, e5, d, i - c4);
            }
        }
    }

    private static void scaleAt(FloatArray g, float coef, int j) {
        g.set(j, g.get(j) * coef);
    }

    /** g_k *= min(1, maxNorm / (norm + 1e-6)) for 8 tensors, when that is below 1 and finite ({@link OptimizerKernels#clipScale}). */
    public static void clip8(FloatArray g0, FloatArray g1, FloatArray g2, FloatArray g3, FloatArray g4, FloatArray g5, FloatArray g6, FloatArray g7, FloatArray norm, float maxNorm, int c0, int c1, int c2, int c3, int c4, int c5, int c6, int c7) {
        for (@Parallel int i = 0; i < c7; i++) {
            float coef = TornadoMath.min(1f, maxNorm / (norm.get(0) + 1e-6f));
            if (coef < 1f && coef == coef && coef > -3.4028235e38f) {
                if (i < c0) {
                    scaleAt(g0, coef, i);
                } else if (i < c1) {
                    scaleAt(g1, coef, i - c0);
                } else if (i < c2) {
                    scaleAt(g2, coef, i - c1);
                } else if (i < c3) {
                    scaleAt(g3, coef, i - c2);
                } else if (i < c4) {
                    scaleAt(g4, coef, i - c3);
                } else if (i < c5) {
                    scaleAt(g5, coef, i - c4);
                } else if (i < c6) {
                    scaleAt(g6, coef, i - c5);
                } else {
                    scaleAt(g7, coef, i - c6);
                }
            }
        }
    }

    /** AdamW ({@link OptimizerKernels#adamw}) for 3 tensors. */
    public static void adamw3(FloatArray p0, FloatArray g0, FloatArray m0, FloatArray v0, FloatArray p1, FloatArray g1, FloatArray m1, FloatArray v1, FloatArray p2, FloatArray g2, FloatArray m2, FloatArray v2, FloatArray coef, float beta1, float beta2, float eps, int decay, int c0, int c1, int c2) {
        for (@Parallel int i = 0; i < c2; i++) {
            if (i < c0) {
                OptimizerKernels.adamwAt(p0, g0, m0, v0, coef, beta1, beta2, eps, decay, i);
            } else if (i < c1) {
                OptimizerKernels.adamwAt(p1, g1, m1, v1, coef, beta1, beta2, eps, decay, i - c0);
            } else {
                OptimizerKernels.adamwAt(p2, g2, m2, v2, coef, beta1, beta2, eps, decay, i - c1);
            }
        }
    }

    /**
     * partial[base + group] = the sum of squares of elements [group * NORM_CHUNK, (group + 1) * NORM_CHUNK) of the
     * concatenation of 8 tensors. Launch: global ceil(c7 / NORM_CHUNK) * 256, local 256.
     */
    public static void sumSquares8(KernelContext ctx, FloatArray g0, FloatArray g1, FloatArray g2, FloatArray g3, FloatArray g4, FloatArray g5, FloatArray g6, FloatArray g7, int c0, int c1, int c2, int c3, int c4, int c5, int c6, int c7, FloatArray partial, int base) {
        int lid = ctx.localIdx;
        int from = ctx.groupIdx * NORM_CHUNK;
        int to = TornadoMath.min(from + NORM_CHUNK, c7);
        float s = 0f;
        for (int i = from + lid; i < to; i += 256) {
            float v = 0f;
            if (i < c0) {
                v = g0.get(i);
            } else if (i < c1) {
                v = g1.get(i - c0);
            } else if (i < c2) {
                v = g2.get(i - c1);
            } else if (i < c3) {
                v = g3.get(i - c2);
            } else if (i < c4) {
                v = g4.get(i - c3);
            } else if (i < c5) {
                v = g5.get(i - c4);
            } else if (i < c6) {
                v = g6.get(i - c5);
            } else {
                v = g7.get(i - c6);
            }
            s += v * v;
        }
        float total = WorkGroup.sum(ctx, lid, 256, s);
        if (lid == 0) {
            partial.set(base + ctx.groupIdx, total);
        }
    }
}
