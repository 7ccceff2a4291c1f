package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.EngineException;
import erw.engine.Op;
import erw.engine.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * AdamW as torch.optim.AdamW (bias-corrected, decoupled weight decay):
 * p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps).
 * The learning rate and the step count t (1-based, incremented by the host) are scalar tensors.
 * The moments are {@link Tensor.Kind#STATE} tensors named {@code <param>.exp_avg} / {@code .exp_avg_sq}.
 */
public record AdamW(String name, List<Tensor> params, Tensor lr, Tensor step, float beta1, float beta2, float eps, float weightDecay,
                    List<Tensor> m, List<Tensor> v) implements Op {
    public AdamW {
        params = List.copyOf(params);
        m = List.copyOf(m);
        v = List.copyOf(v);
        for (Tensor p : params) if (!p.requiresGrad()) throw shapeError("adamw", name, "parameter has no gradient", p);
        if (m.size() != params.size() || v.size() != params.size()) throw new EngineException("adamw '" + name + "': " + params.size() + " parameters but " + m.size() + " and " + v.size() + " moments");
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i);
            if (m.get(i).size() != p.size() || v.get(i).size() != p.size()) throw shapeError("adamw", name, "moments differ in size from the parameter", p, m.get(i), v.get(i));
        }
    }

    /** With fresh zero moments created here. */
    public AdamW(String name, List<Tensor> params, Tensor lr, Tensor step, float beta1, float beta2, float eps, float weightDecay) {
        this(name, params, lr, step, beta1, beta2, eps, weightDecay, moments(params, ".exp_avg"), moments(params, ".exp_avg_sq"));
    }

    private static List<Tensor> moments(List<Tensor> params, String suffix) {
        List<Tensor> l = new ArrayList<>();
        for (Tensor p : params) {
            if (!p.requiresGrad()) return List.of(); // the canonical constructor names the parameter
            l.add(Tensor.state(p.name() + suffix, p.shape()));
        }
        return l;
    }

    public List<Tensor> firstMoments() { return m; }
    public List<Tensor> secondMoments() { return v; }

    @Override public String type() { return "adamw"; }
    @Override public List<Tensor> inputs() { return params; }
    @Override public List<Tensor> outputs() { return params; }
    @Override public boolean differentiable() { return false; }
}
