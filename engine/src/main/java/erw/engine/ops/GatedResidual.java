package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/** adaLN-Zero residual {@code out = x + gate * h}: x and h (N, T, D), gate (N, D) broadcast over tokens. */
public record GatedResidual(String name, Tensor x, Tensor gate, Tensor h, Tensor out) implements Op {
    public GatedResidual {
        int d = x.cols(), n = gate.rows();
        if (h.size() != x.size() || out.size() != x.size()) throw shapeError("gated_residual", name, "x, h and output must have the same shape", x, h, out);
        if (gate.cols() != d || x.rows() % n != 0) throw shapeError("gated_residual", name, "gate must be (N, " + d + ") with N dividing the rows of x", x, gate);
    }

    /** The batch N. */
    public int n() { return gate.rows(); }
    /** Tokens per sample. */
    public int t() { return x.rows() / gate.rows(); }
    /** The feature width D. */
    public int d() { return x.cols(); }

    @Override public String type() { return "gated_residual"; }
    @Override public List<Tensor> inputs() { return List.of(x, gate, h); }
    @Override public List<Tensor> outputs() { return List.of(out); }
}
