package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * 2-D convolution of images {@code x} (N, C, H, W) with {@code weight} (K, C, kh, kw) in PyTorch's
 * layout, optional {@code bias} (K), into {@code out} (N, K, Ho, Wo). Zero padding may differ per
 * side, which covers both {@code nn.Conv2d(padding=p)} (all four = p) and the SD-VAE's stride-2
 * downsampling ({@code F.pad(x, (0, 1, 0, 1))} then an unpadded conv: top = left = 0,
 * bottom = right = 1). {@code Ho = (H + padTop + padBottom - kh) / stride + 1}, likewise Wo.
 */
public record Conv2d(String name, Tensor x, Tensor weight, Tensor bias, Tensor out, int stride, int padTop, int padLeft, int padBottom, int padRight) implements Op {
    public Conv2d {
        if (x.rank() != 4) throw shapeError("conv2d", name, "input must be (N, C, H, W)", x);
        if (weight.rank() != 4) throw shapeError("conv2d", name, "weight must be (K, C, kh, kw)", weight);
        if (weight.dim(1) != x.dim(1)) throw shapeError("conv2d", name, "weight has " + weight.dim(1) + " input channels, the input " + x.dim(1), x, weight);
        if (stride < 1 || padTop < 0 || padLeft < 0 || padBottom < 0 || padRight < 0) throw shapeError("conv2d", name, "stride must be >= 1 and padding >= 0", x);
        int ho = outSize(x.dim(2), weight.dim(2), stride, padTop, padBottom), wo = outSize(x.dim(3), weight.dim(3), stride, padLeft, padRight);
        if (ho < 1 || wo < 1) throw shapeError("conv2d", name, "the kernel is larger than the padded input", x, weight);
        if (out.rank() != 4 || out.dim(0) != x.dim(0) || out.dim(1) != weight.dim(0) || out.dim(2) != ho || out.dim(3) != wo) {
            throw shapeError("conv2d", name, "output must be (" + x.dim(0) + ", " + weight.dim(0) + ", " + ho + ", " + wo + ")", x, weight, out);
        }
        if (bias != null && bias.size() != weight.dim(0)) throw shapeError("conv2d", name, "bias must have " + weight.dim(0) + " elements", weight, bias);
    }

    /** Output side for an input side, kernel side, stride and the two paddings. */
    public static int outSize(int in, int k, int stride, int padLo, int padHi) {
        int span = in + padLo + padHi - k;
        return span < 0 ? 0 : span / stride + 1;
    }

    public int batch() { return x.dim(0); }
    public int inChannels() { return x.dim(1); }
    public int inHeight() { return x.dim(2); }
    public int inWidth() { return x.dim(3); }
    public int outChannels() { return weight.dim(0); }
    public int kernelHeight() { return weight.dim(2); }
    public int kernelWidth() { return weight.dim(3); }
    public int outHeight() { return out.dim(2); }
    public int outWidth() { return out.dim(3); }
    /** Length of one unrolled receptive field, C * kh * kw (the GEMM's inner dimension). */
    public int patchSize() { return inChannels() * kernelHeight() * kernelWidth(); }

    @Override public String type() { return "conv2d"; }

    @Override public List<Tensor> inputs() {
        List<Tensor> l = new ArrayList<>(List.of(x, weight));
        if (bias != null) l.add(bias);
        return l;
    }

    @Override public List<Tensor> outputs() { return List.of(out); }
    @Override public long flops() { return 2L * batch() * outChannels() * outHeight() * outWidth() * patchSize(); }
}
