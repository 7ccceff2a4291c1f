package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/**
 * 2-D rotary position embedding on the q and k parts of a packed qkv tensor (N*T, 3D) laid out
 * (N, T, 3, h, d), v copied unchanged: u' = u * cos[j] + rotate_half(u) * sin[j] per head, with
 * rotate_half (u0, u1) -> (-u1, u0) on consecutive pairs and tables (T, d) (LightningDiT's
 * VisionRotaryEmbeddingFast). The backward applies the transposed rotation.
 */
public record Rope(String name, Tensor in, Tensor cos, Tensor sin, int batch, int heads, Tensor out) implements Op {
    public Rope {
        if (in.cols() % 3 != 0 || (in.cols() / 3) % heads != 0) throw shapeError("rope", name, "qkv's last dimension must be 3*h*d", in);
        int hd = in.cols() / 3 / heads;
        if (hd % 2 != 0) throw shapeError("rope", name, "head dimension " + hd + " must be even", in);
        if (in.rows() % batch != 0) throw shapeError("rope", name, "rows must be batch " + batch + " x tokens", in);
        int t = in.rows() / batch;
        if (cos.size() != t * hd || sin.size() != t * hd) throw shapeError("rope", name, "tables must be (" + t + ", " + hd + ")", cos, sin);
        if (out.size() != in.size()) throw shapeError("rope", name, "output size differs from input", in, out);
    }

    /** The batch N. */
    public int n() { return batch; }
    /** Tokens per sample. */
    public int t() { return in.rows() / batch; }
    /** The hidden size D. */
    public int dim() { return in.cols() / 3; }
    /** The head dimension d. */
    public int hd() { return in.cols() / 3 / heads; }

    @Override public String type() { return "rope"; }
    @Override public List<Tensor> inputs() { return List.of(in, cos, sin); }
    @Override public List<Tensor> outputs() { return List.of(out); }
}
