package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/**
 * REPA's alignment loss: {@code -(1/(N T)) sum_{n,j} <z/|z|, y/|y|>} over token rows of the
 * projector output z and the target features y, both (N*T, Z). Gradient flows to z only (targets
 * are fixed encoder features). Norms are clamped at 1e-12 like torch's F.normalize. The forward
 * saves each row's cosine and the two norms for the backward.
 *
 * <p>With per-sample {@code weights} w (N) (REED's time weights w_t(t)), the loss is
 * {@code -(1/(N T)) sum_{n,j} w_n <z/|z|, y/|y|>} = {@code mean_n[w_n * align_n]}; {@code weights}
 * null means every w_n = 1 (and the same arithmetic as without weights). No gradient flows to w.
 */
public record CosineAlignLoss(String name, Tensor z, Tensor y, Tensor weights, Tensor out, Tensor cos, Tensor zNorm, Tensor yNorm) implements Op {
    public static final float EPS = 1e-12f;

    public CosineAlignLoss {
        if (z.size() != y.size() || z.cols() != y.cols()) throw shapeError("cosine_align", name, "projector tokens and targets must have the same shape", z, y);
        if (out.size() != 1) throw shapeError("cosine_align", name, "output must be a scalar", out);
        int rows = z.rows();
        if (cos.size() != rows || zNorm.size() != rows || yNorm.size() != rows) throw shapeError("cosine_align", name, "saved row statistics must have one entry per row", z, cos, zNorm, yNorm);
        if (weights != null && (weights.size() < 1 || rows % weights.size() != 0)) throw shapeError("cosine_align", name, "weights must hold one value per sample (rows = samples x tokens)", z, weights);
    }

    /** With its saved row statistics created here ({@code <name>.cos}, {@code .z_norm}, {@code .y_norm}). */
    public CosineAlignLoss(String name, Tensor z, Tensor y, Tensor weights, Tensor out) {
        this(name, z, y, weights, out, Tensor.saved(name + ".cos", z.rows()), Tensor.saved(name + ".z_norm", z.rows()), Tensor.saved(name + ".y_norm", z.rows()));
    }

    /** Unweighted. */
    public CosineAlignLoss(String name, Tensor z, Tensor y, Tensor out) {
        this(name, z, y, null, out);
    }

    public int rows() { return z.rows(); }
    public int width() { return z.cols(); }
    /** Rows of one sample (the weight index of row r is r / rowsPerWeight); all rows when unweighted. */
    public int rowsPerWeight() { return weights == null ? z.rows() : z.rows() / weights.size(); }

    @Override public String type() { return "cosine_align"; }
    @Override public List<Tensor> inputs() { return weights == null ? List.of(z, y) : List.of(z, y, weights); }
    @Override public List<Tensor> outputs() { return List.of(out); }
    @Override public List<Tensor> saved() { return List.of(cos, zNorm, yNorm); }
}
