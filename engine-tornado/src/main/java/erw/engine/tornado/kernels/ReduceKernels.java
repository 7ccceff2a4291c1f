package erw.engine.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * Reductions with local-memory trees: a whole tensor to one value (one work-group of 256, so the
 * order is fixed and results are deterministic), and column sums of a row-major matrix.
 */
public final class ReduceKernels {
    private ReduceKernels() {}

    public static final int GROUP = 256;
    public static final int MODE_SUM = 0, MODE_SQUARES = 1, MODE_SQUARED_DIFF = 2;

    /**
     * out[outIdx] (+)= scale * sum_i f(x_i, y_i), f by mode: x, x^2 or (x - y)^2.
     * Launch: global 256, local 256.
     */
    public static void reduce(KernelContext ctx, FloatArray x, FloatArray y, int n, int mode,
                              FloatArray out, int outIdx, float scale, int accumulate) {
        int lid = ctx.localIdx;
        float s = 0f;
        for (int i = lid; i < n; i += 256) {
            float v = x.get(i);
            if (mode == 1) {
                v = v * v;
            } else if (mode == 2) {
                float d = v - y.get(i);
                v = d * d;
            }
            s += v;
        }
        float total = WorkGroup.sum(ctx, lid, 256, s);
        if (lid == 0) {
            float r = total * scale;
            if (accumulate == 1) {
                r += out.get(outIdx);
            }
            out.set(outIdx, r);
        }
    }

    /**
     * out[c] += sum over rows of x[r, c]. Launch: global (ceil(cols/16)*16, 16), local (16, 16):
     * x picks the column, y strides over rows, then a tree over y.
     */
    public static void columnSums(KernelContext ctx, FloatArray x, FloatArray out, int rows, int cols) {
        float[] buf = ctx.allocateFloatLocalArray(256);
        int lx = ctx.localIdx;
        int ly = ctx.localIdy;
        int c = ctx.groupIdx * 16 + lx;
        float s = 0f;
        if (c < cols) {
            for (int r = ly; r < rows; r += 16) {
                s += x.get(r * cols + c);
            }
        }
        buf[ly * 16 + lx] = s;
        ctx.localBarrier();
        for (int st = 8; st > 0; st >>= 1) {
            if (ly < st) {
                buf[ly * 16 + lx] += buf[(ly + st) * 16 + lx];
            }
            ctx.localBarrier();
        }
        if (ly == 0 && c < cols) {
            out.set(c, out.get(c) + buf[lx]);
        }
    }

    /** x[idx] = sqrt(x[idx]) (finishes an L2 norm). */
    public static void sqrtAt(FloatArray x, int idx) {
        for (@Parallel int i = 0; i < 1; i++) {
            x.set(idx + i, TornadoMath.sqrt(x.get(idx + i)));
        }
    }

    /** x[idx] = v. */
    public static void setAt(FloatArray x, int idx, float v) {
        for (@Parallel int i = 0; i < 1; i++) {
            x.set(idx + i, v);
        }
    }

    /** dst[dstIdx] = src[srcIdx] * scale. */
    public static void copyScaledAt(FloatArray src, int srcIdx, FloatArray dst, int dstIdx, float scale) {
        for (@Parallel int i = 0; i < 1; i++) {
            dst.set(dstIdx + i, src.get(srcIdx + i) * scale);
        }
    }
}
