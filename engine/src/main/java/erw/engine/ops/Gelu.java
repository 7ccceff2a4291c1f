package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/** GELU with the tanh approximation. */
public record Gelu(String name, Tensor x, Tensor out) implements Op {
    public Gelu {
        if (out.size() != x.size()) throw shapeError("gelu", name, "output size differs from input", x, out);
    }

    @Override public String type() { return "gelu"; }
    @Override public List<Tensor> inputs() { return List.of(x); }
    @Override public List<Tensor> outputs() { return List.of(out); }
}
