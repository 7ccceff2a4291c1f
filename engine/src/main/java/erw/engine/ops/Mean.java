package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/** The mean of all elements of x, a one-element output (blocked sum in double: deterministic). */
public record Mean(String name, Tensor x, Tensor out) implements Op {
    public Mean {
        if (out.size() != 1) throw shapeError("mean", name, "output must be a scalar", out);
    }

    @Override public String type() { return "mean"; }
    @Override public List<Tensor> inputs() { return List.of(x); }
    @Override public List<Tensor> outputs() { return List.of(out); }
}
