package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/** The sum of all elements of x, a one-element output (blocked, in double: deterministic). */
public record Sum(String name, Tensor x, Tensor out) implements Op {
    public Sum {
        if (out.size() != 1) throw shapeError("sum", name, "output must be a scalar", out);
    }

    @Override public String type() { return "sum"; }
    @Override public List<Tensor> inputs() { return List.of(x); }
    @Override public List<Tensor> outputs() { return List.of(out); }
}
