package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/**
 * SiT's sinusoidal timestep features: freq(t) = [cos(t f_k), sin(t f_k)], f_k = exp(-ln(10000) k/half),
 * k < half, t unscaled in [0, 1]. Not differentiable (t is data).
 */
public final class TimestepEmbedding extends Op {
    private final Tensor t, out;
    private final int dim, half;

    public TimestepEmbedding(String name, Tensor t, int dim, Tensor out) {
        super(name);
        this.t = t;
        this.out = out;
        this.dim = dim;
        this.half = dim / 2;
        if (dim % 2 != 0) throw shapeError(type(), name, "frequency dimension must be even, got " + dim, t);
        if (out.rows() != t.size() || out.cols() != dim) throw shapeError(type(), name, "output must be (" + t.size() + ", " + dim + ")", t, out);
    }

    @Override public String type() { return "timestep_embedding"; }
    @Override public List<Tensor> inputs() { return List.of(t); }
    @Override public List<Tensor> outputs() { return List.of(out); }
    @Override public boolean differentiable() { return false; }
    @Override public void backward(WorkerPool pool) { }

    @Override
    public void forward(WorkerPool pool) {
        float[] td = t.data(), od = out.data();
        for (int i = 0; i < td.length; i++) {
            for (int k = 0; k < half; k++) {
                float f = (float) Math.exp(-Math.log(10000.0) * k / half);
                float arg = td[i] * f;
                od[i * dim + k] = (float) Math.cos(arg);
                od[i * dim + half + k] = (float) Math.sin(arg);
            }
        }
    }
}
