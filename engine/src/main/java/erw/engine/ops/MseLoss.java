package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.Reduce;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/**
 * Mean squared error over every element: {@code mean((pred - target)^2)}, a one-element output.
 * With equal-sized samples this is SPEC's mean over (C,H,W) then over the batch.
 */
public final class MseLoss extends Op {
    private final Tensor pred, target, out;

    public MseLoss(String name, Tensor pred, Tensor target, Tensor out) {
        super(name);
        this.pred = pred;
        this.target = target;
        this.out = out;
        if (pred.size() != target.size()) throw shapeError(type(), name, "prediction and target differ in size", pred, target);
        if (out.size() != 1) throw shapeError(type(), name, "output must be a scalar", out);
    }

    @Override public String type() { return "mse"; }
    @Override public List<Tensor> inputs() { return List.of(pred, target); }
    @Override public List<Tensor> outputs() { return List.of(out); }

    @Override
    public void forward(WorkerPool pool) {
        float[] a = pred.data(), b = target.data();
        double s = Reduce.sum(pool, a.length, (lo, hi) -> {
            double acc = 0;
            for (int i = lo; i < hi; i++) {
                double d = a[i] - b[i];
                acc += d * d;
            }
            return acc;
        });
        out.data()[0] = (float) (s / a.length);
    }

    @Override
    public void backward(WorkerPool pool) {
        float[] a = pred.data(), b = target.data();
        float k = 2f * out.grad()[0] / a.length;
        float[] ga = pred.requiresGrad() ? pred.grad() : null, gb = target.requiresGrad() ? target.grad() : null;
        pool.parallelFor(a.length, 4096, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                float g = k * (a[i] - b[i]);
                if (ga != null) ga[i] += g;
                if (gb != null) gb[i] -= g;
            }
        });
    }
}
