package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/** Sets the gradients of the given tensors to zero (parameters after an optimizer step; activations before a backward pass). */
public record ZeroGrad(String name, List<Tensor> tensors) implements Op {
    public ZeroGrad {
        tensors = List.copyOf(tensors);
    }

    @Override public String type() { return "zero_grad"; }
    @Override public List<Tensor> inputs() { return List.of(); }
    @Override public List<Tensor> outputs() { return tensors; }
    @Override public boolean differentiable() { return false; }
}
