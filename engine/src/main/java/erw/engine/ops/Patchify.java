package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/** {@code patchify}: images (N, C, H, W) to tokens (N*T, C*p*p) in row-major patch order, each vector ordered (c, i, j), so that a Linear with the conv weight (D, C, p, p) viewed as (D, C*p*p) equals the stride-p convolution of the patch embedder. A pure permutation. */
public record Patchify(String name, Tensor src, Tensor dst, int batch, int channels, int height, int width, int patch) implements Op {
    public Patchify {
        if (patch < 1 || height % patch != 0 || width % patch != 0) throw shapeError("patchify", name, "image " + height + "x" + width + " is not divisible by patch " + patch, src);
        int total = batch * channels * height * width;
        if (src.size() != total || dst.size() != total) throw shapeError("patchify", name, "expected " + total + " elements for N=" + batch + ", C=" + channels + ", " + height + "x" + width, src, dst);
        if (dst.cols() != channels * patch * patch) throw shapeError("patchify", name, "token tensor's last dimension must be C*p*p = " + channels * patch * patch, dst);
    }

    @Override public String type() { return "patchify"; }
    @Override public List<Tensor> inputs() { return List.of(src); }
    @Override public List<Tensor> outputs() { return List.of(dst); }
}
