package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/** Mean over the tokens of each sample: (N*T, D) to (N, D) (the pooling of a ViT classifier head). */
public record TokenMean(String name, Tensor x, int batch, Tensor out) implements Op {
    public TokenMean {
        if (x.rows() % batch != 0) throw shapeError("token_mean", name, "rows must be batch " + batch + " x tokens", x);
        if (out.rows() != batch || out.cols() != x.cols()) throw shapeError("token_mean", name, "output must be (" + batch + ", " + x.cols() + ")", x, out);
    }

    /** The batch N. */
    public int n() { return batch; }
    /** Tokens per sample. */
    public int t() { return x.rows() / batch; }
    public int d() { return x.cols(); }

    @Override public String type() { return "token_mean"; }
    @Override public List<Tensor> inputs() { return List.of(x); }
    @Override public List<Tensor> outputs() { return List.of(out); }
}
