package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/**
 * adaLN modulation {@code out = x * (1 + scale) + shift} with per-sample broadcast: x is (N, T, D),
 * shift and scale are (N, D).
 */
public record Modulate(String name, Tensor x, Tensor shift, Tensor scale, Tensor out) implements Op {
    public Modulate {
        int d = x.cols(), n = shift.rows();
        if (shift.cols() != d || scale.cols() != d || scale.rows() != n) throw shapeError("modulate", name, "shift and scale must be (N, " + d + ")", x, shift, scale);
        if (x.rows() % n != 0) throw shapeError("modulate", name, "x rows must be a multiple of the batch " + n, x, shift);
        if (out.size() != x.size()) throw shapeError("modulate", name, "output size differs from input", x, out);
    }

    /** The batch N. */
    public int n() { return shift.rows(); }
    /** Tokens per sample. */
    public int t() { return x.rows() / shift.rows(); }
    /** The feature width D. */
    public int d() { return x.cols(); }

    @Override public String type() { return "modulate"; }
    @Override public List<Tensor> inputs() { return List.of(x, shift, scale); }
    @Override public List<Tensor> outputs() { return List.of(out); }
}
