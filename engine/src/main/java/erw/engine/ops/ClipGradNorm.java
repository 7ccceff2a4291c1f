package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/**
 * Global gradient-norm clipping as torch.nn.utils.clip_grad_norm_: norm = sqrt(sum of all g^2);
 * g *= min(1, maxNorm / (norm + 1e-6)). Writes the pre-clip norm to {@code normOut}.
 */
public record ClipGradNorm(String name, List<Tensor> params, float maxNorm, Tensor normOut) implements Op {
    public ClipGradNorm {
        params = List.copyOf(params);
        if (normOut.size() != 1) throw shapeError("clip_grad_norm", name, "norm output must be a scalar", normOut);
        for (Tensor p : params) if (!p.requiresGrad()) throw shapeError("clip_grad_norm", name, "parameter has no gradient", p);
    }

    @Override public String type() { return "clip_grad_norm"; }
    @Override public List<Tensor> inputs() { return params; }
    @Override public List<Tensor> outputs() { return List.of(normOut); }
    @Override public boolean differentiable() { return false; }
}
