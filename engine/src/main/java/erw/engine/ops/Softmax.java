package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/** Row-wise softmax over the last dimension (max-subtracted). */
public final class Softmax extends Op {
    private final Tensor x, out;
    private final int rows, c;

    public Softmax(String name, Tensor x, Tensor out) {
        super(name);
        this.x = x;
        this.out = out;
        this.c = x.cols();
        this.rows = x.rows();
        if (out.size() != x.size()) throw shapeError(type(), name, "output size differs from input", x, out);
    }

    @Override public String type() { return "softmax"; }
    @Override public List<Tensor> inputs() { return List.of(x); }
    @Override public List<Tensor> outputs() { return List.of(out); }

    @Override
    public void forward(WorkerPool pool) {
        float[] xd = x.data(), od = out.data();
        pool.parallelFor(rows, 8, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int o = r * c;
                float m = Float.NEGATIVE_INFINITY;
                for (int i = 0; i < c; i++) m = Math.max(m, xd[o + i]);
                float s = 0;
                for (int i = 0; i < c; i++) {
                    float e = (float) Math.exp(xd[o + i] - m);
                    od[o + i] = e;
                    s += e;
                }
                float inv = 1f / s;
                for (int i = 0; i < c; i++) od[o + i] *= inv;
            }
        });
    }

    @Override
    public void backward(WorkerPool pool) {
        if (!x.requiresGrad()) return;
        float[] y = out.data(), g = out.grad(), gx = x.grad();
        pool.parallelFor(rows, 8, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int o = r * c;
                float dot = 0;
                for (int i = 0; i < c; i++) dot += g[o + i] * y[o + i];
                for (int i = 0; i < c; i++) gx[o + i] += y[o + i] * (g[o + i] - dot);
            }
        });
    }
}
