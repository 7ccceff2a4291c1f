package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/**
 * {@code out = alpha * x}, alpha a constant times an optional one-element scalar tensor (a
 * step-varying weight such as ERW's lambda, read at run time so graphs need no re-recording).
 */
public final class Scale extends Op {
    private final Tensor x, factor, out;
    private final float alpha;

    public Scale(String name, Tensor x, float alpha, Tensor factor, Tensor out) {
        super(name);
        this.x = x;
        this.alpha = alpha;
        this.factor = factor;
        this.out = out;
        if (out.size() != x.size()) throw shapeError(type(), name, "output size differs from input", x, out);
        if (factor != null && factor.size() != 1) throw shapeError(type(), name, "factor must be a one-element scalar", factor);
    }

    private float coefficient() {
        return factor == null ? alpha : alpha * factor.data()[0];
    }

    @Override public String type() { return "scale"; }
    @Override public List<Tensor> inputs() { return factor == null ? List.of(x) : List.of(x, factor); }
    @Override public List<Tensor> outputs() { return List.of(out); }

    @Override
    public void forward(WorkerPool pool) {
        float s = coefficient();
        float[] xd = x.data(), od = out.data();
        pool.parallelFor(x.size(), 4096, (lo, hi) -> {
            for (int i = lo; i < hi; i++) od[i] = s * xd[i];
        });
    }

    @Override
    public void backward(WorkerPool pool) {
        if (!x.requiresGrad()) return;
        float s = coefficient();
        float[] g = out.grad(), gx = x.grad();
        pool.parallelFor(x.size(), 4096, (lo, hi) -> {
            for (int i = lo; i < hi; i++) gx[i] += s * g[i];
        });
    }
}
