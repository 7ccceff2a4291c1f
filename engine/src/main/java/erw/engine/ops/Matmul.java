package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Precision;
import erw.engine.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code C = op(A) op(B) [+ bias]} over matrices (all leading dimensions collapsed into rows).
 * The Linear layer is {@code x W^T + b}: A = x (rows, in), B = W (out, in) with transB. {@code precision}
 * is the number format of the operands, in this product and in both gradient products (see {@link Precision}).
 */
public record Matmul(String name, Tensor a, boolean transA, Tensor b, boolean transB, Tensor bias, Tensor c, Precision precision) implements Op {
    public Matmul {
        if (precision == null) throw new IllegalArgumentException("matmul '" + name + "': no precision");
        int m = transA ? a.cols() : a.rows(), k = transA ? a.rows() : a.cols();
        int kb = transB ? b.cols() : b.rows(), n = transB ? b.rows() : b.cols();
        if (k != kb) throw shapeError("matmul", name, "inner dimensions differ: op(A) is " + m + "x" + k + ", op(B) is " + kb + "x" + n, a, b);
        if (c.rows() != m || c.cols() != n) throw shapeError("matmul", name, "output must be " + m + "x" + n, a, b, c);
        if (bias != null && bias.size() != n) throw shapeError("matmul", name, "bias must have " + n + " elements", b, bias);
    }

    /** In fp32. */
    public Matmul(String name, Tensor a, boolean transA, Tensor b, boolean transB, Tensor bias, Tensor c) {
        this(name, a, transA, b, transB, bias, c, Precision.FP32);
    }

    /** Rows of op(A) and C. */
    public int m() { return transA ? a.cols() : a.rows(); }
    /** Columns of op(B) and C. */
    public int n() { return transB ? b.rows() : b.cols(); }
    /** The inner dimension. */
    public int k() { return transA ? a.rows() : a.cols(); }

    @Override public String type() { return "matmul"; }

    @Override public List<Tensor> inputs() {
        List<Tensor> l = new ArrayList<>(List.of(a, b));
        if (bias != null) l.add(bias);
        return l;
    }

    @Override public List<Tensor> outputs() { return List.of(c); }
    @Override public long flops() { return 2L * m() * n() * k(); }
}
