package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.Reduce;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/**
 * Global gradient-norm clipping as torch.nn.utils.clip_grad_norm_: norm = sqrt(sum of all g^2);
 * g *= min(1, maxNorm / (norm + 1e-6)). Writes the pre-clip norm to {@code normOut}.
 */
public final class ClipGradNorm extends Op {
    private final List<Tensor> params;
    private final float maxNorm;
    private final Tensor normOut;

    public ClipGradNorm(String name, List<Tensor> params, float maxNorm, Tensor normOut) {
        super(name);
        this.params = List.copyOf(params);
        this.maxNorm = maxNorm;
        this.normOut = normOut;
        if (normOut.size() != 1) throw shapeError(type(), name, "norm output must be a scalar", normOut);
        for (Tensor p : params) if (!p.requiresGrad()) throw shapeError(type(), name, "parameter has no gradient", p);
    }

    @Override public String type() { return "clip_grad_norm"; }
    @Override public List<Tensor> inputs() { return params; }
    @Override public List<Tensor> outputs() { return List.of(normOut); }
    @Override public boolean differentiable() { return false; }
    @Override public void backward(WorkerPool pool) { }

    @Override
    public void forward(WorkerPool pool) {
        double s = 0;
        for (Tensor p : params) s += Reduce.sumSquares(pool, p.grad());
        float norm = (float) Math.sqrt(s);
        normOut.data()[0] = norm;
        float coef = Math.min(1f, maxNorm / (norm + 1e-6f));
        if (coef >= 1f || !Float.isFinite(coef)) return;
        for (Tensor p : params) {
            float[] g = p.grad();
            pool.parallelFor(g.length, 4096, (lo, hi) -> {
                for (int i = lo; i < hi; i++) g[i] *= coef;
            });
        }
    }
}
