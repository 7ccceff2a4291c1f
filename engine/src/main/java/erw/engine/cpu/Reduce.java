package erw.engine.cpu;

import erw.engine.host.WorkerPool;

/**
 * Deterministic parallel sums: the index range is cut in blocks of a fixed size (independent of the
 * thread count), each block is summed in double by one thread, and the block sums are added in order.
 */
public final class Reduce {
    private Reduce() {}

    public static final int BLOCK = 4096;

    @FunctionalInterface
    public interface BlockSum {
        double sum(int lo, int hi);
    }

    public static double sum(WorkerPool pool, int n, BlockSum body) {
        int blocks = (n + BLOCK - 1) / BLOCK;
        if (blocks <= 1) return n > 0 ? body.sum(0, n) : 0.0;
        double[] partial = new double[blocks];
        pool.parallelFor(blocks, (b0, b1) -> {
            for (int b = b0; b < b1; b++) partial[b] = body.sum(b * BLOCK, Math.min(n, (b + 1) * BLOCK));
        });
        double s = 0;
        for (double p : partial) s += p;
        return s;
    }

    /** Deterministic sum of squares of a whole array (gradient norms). */
    public static double sumSquares(WorkerPool pool, float[] x) {
        return sum(pool, x.length, (lo, hi) -> {
            double acc = 0;
            for (int i = lo; i < hi; i++) acc += (double) x[i] * x[i];
            return acc;
        });
    }

    /**
     * Column sums of a row-major (rows x cols) matrix added into {@code out[outOff + c]}: parallel over
     * columns, each column summed over rows in row order.
     */
    public static void addColumnSums(WorkerPool pool, float[] x, int xOff, int rows, int cols, float[] out, int outOff) {
        pool.parallelFor(cols, 16, (c0, c1) -> {
            int w = c1 - c0;
            float[] acc = new float[w];
            for (int r = 0; r < rows; r++) {
                int o = xOff + r * cols + c0;
                for (int c = 0; c < w; c++) acc[c] += x[o + c];
            }
            for (int c = 0; c < w; c++) out[outOff + c0 + c] += acc[c];
        });
    }
}
