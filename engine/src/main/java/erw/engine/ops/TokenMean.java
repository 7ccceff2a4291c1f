package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/** Mean over the tokens of each sample: (N*T, D) to (N, D) (the pooling of a ViT classifier head). */
public final class TokenMean extends Op {
    private final Tensor x, out;
    private final int n, t, d;

    public TokenMean(String name, Tensor x, int batch, Tensor out) {
        super(name);
        this.x = x;
        this.out = out;
        this.n = batch;
        this.d = x.cols();
        if (x.rows() % batch != 0) throw shapeError(type(), name, "rows must be batch " + batch + " x tokens", x);
        this.t = x.rows() / batch;
        if (out.rows() != n || out.cols() != d) throw shapeError(type(), name, "output must be (" + n + ", " + d + ")", x, out);
    }

    @Override public String type() { return "token_mean"; }
    @Override public List<Tensor> inputs() { return List.of(x); }
    @Override public List<Tensor> outputs() { return List.of(out); }

    @Override
    public void forward(WorkerPool pool) {
        float[] xd = x.data(), od = out.data();
        float inv = 1f / t;
        pool.parallelFor(n, (lo, hi) -> {
            for (int b = lo; b < hi; b++) {
                java.util.Arrays.fill(od, b * d, (b + 1) * d, 0f);
                for (int r = b * t; r < (b + 1) * t; r++) for (int c = 0; c < d; c++) od[b * d + c] += xd[r * d + c];
                for (int c = 0; c < d; c++) od[b * d + c] *= inv;
            }
        });
    }

    @Override
    public void backward(WorkerPool pool) {
        if (!x.requiresGrad()) return;
        float[] g = out.grad(), gx = x.grad();
        float inv = 1f / t;
        pool.parallelFor(n, (lo, hi) -> {
            for (int b = lo; b < hi; b++) {
                for (int r = b * t; r < (b + 1) * t; r++) for (int c = 0; c < d; c++) gx[r * d + c] += g[b * d + c] * inv;
            }
        });
    }
}
