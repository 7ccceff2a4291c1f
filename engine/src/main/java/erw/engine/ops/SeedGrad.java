package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/** Sets d(loss) = 1 before the reverse sweep of a backward graph. */
public record SeedGrad(String name, Tensor loss) implements Op {
    @Override public String type() { return "seed_grad"; }
    @Override public List<Tensor> inputs() { return List.of(); }
    @Override public List<Tensor> outputs() { return List.of(loss); }
    @Override public boolean differentiable() { return false; }
}
