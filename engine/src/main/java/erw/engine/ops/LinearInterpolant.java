package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/**
 * The linear path of SiT: x_t = (1 - t) x0 + t e and the velocity target v = e - x0, with one t per
 * sample (t is (N), x0 and e are (N, ...)). Data preparation, not differentiated.
 */
public record LinearInterpolant(String name, Tensor x0, Tensor noise, Tensor t, Tensor xt, Tensor v) implements Op {
    public LinearInterpolant {
        int n = t.size();
        if (noise.size() != x0.size() || xt.size() != x0.size() || v.size() != x0.size() || x0.size() % n != 0) {
            throw shapeError("linear_interpolant", name, "x0, noise, x_t and v must have the same size, a multiple of the batch", x0, noise, t, xt, v);
        }
    }

    /** The batch N. */
    public int n() { return t.size(); }
    /** Elements per sample. */
    public int per() { return x0.size() / t.size(); }

    @Override public String type() { return "linear_interpolant"; }
    @Override public List<Tensor> inputs() { return List.of(x0, noise, t); }
    @Override public List<Tensor> outputs() { return List.of(xt, v); }
    @Override public boolean differentiable() { return false; }
}
