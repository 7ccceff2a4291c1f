package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/** {@code out = a + b}; b may be broadcast: its size divides a's, repeated over the leading rows (a bias or a position table). */
public record Add(String name, Tensor a, Tensor b, Tensor out) implements Op {
    public Add {
        if (out.size() != a.size()) throw shapeError("add", name, "output size differs from input", a, out);
        if (a.size() % b.size() != 0) throw shapeError("add", name, "second operand must have the first's size or divide it (broadcast)", a, b);
    }

    @Override public String type() { return "add"; }
    @Override public List<Tensor> inputs() { return List.of(a, b); }
    @Override public List<Tensor> outputs() { return List.of(out); }
}
