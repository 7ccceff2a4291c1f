package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.WorkerPool;
import java.util.ArrayList;
import java.util.List;

/**
 * LayerNorm over the last dimension, optionally with affine weight and bias. The per-row mean and
 * reciprocal standard deviation are kept for the backward pass (statistics in double).
 */
public final class LayerNorm extends Op {
    private final Tensor x, weight, bias, out;
    private final float eps;
    private final int rows, d;
    private final float[] mean, rstd;

    public LayerNorm(String name, Tensor x, Tensor weight, Tensor bias, float eps, Tensor out) {
        super(name);
        this.x = x;
        this.weight = weight;
        this.bias = bias;
        this.out = out;
        this.eps = eps;
        this.d = x.cols();
        this.rows = x.rows();
        if (out.size() != x.size()) throw shapeError(type(), name, "output size differs from input", x, out);
        if ((weight == null) != (bias == null)) throw shapeError(type(), name, "affine needs both weight and bias", x);
        if (weight != null && (weight.size() != d || bias.size() != d)) throw shapeError(type(), name, "affine parameters must have " + d + " elements", x, weight, bias);
        this.mean = new float[rows];
        this.rstd = new float[rows];
    }

    @Override public String type() { return "layernorm"; }

    @Override public List<Tensor> inputs() {
        List<Tensor> l = new ArrayList<>(List.of(x));
        if (weight != null) { l.add(weight); l.add(bias); }
        return l;
    }

    @Override public List<Tensor> outputs() { return List.of(out); }

    @Override
    public void forward(WorkerPool pool) {
        float[] xd = x.data(), od = out.data();
        float[] w = weight == null ? null : weight.data(), b = bias == null ? null : bias.data();
        pool.parallelFor(rows, 8, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int o = r * d;
                double s = 0;
                for (int i = 0; i < d; i++) s += xd[o + i];
                double mu = s / d;
                double v = 0;
                for (int i = 0; i < d; i++) {
                    double t = xd[o + i] - mu;
                    v += t * t;
                }
                float m = (float) mu, rs = (float) (1.0 / Math.sqrt(v / d + eps));
                mean[r] = m;
                rstd[r] = rs;
                if (w == null) {
                    for (int i = 0; i < d; i++) od[o + i] = (xd[o + i] - m) * rs;
                } else {
                    for (int i = 0; i < d; i++) od[o + i] = (xd[o + i] - m) * rs * w[i] + b[i];
                }
            }
        });
    }

    @Override
    public void backward(WorkerPool pool) {
        float[] xd = x.data(), g = out.grad();
        float[] w = weight == null ? null : weight.data();
        if (x.requiresGrad()) {
            float[] gx = x.grad();
            pool.parallelFor(rows, 8, (lo, hi) -> {
                for (int r = lo; r < hi; r++) {
                    int o = r * d;
                    float m = mean[r], rs = rstd[r];
                    double sg = 0, sgx = 0;
                    for (int i = 0; i < d; i++) {
                        float gi = w == null ? g[o + i] : g[o + i] * w[i];
                        float xh = (xd[o + i] - m) * rs;
                        sg += gi;
                        sgx += gi * xh;
                    }
                    float mg = (float) (sg / d), mgx = (float) (sgx / d);
                    for (int i = 0; i < d; i++) {
                        float gi = w == null ? g[o + i] : g[o + i] * w[i];
                        float xh = (xd[o + i] - m) * rs;
                        gx[o + i] += rs * (gi - mg - xh * mgx);
                    }
                }
            });
        }
        if (weight != null && (weight.requiresGrad() || bias.requiresGrad())) {
            float[] gw = weight.grad(), gb = bias.grad();
            pool.parallelFor(d, 16, (c0, c1) -> {
                int wdt = c1 - c0;
                float[] aw = new float[wdt], ab = new float[wdt];
                for (int r = 0; r < rows; r++) {
                    int o = r * d;
                    float m = mean[r], rs = rstd[r];
                    for (int c = 0; c < wdt; c++) {
                        float gi = g[o + c0 + c];
                        aw[c] += gi * (xd[o + c0 + c] - m) * rs;
                        ab[c] += gi;
                    }
                }
                for (int c = 0; c < wdt; c++) {
                    if (gw != null) gw[c0 + c] += aw[c];
                    if (gb != null) gb[c0 + c] += ab[c];
                }
            });
        }
    }
}
