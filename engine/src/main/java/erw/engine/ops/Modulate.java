package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/**
 * adaLN modulation {@code out = x * (1 + scale) + shift} with per-sample broadcast: x is (N, T, D),
 * shift and scale are (N, D).
 */
public final class Modulate extends Op {
    private final Tensor x, shift, scale, out;
    private final int n, t, d;

    public Modulate(String name, Tensor x, Tensor shift, Tensor scale, Tensor out) {
        super(name);
        this.x = x;
        this.shift = shift;
        this.scale = scale;
        this.out = out;
        this.d = x.cols();
        this.n = shift.rows();
        if (shift.cols() != d || scale.cols() != d || scale.rows() != n) throw shapeError(type(), name, "shift and scale must be (N, " + d + ")", x, shift, scale);
        if (x.rows() % n != 0) throw shapeError(type(), name, "x rows must be a multiple of the batch " + n, x, shift);
        this.t = x.rows() / n;
        if (out.size() != x.size()) throw shapeError(type(), name, "output size differs from input", x, out);
    }

    @Override public String type() { return "modulate"; }
    @Override public List<Tensor> inputs() { return List.of(x, shift, scale); }
    @Override public List<Tensor> outputs() { return List.of(out); }

    @Override
    public void forward(WorkerPool pool) {
        float[] xd = x.data(), sh = shift.data(), sc = scale.data(), od = out.data();
        pool.parallelFor(n * t, 16, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int s = (r / t) * d, o = r * d;
                for (int i = 0; i < d; i++) od[o + i] = xd[o + i] * (1f + sc[s + i]) + sh[s + i];
            }
        });
    }

    @Override
    public void backward(WorkerPool pool) {
        float[] xd = x.data(), sc = scale.data(), g = out.grad();
        float[] gx = x.requiresGrad() ? x.grad() : null;
        float[] gsh = shift.requiresGrad() ? shift.grad() : null;
        float[] gsc = scale.requiresGrad() ? scale.grad() : null;
        pool.parallelFor(n, (lo, hi) -> {
            for (int b = lo; b < hi; b++) {
                int s = b * d;
                for (int r = b * t; r < (b + 1) * t; r++) {
                    int o = r * d;
                    for (int i = 0; i < d; i++) {
                        float gi = g[o + i];
                        if (gx != null) gx[o + i] += gi * (1f + sc[s + i]);
                        if (gsh != null) gsh[s + i] += gi;
                        if (gsc != null) gsc[s + i] += gi * xd[o + i];
                    }
                }
            }
        });
    }
}
