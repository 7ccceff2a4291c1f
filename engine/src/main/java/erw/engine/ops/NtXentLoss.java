package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/**
 * NT-Xent alignment loss (SPEC section 3), per token position j: u_n = z_{n,j}/|z_{n,j}|,
 * w_m = y_{m,j}/|y_{m,j}|, logits_nm = u_n.w_m / tau; loss = mean over n and j of the cross-entropy
 * of row n with its positive on the diagonal (the other N-1 samples of the batch are negatives).
 * Symmetric: averaged with the same loss on the transposed logits. z and y are (N, T, Z); the
 * gradient flows to z. The backward recomputes the logits (nothing is saved).
 */
public record NtXentLoss(String name, Tensor z, Tensor y, int batch, float tau, boolean symmetric, Tensor out) implements Op {
    public static final float EPS = 1e-12f;

    public NtXentLoss {
        if (z.size() != y.size() || z.cols() != y.cols()) throw shapeError("ntxent_align", name, "projector tokens and targets must have the same shape", z, y);
        if (z.rows() % batch != 0) throw shapeError("ntxent_align", name, "rows must be batch " + batch + " x tokens", z);
        if (out.size() != 1) throw shapeError("ntxent_align", name, "output must be a scalar", out);
        if (!(tau > 0)) throw shapeError("ntxent_align", name, "temperature must be > 0, got " + tau, z);
    }

    /** The batch N. */
    public int n() { return batch; }
    /** Tokens per sample. */
    public int t() { return z.rows() / batch; }
    public int width() { return z.cols(); }

    @Override public String type() { return "ntxent_align"; }
    @Override public List<Tensor> inputs() { return List.of(z, y); }
    @Override public List<Tensor> outputs() { return List.of(out); }
}
