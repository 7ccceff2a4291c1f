package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/**
 * 2-D rotary position embedding on the q and k parts of a packed qkv tensor (N*T, 3D) laid out
 * (N, T, 3, h, d), v copied unchanged: u' = u * cos[j] + rotate_half(u) * sin[j] per head, with
 * rotate_half (u0, u1) -> (-u1, u0) on consecutive pairs and tables (T, d) (LightningDiT's
 * VisionRotaryEmbeddingFast). The backward applies the transposed rotation.
 */
public final class Rope extends Op {
    private final Tensor in, cos, sin, out;
    private final int n, t, dim, hd, heads;

    public Rope(String name, Tensor in, Tensor cos, Tensor sin, int batch, int heads, Tensor out) {
        super(name);
        this.in = in;
        this.cos = cos;
        this.sin = sin;
        this.out = out;
        this.n = batch;
        this.heads = heads;
        if (in.cols() % 3 != 0 || (in.cols() / 3) % heads != 0) throw shapeError(type(), name, "qkv's last dimension must be 3*h*d", in);
        this.dim = in.cols() / 3;
        this.hd = dim / heads;
        if (hd % 2 != 0) throw shapeError(type(), name, "head dimension " + hd + " must be even", in);
        if (in.rows() % batch != 0) throw shapeError(type(), name, "rows must be batch " + batch + " x tokens", in);
        this.t = in.rows() / batch;
        if (cos.size() != t * hd || sin.size() != t * hd) throw shapeError(type(), name, "tables must be (" + t + ", " + hd + ")", cos, sin);
        if (out.size() != in.size()) throw shapeError(type(), name, "output size differs from input", in, out);
    }

    @Override public String type() { return "rope"; }
    @Override public List<Tensor> inputs() { return List.of(in, cos, sin); }
    @Override public List<Tensor> outputs() { return List.of(out); }

    @Override
    public void forward(WorkerPool pool) {
        float[] x = in.data(), y = out.data(), c = cos.data(), s = sin.data();
        pool.parallelFor(n * t, 16, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int j = r % t, row = r * 3 * dim, tab = j * hd;
                for (int part = 0; part < 2; part++) {
                    for (int h = 0; h < heads; h++) {
                        int o = row + part * dim + h * hd;
                        for (int i = 0; i < hd; i += 2) {
                            float u0 = x[o + i], u1 = x[o + i + 1];
                            y[o + i] = u0 * c[tab + i] - u1 * s[tab + i];
                            y[o + i + 1] = u1 * c[tab + i + 1] + u0 * s[tab + i + 1];
                        }
                    }
                }
                System.arraycopy(x, row + 2 * dim, y, row + 2 * dim, dim);
            }
        });
    }

    @Override
    public void backward(WorkerPool pool) {
        if (!in.requiresGrad()) return;
        float[] g = out.grad(), gx = in.grad(), c = cos.data(), s = sin.data();
        pool.parallelFor(n * t, 16, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int j = r % t, row = r * 3 * dim, tab = j * hd;
                for (int part = 0; part < 2; part++) {
                    for (int h = 0; h < heads; h++) {
                        int o = row + part * dim + h * hd;
                        for (int i = 0; i < hd; i += 2) {
                            float g0 = g[o + i], g1 = g[o + i + 1];
                            gx[o + i] += g0 * c[tab + i] + g1 * s[tab + i + 1];
                            gx[o + i + 1] += g1 * c[tab + i + 1] - g0 * s[tab + i];
                        }
                    }
                }
                for (int i = 0; i < dim; i++) gx[row + 2 * dim + i] += g[row + 2 * dim + i];
            }
        });
    }
}
