package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/** Pointwise nonlinearities: SiLU {@code x*sigmoid(x)} and GELU with the tanh approximation. */
public final class Activation extends Op {
    public enum Kind { SILU, GELU_TANH }

    private static final float SQRT_2_OVER_PI = 0.7978845608028654f;
    private static final float GELU_C = 0.044715f;

    private final Kind kind;
    private final Tensor x, out;

    public Activation(String name, Kind kind, Tensor x, Tensor out) {
        super(name);
        this.kind = kind;
        this.x = x;
        this.out = out;
        if (out.size() != x.size()) throw shapeError(type(), name, "output size differs from input", x, out);
    }

    @Override public String type() { return kind == Kind.SILU ? "silu" : "gelu"; }
    @Override public List<Tensor> inputs() { return List.of(x); }
    @Override public List<Tensor> outputs() { return List.of(out); }

    @Override
    public void forward(WorkerPool pool) {
        float[] xd = x.data(), od = out.data();
        pool.parallelFor(x.size(), 4096, (lo, hi) -> {
            if (kind == Kind.SILU) {
                for (int i = lo; i < hi; i++) {
                    float v = xd[i];
                    od[i] = v / (1f + (float) Math.exp(-v));
                }
            } else {
                for (int i = lo; i < hi; i++) {
                    float v = xd[i];
                    float u = SQRT_2_OVER_PI * (v + GELU_C * v * v * v);
                    od[i] = 0.5f * v * (1f + (float) Math.tanh(u));
                }
            }
        });
    }

    @Override
    public void backward(WorkerPool pool) {
        if (!x.requiresGrad()) return;
        float[] xd = x.data(), g = out.grad(), gx = x.grad();
        pool.parallelFor(x.size(), 4096, (lo, hi) -> {
            if (kind == Kind.SILU) {
                for (int i = lo; i < hi; i++) {
                    float v = xd[i];
                    float s = 1f / (1f + (float) Math.exp(-v));
                    gx[i] += g[i] * s * (1f + v * (1f - s));
                }
            } else {
                for (int i = lo; i < hi; i++) {
                    float v = xd[i];
                    float u = SQRT_2_OVER_PI * (v + GELU_C * v * v * v);
                    float th = (float) Math.tanh(u);
                    float du = SQRT_2_OVER_PI * (1f + 3f * GELU_C * v * v);
                    gx[i] += g[i] * (0.5f * (1f + th) + 0.5f * v * (1f - th * th) * du);
                }
            }
        });
    }
}
