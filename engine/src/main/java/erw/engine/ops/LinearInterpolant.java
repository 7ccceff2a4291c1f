package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/**
 * The linear path of SiT: x_t = (1 - t) x0 + t e and the velocity target v = e - x0, with one t per
 * sample (t is (N), x0 and e are (N, ...)). Data preparation, not differentiated.
 */
public final class LinearInterpolant extends Op {
    private final Tensor x0, noise, t, xt, v;
    private final int n, per;

    public LinearInterpolant(String name, Tensor x0, Tensor noise, Tensor t, Tensor xt, Tensor v) {
        super(name);
        this.x0 = x0;
        this.noise = noise;
        this.t = t;
        this.xt = xt;
        this.v = v;
        this.n = t.size();
        if (noise.size() != x0.size() || xt.size() != x0.size() || v.size() != x0.size() || x0.size() % n != 0) {
            throw shapeError(type(), name, "x0, noise, x_t and v must have the same size, a multiple of the batch", x0, noise, t, xt, v);
        }
        this.per = x0.size() / n;
    }

    @Override public String type() { return "linear_interpolant"; }
    @Override public List<Tensor> inputs() { return List.of(x0, noise, t); }
    @Override public List<Tensor> outputs() { return List.of(xt, v); }
    @Override public boolean differentiable() { return false; }
    @Override public void backward(WorkerPool pool) { }

    @Override
    public void forward(WorkerPool pool) {
        float[] a = x0.data(), e = noise.data(), td = t.data(), xd = xt.data(), vd = v.data();
        pool.parallelFor(n, (lo, hi) -> {
            for (int b = lo; b < hi; b++) {
                float tb = td[b];
                for (int i = b * per; i < (b + 1) * per; i++) {
                    xd[i] = (1f - tb) * a[i] + tb * e[i];
                    vd[i] = e[i] - a[i];
                }
            }
        });
    }
}
