package erw.engine.cpu;

/**
 * Single-precision GEMM on row-major contiguous matrices:
 * {@code C (m x n) [+]= op(A) op(B)} with {@code op(A)} (m x k), {@code op(B)} (k x n).
 * A is stored (m x k), or (k x m) when {@code transA}; B is stored (k x n), or (n x k) when
 * {@code transB}. Every element of C is reduced over k in the same order whatever the number of
 * threads, so results are bit-identical across thread counts.
 */
public final class Sgemm {
    private Sgemm() {}

    public static void gemm(WorkerPool pool, boolean transA, boolean transB, int m, int n, int k,
                            float[] a, int aOff, float[] b, int bOff, float[] c, int cOff, boolean accumulate) {
        pool.parallelFor(m, (lo, hi) -> {
            float[] row = new float[n];
            for (int i = lo; i < hi; i++) {
                java.util.Arrays.fill(row, 0f);
                for (int p = 0; p < k; p++) {
                    float av = transA ? a[aOff + p * m + i] : a[aOff + i * k + p];
                    if (transB) {
                        for (int j = 0; j < n; j++) row[j] += av * b[bOff + j * k + p];
                    } else {
                        int bo = bOff + p * n;
                        for (int j = 0; j < n; j++) row[j] += av * b[bo + j];
                    }
                }
                int co = cOff + i * n;
                if (accumulate) for (int j = 0; j < n; j++) c[co + j] += row[j];
                else System.arraycopy(row, 0, c, co, n);
            }
        });
    }
}
