package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.EngineException;
import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/** The global {@code sqrt(sum of squares)} over several tensors (the gradient-norm shape), a one-element output. */
public record L2Norm(String name, List<Tensor> xs, Tensor out) implements Op {
    public L2Norm {
        xs = List.copyOf(xs);
        if (xs.isEmpty()) throw new EngineException("l2norm '" + name + "': no inputs");
        if (out.size() != 1) throw shapeError("l2norm", name, "output must be a scalar", out);
    }

    @Override public String type() { return "l2norm"; }
    @Override public List<Tensor> inputs() { return xs; }
    @Override public List<Tensor> outputs() { return List.of(out); }
}
