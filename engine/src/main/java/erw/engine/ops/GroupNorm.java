package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * GroupNorm ({@code torch.nn.GroupNorm}) of {@code x} (N, C, ...spatial): the C channels of each
 * sample fall into {@code groups} groups of C/groups consecutive channels; each group is normalised
 * over its channels and all spatial positions (biased variance), then scaled and shifted per channel
 * by {@code weight} and {@code bias} (both (C), or both null for none). The forward saves each
 * (sample, group)'s mean and reciprocal standard deviation ((N * groups) each) for the backward.
 */
public record GroupNorm(String name, Tensor x, int groups, Tensor weight, Tensor bias, float eps, Tensor out, Tensor mean, Tensor rstd) implements Op {
    public GroupNorm {
        if (x.rank() < 2) throw shapeError("groupnorm", name, "input must be (N, C, ...)", x);
        int c = x.dim(1);
        if (groups < 1 || c % groups != 0) throw shapeError("groupnorm", name, c + " channels are not divisible into " + groups + " groups", x);
        if (out.size() != x.size()) throw shapeError("groupnorm", name, "output size differs from input", x, out);
        if ((weight == null) != (bias == null)) throw shapeError("groupnorm", name, "affine needs both weight and bias", x);
        if (weight != null && (weight.size() != c || bias.size() != c)) throw shapeError("groupnorm", name, "affine parameters must have " + c + " elements", x, weight, bias);
        int stats = x.dim(0) * groups;
        if (mean.size() != stats || rstd.size() != stats) throw shapeError("groupnorm", name, "saved statistics must have N x groups = " + stats + " entries", x, mean, rstd);
    }

    /** With its saved statistics created here ({@code <name>.mean}, {@code <name>.rstd}). */
    public GroupNorm(String name, Tensor x, int groups, Tensor weight, Tensor bias, float eps, Tensor out) {
        this(name, x, groups, weight, bias, eps, out, Tensor.saved(name + ".mean", x.dim(0) * groups), Tensor.saved(name + ".rstd", x.dim(0) * groups));
    }

    public int batch() { return x.dim(0); }
    public int channels() { return x.dim(1); }
    /** Spatial positions per channel (H * W for images). */
    public int spatial() { return x.size() / (x.dim(0) * x.dim(1)); }
    public int channelsPerGroup() { return channels() / groups; }

    @Override public String type() { return "groupnorm"; }

    @Override public List<Tensor> inputs() {
        List<Tensor> l = new ArrayList<>(List.of(x));
        if (weight != null) { l.add(weight); l.add(bias); }
        return l;
    }

    @Override public List<Tensor> outputs() { return List.of(out); }
    @Override public List<Tensor> saved() { return List.of(mean, rstd); }
}
