package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/**
 * Nearest-neighbour upsampling of images (N, C, H, W) by an integer {@code factor} into
 * (N, C, factor*H, factor*W): {@code out[n, c, y, x] = in[n, c, y / factor, x / factor]}, as
 * {@code F.interpolate(x, scale_factor=factor, mode="nearest")}. The backward sums each
 * factor x factor block of the output gradient.
 */
public record Upsample(String name, Tensor x, int factor, Tensor out) implements Op {
    public Upsample {
        if (x.rank() != 4) throw shapeError("upsample", name, "input must be (N, C, H, W)", x);
        if (factor < 1) throw shapeError("upsample", name, "factor must be >= 1, got " + factor, x);
        if (out.rank() != 4 || out.dim(0) != x.dim(0) || out.dim(1) != x.dim(1) || out.dim(2) != factor * x.dim(2) || out.dim(3) != factor * x.dim(3)) {
            throw shapeError("upsample", name, "output must be (" + x.dim(0) + ", " + x.dim(1) + ", " + factor * x.dim(2) + ", " + factor * x.dim(3) + ")", x, out);
        }
    }

    /** Planes N * C. */
    public int planes() { return x.dim(0) * x.dim(1); }
    public int inHeight() { return x.dim(2); }
    public int inWidth() { return x.dim(3); }

    @Override public String type() { return "upsample"; }
    @Override public List<Tensor> inputs() { return List.of(x); }
    @Override public List<Tensor> outputs() { return List.of(out); }
}
