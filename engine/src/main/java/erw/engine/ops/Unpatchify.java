package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/** {@code unpatchify}: tokens (N*T, p*p*C) ordered (i, j, c) back to images (N, C, H, W), the published final layer's {@code nhwpqc -> nchpwq}. A pure permutation. */
public record Unpatchify(String name, Tensor src, Tensor dst, int batch, int channels, int height, int width, int patch) implements Op {
    public Unpatchify {
        if (patch < 1 || height % patch != 0 || width % patch != 0) throw shapeError("unpatchify", name, "image " + height + "x" + width + " is not divisible by patch " + patch, src);
        int total = batch * channels * height * width;
        if (src.size() != total || dst.size() != total) throw shapeError("unpatchify", name, "expected " + total + " elements for N=" + batch + ", C=" + channels + ", " + height + "x" + width, src, dst);
        if (src.cols() != channels * patch * patch) throw shapeError("unpatchify", name, "token tensor's last dimension must be C*p*p = " + channels * patch * patch, src);
    }

    @Override public String type() { return "unpatchify"; }
    @Override public List<Tensor> inputs() { return List.of(src); }
    @Override public List<Tensor> outputs() { return List.of(dst); }
}
