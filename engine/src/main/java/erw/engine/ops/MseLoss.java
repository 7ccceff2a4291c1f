package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/**
 * Mean squared error over every element: {@code mean((pred - target)^2)}, a one-element output.
 * With equal-sized samples this is SPEC's mean over (C,H,W) then over the batch.
 */
public record MseLoss(String name, Tensor pred, Tensor target, Tensor out) implements Op {
    public MseLoss {
        if (pred.size() != target.size()) throw shapeError("mse", name, "prediction and target differ in size", pred, target);
        if (out.size() != 1) throw shapeError("mse", name, "output must be a scalar", out);
    }

    @Override public String type() { return "mse"; }
    @Override public List<Tensor> inputs() { return List.of(pred, target); }
    @Override public List<Tensor> outputs() { return List.of(out); }
}
