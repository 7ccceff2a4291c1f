package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/** Sets the gradients of the given tensors to zero (parameters after an optimizer step; activations before a backward pass). */
public final class ZeroGrad extends Op {
    private final List<Tensor> tensors;

    public ZeroGrad(String name, List<Tensor> tensors) {
        super(name);
        this.tensors = List.copyOf(tensors);
    }

    @Override public String type() { return "zero_grad"; }
    @Override public List<Tensor> inputs() { return List.of(); }
    @Override public List<Tensor> outputs() { return tensors; }
    @Override public boolean differentiable() { return false; }
    @Override public void backward(WorkerPool pool) { }

    @Override
    public void forward(WorkerPool pool) {
        for (Tensor t : tensors) {
            float[] g = t.grad();
            if (g == null) continue;
            pool.parallelFor(g.length, 16384, (lo, hi) -> java.util.Arrays.fill(g, lo, hi, 0f));
        }
    }
}
