package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * LayerNorm over the last dimension, optionally with affine weight and bias (both null for none).
 * The forward saves each row's mean and reciprocal standard deviation for the backward.
 */
public record LayerNorm(String name, Tensor x, Tensor weight, Tensor bias, float eps, Tensor out, Tensor mean, Tensor rstd) implements Op {
    public LayerNorm {
        int d = x.cols();
        if (out.size() != x.size()) throw shapeError("layernorm", name, "output size differs from input", x, out);
        if ((weight == null) != (bias == null)) throw shapeError("layernorm", name, "affine needs both weight and bias", x);
        if (weight != null && (weight.size() != d || bias.size() != d)) throw shapeError("layernorm", name, "affine parameters must have " + d + " elements", x, weight, bias);
        if (mean.size() != x.rows() || rstd.size() != x.rows()) throw shapeError("layernorm", name, "saved statistics must have one entry per row", x, mean, rstd);
    }

    /** With its saved statistics created here ({@code <name>.mean}, {@code <name>.rstd}). */
    public LayerNorm(String name, Tensor x, Tensor weight, Tensor bias, float eps, Tensor out) {
        this(name, x, weight, bias, eps, out, Tensor.saved(name + ".mean", x.rows()), Tensor.saved(name + ".rstd", x.rows()));
    }

    public int rows() { return x.rows(); }
    public int d() { return x.cols(); }

    @Override public String type() { return "layernorm"; }

    @Override public List<Tensor> inputs() {
        List<Tensor> l = new ArrayList<>(List.of(x));
        if (weight != null) { l.add(weight); l.add(bias); }
        return l;
    }

    @Override public List<Tensor> outputs() { return List.of(out); }
    @Override public List<Tensor> saved() { return List.of(mean, rstd); }
}
