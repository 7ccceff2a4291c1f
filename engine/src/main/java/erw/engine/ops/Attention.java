package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Precision;
import erw.engine.Tensor;
import java.util.List;

/**
 * Fused multi-head scaled-dot-product attention on a packed qkv tensor (N*T, 3D), laid out as
 * (N, T, 3, h, d) like the published SiT: {@code out = softmax(q k^T / sqrt(d)) v}, heads
 * concatenated into (N*T, D).
 *
 * <p>Memory-lean: the (T x T) probabilities are never stored. The forward saves one log-sum-exp per
 * query row ({@code lse}, N*h*T); the backward recomputes each probability row from it (as
 * FlashAttention does), so the extra memory is N*h*T floats instead of N*h*T*T.
 *
 * <p>{@code precision} is the number format of the operands of its products (q, k, v, the unnormalized
 * probabilities and, in backward, the output gradient and dS; see {@link Precision}); the softmax is fp32.
 */
public record Attention(String name, Tensor qkv, int batch, int heads, Tensor out, Tensor lse, Precision precision) implements Op {
    public Attention {
        if (precision == null) throw new IllegalArgumentException("attention '" + name + "': no precision");
        if (qkv.cols() % 3 != 0) throw shapeError("attention", name, "qkv's last dimension must be 3*D", qkv);
        int dim = qkv.cols() / 3;
        if (heads < 1 || dim % heads != 0) throw shapeError("attention", name, "hidden size " + dim + " is not divisible by " + heads + " heads", qkv);
        if (qkv.rows() % batch != 0) throw shapeError("attention", name, "rows must be batch " + batch + " x tokens", qkv);
        if (out.rows() != qkv.rows() || out.cols() != dim) throw shapeError("attention", name, "output must be (" + qkv.rows() + ", " + dim + ")", qkv, out);
        if (lse.size() != heads * qkv.rows()) throw shapeError("attention", name, "saved log-sum-exps must have heads x rows = " + heads * qkv.rows() + " elements", qkv, lse);
    }

    /** With its saved log-sum-exps created here ({@code <name>.lse}). */
    public Attention(String name, Tensor qkv, int batch, int heads, Tensor out, Precision precision) {
        this(name, qkv, batch, heads, out, Tensor.saved(name + ".lse", heads * qkv.rows()), precision);
    }

    /** In fp32, with its saved log-sum-exps created here. */
    public Attention(String name, Tensor qkv, int batch, int heads, Tensor out) {
        this(name, qkv, batch, heads, out, Precision.FP32);
    }

    /** The batch N. */
    public int n() { return batch; }
    /** Tokens per sample. */
    public int t() { return qkv.rows() / batch; }
    /** The hidden size D. */
    public int dim() { return qkv.cols() / 3; }
    /** The head dimension d. */
    public int hd() { return qkv.cols() / 3 / heads; }
    /** The softmax scale 1/sqrt(d). */
    public float scale() { return (float) (1.0 / Math.sqrt(hd())); }

    @Override public String type() { return "attention"; }
    @Override public List<Tensor> inputs() { return List.of(qkv); }
    @Override public List<Tensor> outputs() { return List.of(out); }
    @Override public List<Tensor> saved() { return List.of(lse); }
    @Override public long flops() { return 4L * n() * heads * t() * t() * hd(); }
}
