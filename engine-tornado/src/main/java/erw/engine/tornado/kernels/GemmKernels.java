package erw.engine.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * {@code C (m x n) [+]= op(A) op(B) [+ bias]} with 16x16 tiles of A and B staged in local memory, for a batch of
 * such products whose operands lie {@code strideA/B/C} floats apart (0 and a batch of 1 for one product).
 * Launch: global (ceil(n/16)*16, ceil(m/16)*16, batch), local (16, 16, 1). Flags are 0/1 ints (kernels take
 * no booleans). The same kernel serves the forward product, both gradient products (the backward passes
 * transposes and accumulate = 1) and attention's per-head products.
 */
public final class GemmKernels {
    private GemmKernels() {}

    public static final int TILE = 16;

    public static void gemm(KernelContext ctx, FloatArray a, FloatArray b, FloatArray c, FloatArray bias,
                            int m, int n, int k, int transA, int transB, int hasBias, int accumulate, int strideA, int strideB, int strideC) {
        float[] as = ctx.allocateFloatLocalArray(256);
        float[] bs = ctx.allocateFloatLocalArray(256);
        int lx = ctx.localIdx;
        int ly = ctx.localIdy;
        int z = ctx.globalIdz;
        int oa = z * strideA;
        int ob = z * strideB;
        int oc = z * strideC;
        int col = ctx.groupIdx * 16 + lx;
        int row = ctx.groupIdy * 16 + ly;
        float acc = 0f;
        int tiles = (k + 15) / 16;
        for (int t = 0; t < tiles; t++) {
            int ka = t * 16 + lx;
            float av = 0f;
            if (row < m && ka < k) {
                av = transA == 1 ? a.get(oa + ka * m + row) : a.get(oa + row * k + ka);
            }
            as[ly * 16 + lx] = av;
            int kb = t * 16 + ly;
            float bv = 0f;
            if (kb < k && col < n) {
                bv = transB == 1 ? b.get(ob + col * k + kb) : b.get(ob + kb * n + col);
            }
            bs[ly * 16 + lx] = bv;
            ctx.localBarrier();
            for (int q = 0; q < 16; q++) {
                acc += as[ly * 16 + q] * bs[q * 16 + lx];
            }
            ctx.localBarrier();
        }
        if (row < m && col < n) {
            float r = acc;
            if (hasBias == 1) {
                r += bias.get(col);
            }
            if (accumulate == 1) {
                r += c.get(oc + row * n + col);
            }
            c.set(oc + row * n + col, r);
        }
    }

    /** {@code c[r][j] += bias[j]} over a (rows x cols) C: the bias of a GEMM that cuBLAS computed (it has no bias operand). */
    public static void addBias(FloatArray c, FloatArray bias, int rows, int cols) {
        for (@Parallel int r = 0; r < rows; r++) {
            for (@Parallel int j = 0; j < cols; j++) {
                c.set(r * cols + j, c.get(r * cols + j) + bias.get(j));
            }
        }
    }
}
