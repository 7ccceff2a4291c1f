package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/** {@code out = a * b} elementwise, same sizes. */
public record Mul(String name, Tensor a, Tensor b, Tensor out) implements Op {
    public Mul {
        if (out.size() != a.size()) throw shapeError("mul", name, "output size differs from input", a, out);
        if (b.size() != a.size()) throw shapeError("mul", name, "operands must have the same size", a, b);
    }

    @Override public String type() { return "mul"; }
    @Override public List<Tensor> inputs() { return List.of(a, b); }
    @Override public List<Tensor> outputs() { return List.of(out); }
}
