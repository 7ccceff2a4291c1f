package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/** adaLN-Zero residual {@code out = x + gate * h}: x and h (N, T, D), gate (N, D) broadcast over tokens. */
public final class GatedResidual extends Op {
    private final Tensor x, gate, h, out;
    private final int n, t, d;

    public GatedResidual(String name, Tensor x, Tensor gate, Tensor h, Tensor out) {
        super(name);
        this.x = x;
        this.gate = gate;
        this.h = h;
        this.out = out;
        this.d = x.cols();
        this.n = gate.rows();
        if (h.size() != x.size() || out.size() != x.size()) throw shapeError(type(), name, "x, h and output must have the same shape", x, h, out);
        if (gate.cols() != d || x.rows() % n != 0) throw shapeError(type(), name, "gate must be (N, " + d + ") with N dividing the rows of x", x, gate);
        this.t = x.rows() / n;
    }

    @Override public String type() { return "gated_residual"; }
    @Override public List<Tensor> inputs() { return List.of(x, gate, h); }
    @Override public List<Tensor> outputs() { return List.of(out); }

    @Override
    public void forward(WorkerPool pool) {
        float[] xd = x.data(), gd = gate.data(), hd = h.data(), od = out.data();
        pool.parallelFor(n * t, 16, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int s = (r / t) * d, o = r * d;
                for (int i = 0; i < d; i++) od[o + i] = xd[o + i] + gd[s + i] * hd[o + i];
            }
        });
    }

    @Override
    public void backward(WorkerPool pool) {
        float[] gd = gate.data(), hd = h.data(), g = out.grad();
        float[] gx = x.requiresGrad() ? x.grad() : null;
        float[] gh = h.requiresGrad() ? h.grad() : null;
        float[] gg = gate.requiresGrad() ? gate.grad() : null;
        pool.parallelFor(n, (lo, hi) -> {
            for (int b = lo; b < hi; b++) {
                int s = b * d;
                for (int r = b * t; r < (b + 1) * t; r++) {
                    int o = r * d;
                    for (int i = 0; i < d; i++) {
                        float gi = g[o + i];
                        if (gx != null) gx[o + i] += gi;
                        if (gh != null) gh[o + i] += gi * gd[s + i];
                        if (gg != null) gg[s + i] += gi * hd[o + i];
                    }
                }
            }
        });
    }
}
