package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/**
 * SiT's sinusoidal timestep features: freq(t) = [cos(t f_k), sin(t f_k)], f_k = exp(-ln(10000) k/half),
 * k < half, t unscaled in [0, 1]. Not differentiable (t is data).
 */
public record TimestepEmbedding(String name, Tensor t, int dim, Tensor out) implements Op {
    public TimestepEmbedding {
        if (dim % 2 != 0) throw shapeError("timestep_embedding", name, "frequency dimension must be even, got " + dim, t);
        if (out.rows() != t.size() || out.cols() != dim) throw shapeError("timestep_embedding", name, "output must be (" + t.size() + ", " + dim + ")", t, out);
    }

    public int half() { return dim / 2; }

    @Override public String type() { return "timestep_embedding"; }
    @Override public List<Tensor> inputs() { return List.of(t); }
    @Override public List<Tensor> outputs() { return List.of(out); }
    @Override public boolean differentiable() { return false; }
}
