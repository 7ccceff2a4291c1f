package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/** SiLU {@code x * sigmoid(x)}. */
public record Silu(String name, Tensor x, Tensor out) implements Op {
    public Silu {
        if (out.size() != x.size()) throw shapeError("silu", name, "output size differs from input", x, out);
    }

    @Override public String type() { return "silu"; }
    @Override public List<Tensor> inputs() { return List.of(x); }
    @Override public List<Tensor> outputs() { return List.of(out); }
}
