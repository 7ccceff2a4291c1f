package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.Reduce;
import erw.engine.cpu.Sgemm;
import erw.engine.cpu.WorkerPool;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code C = op(A) op(B) [+ bias]} over matrices (all leading dimensions collapsed into rows).
 * The Linear layer is {@code x W^T + b}: A = x (rows, in), B = W (out, in) with transB.
 */
public final class Matmul extends Op {
    private final Tensor a, b, bias, c;
    private final boolean transA, transB;
    private final int m, n, k;

    public Matmul(String name, Tensor a, boolean transA, Tensor b, boolean transB, Tensor bias, Tensor c) {
        super(name);
        this.a = a;
        this.b = b;
        this.bias = bias;
        this.c = c;
        this.transA = transA;
        this.transB = transB;
        int aRows = a.rows(), aCols = a.cols(), bRows = b.rows(), bCols = b.cols();
        m = transA ? aCols : aRows;
        k = transA ? aRows : aCols;
        int kb = transB ? bCols : bRows;
        n = transB ? bRows : bCols;
        if (k != kb) throw shapeError(type(), name, "inner dimensions differ: op(A) is " + m + "x" + k + ", op(B) is " + kb + "x" + n, a, b);
        if (c.rows() != m || c.cols() != n) throw shapeError(type(), name, "output must be " + m + "x" + n, a, b, c);
        if (bias != null && bias.size() != n) throw shapeError(type(), name, "bias must have " + n + " elements", b, bias);
    }

    @Override public String type() { return "matmul"; }

    @Override public List<Tensor> inputs() {
        List<Tensor> l = new ArrayList<>(List.of(a, b));
        if (bias != null) l.add(bias);
        return l;
    }

    @Override public List<Tensor> outputs() { return List.of(c); }

    @Override public long flops() { return 2L * m * n * k; }

    @Override
    public void forward(WorkerPool pool) {
        Sgemm.gemm(pool, transA, transB, m, n, k, a.data(), 0, b.data(), 0, c.data(), 0, false, bias == null ? null : bias.data(), 0);
    }

    @Override
    public void backward(WorkerPool pool) {
        float[] dc = c.grad();
        if (a.requiresGrad()) {
            if (!transA) { // dA (m,k) += dC (m,n) . op(B)^T
                Sgemm.gemm(pool, false, !transB, m, k, n, dc, 0, b.data(), 0, a.grad(), 0, true);
            } else {       // dA (k,m) += op(B) (k,n) . dC^T
                Sgemm.gemm(pool, transB, true, k, m, n, b.data(), 0, dc, 0, a.grad(), 0, true);
            }
        }
        if (b.requiresGrad()) {
            if (!transB) { // dB (k,n) += op(A)^T (k,m) . dC
                Sgemm.gemm(pool, !transA, false, k, n, m, a.data(), 0, dc, 0, b.grad(), 0, true);
            } else {       // dB (n,k) += dC^T (n,m) . op(A)
                Sgemm.gemm(pool, true, transA, n, k, m, dc, 0, a.data(), 0, b.grad(), 0, true);
            }
        }
        if (bias != null && bias.requiresGrad()) Reduce.addColumnSums(pool, dc, 0, m, n, bias.grad(), 0);
    }
}
