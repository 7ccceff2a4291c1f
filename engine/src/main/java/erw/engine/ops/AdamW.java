package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.WorkerPool;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * AdamW as torch.optim.AdamW (bias-corrected, decoupled weight decay):
 * p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps).
 * The learning rate and the step count t (1-based, incremented by the host) are scalar tensors.
 * The moments are {@link Tensor.Kind#STATE} tensors named {@code <param>.exp_avg} / {@code .exp_avg_sq}.
 */
public final class AdamW extends Op {
    private final List<Tensor> params, m, v;
    private final Tensor lr, step;
    private final float beta1, beta2, eps, weightDecay;

    public AdamW(String name, List<Tensor> params, Tensor lr, Tensor step, float beta1, float beta2, float eps, float weightDecay) {
        super(name);
        this.params = List.copyOf(params);
        this.lr = lr;
        this.step = step;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        List<Tensor> mm = new ArrayList<>(), vv = new ArrayList<>();
        for (Tensor p : params) {
            if (!p.requiresGrad()) throw shapeError(type(), name, "parameter has no gradient", p);
            mm.add(Tensor.state(p.name() + ".exp_avg", p.shape()));
            vv.add(Tensor.state(p.name() + ".exp_avg_sq", p.shape()));
        }
        this.m = Collections.unmodifiableList(mm);
        this.v = Collections.unmodifiableList(vv);
    }

    @Override public String type() { return "adamw"; }
    @Override public List<Tensor> inputs() { return params; }
    @Override public List<Tensor> outputs() { return params; }
    @Override public boolean differentiable() { return false; }
    @Override public void backward(WorkerPool pool) { }

    public List<Tensor> firstMoments() { return m; }
    public List<Tensor> secondMoments() { return v; }

    @Override
    public void forward(WorkerPool pool) {
        float rate = lr.data()[0];
        double t = step.data()[0];
        float bc1 = (float) (1 - Math.pow(beta1, t));
        float bc2Sqrt = (float) Math.sqrt(1 - Math.pow(beta2, t));
        float stepSize = rate / bc1;
        float decay = 1f - rate * weightDecay;
        for (int k = 0; k < params.size(); k++) {
            float[] p = params.get(k).data(), g = params.get(k).grad(), md = m.get(k).data(), vd = v.get(k).data();
            pool.parallelFor(p.length, 4096, (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    float gi = g[i];
                    float pi = weightDecay != 0f ? p[i] * decay : p[i];
                    float mi = beta1 * md[i] + (1f - beta1) * gi;
                    float vi = beta2 * vd[i] + (1f - beta2) * gi * gi;
                    md[i] = mi;
                    vd[i] = vi;
                    p[i] = pi - stepSize * mi / ((float) Math.sqrt(vi) / bc2Sqrt + eps);
                }
            });
        }
    }
}
