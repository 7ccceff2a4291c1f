package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/**
 * {@code out = alpha * x}, alpha a constant times an optional one-element scalar tensor (a
 * step-varying weight such as ERW's lambda, read at run time so graphs need no re-recording).
 */
public record Scale(String name, Tensor x, float alpha, Tensor factor, Tensor out) implements Op {
    public Scale {
        if (out.size() != x.size()) throw shapeError("scale", name, "output size differs from input", x, out);
        if (factor != null && factor.size() != 1) throw shapeError("scale", name, "factor must be a one-element scalar", factor);
    }

    @Override public String type() { return "scale"; }
    @Override public List<Tensor> inputs() { return factor == null ? List.of(x) : List.of(x, factor); }
    @Override public List<Tensor> outputs() { return List.of(out); }
}
