package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.Vec;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/**
 * REPA's alignment loss: {@code -(1/(N T)) sum_{n,j} <z/|z|, y/|y|>} over token rows of the
 * projector output z and the target features y, both (N*T, Z). Gradient flows to z only (targets
 * are fixed encoder features). Norms are clamped at 1e-12 like torch's F.normalize.
 */
public final class CosineAlignLoss extends Op {
    private static final float EPS = 1e-12f;
    private final Tensor z, y, out;
    private final int rows, width;
    private final float[] cos, zNorm, yNorm;

    public CosineAlignLoss(String name, Tensor z, Tensor y, Tensor out) {
        super(name);
        this.z = z;
        this.y = y;
        this.out = out;
        if (z.size() != y.size() || z.cols() != y.cols()) throw shapeError(type(), name, "projector tokens and targets must have the same shape", z, y);
        if (out.size() != 1) throw shapeError(type(), name, "output must be a scalar", out);
        this.rows = z.rows();
        this.width = z.cols();
        this.cos = new float[rows];
        this.zNorm = new float[rows];
        this.yNorm = new float[rows];
    }

    @Override public String type() { return "cosine_align"; }
    @Override public List<Tensor> inputs() { return List.of(z, y); }
    @Override public List<Tensor> outputs() { return List.of(out); }

    @Override
    public void forward(WorkerPool pool) {
        float[] zd = z.data(), yd = y.data();
        pool.parallelFor(rows, 16, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int o = r * width;
                float zn = Math.max((float) Math.sqrt(Vec.dot(zd, o, zd, o, width)), EPS);
                float yn = Math.max((float) Math.sqrt(Vec.dot(yd, o, yd, o, width)), EPS);
                zNorm[r] = zn;
                yNorm[r] = yn;
                cos[r] = Vec.dot(zd, o, yd, o, width) / (zn * yn);
            }
        });
        double s = 0;
        for (int r = 0; r < rows; r++) s += cos[r];
        out.data()[0] = (float) (-s / rows);
    }

    @Override
    public void backward(WorkerPool pool) {
        if (!z.requiresGrad()) return;
        float[] zd = z.data(), yd = y.data(), gz = z.grad();
        float g = -out.grad()[0] / rows;
        pool.parallelFor(rows, 16, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int o = r * width;
                float a = g / (zNorm[r] * yNorm[r]);
                float b = -g * cos[r] / (zNorm[r] * zNorm[r]);
                for (int c = 0; c < width; c++) gz[o + c] += a * yd[o + c] + b * zd[o + c];
            }
        });
    }
}
