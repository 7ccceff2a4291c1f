package erw.model;

import erw.engine.Graph;
import erw.engine.Tensor;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Sizes of a SiT without allocating it: parameter counts (so that SiT-XL/2 can be sized on a
 * laptop) and the fp32 memory of a training step (parameters, gradients, AdamW moments, EMA,
 * activations and their gradients) as the engine allocates them.
 */
public final class ModelSizes {
    private ModelSizes() {}

    /** Counts above this are reported as {@link Long#MAX_VALUE}: nothing that large can be allocated. */
    private static final double SATURATED = 0x1p60;

    /** Parameters of every projector. */
    public static long projectorParameters(SiTConfig c) {
        long n = 0, d = c.hiddenSize();
        for (SiTConfig.Projector pr : c.projectors()) {
            long p = pr.width(), z = pr.zDim();
            n += p * d + p + p * p + p + z * p + z;
        }
        return n;
    }

    /** Every tensor of the model, pos_embed included. */
    public static long parameters(SiTConfig c) {
        double bound = (double) c.hiddenSize() * (16.0 * c.hiddenSize() + 3.0 * c.mlpHidden() + 16) * (c.blocks() + 2)
                + 2.0 * c.hiddenSize() * (c.tokens() + c.numClasses() + 1 + 2.0 * c.patchSize() * c.patchSize() * c.inChannels() + SiT.FREQ_DIM)
                + c.projectors().stream().mapToDouble(p -> 2.0 * p.width() * (c.hiddenSize() + p.width() + p.zDim() + 2)).sum();
        if (bound > SATURATED) return Long.MAX_VALUE; // an absurd config: callers refuse it rather than wrap around
        long d = c.hiddenSize(), ch = c.inChannels(), ps = c.patchSize(), hid = c.mlpHidden();
        long n = d * ch * ps * ps + d;                       // x_embedder
        n += (long) c.tokens() * d;                          // pos_embed
        n += SiT.FREQ_DIM * d + d + d * d + d;               // t_embedder
        n += (c.numClasses() + 1L) * d;                      // y_embedder
        long block = 3 * d * d + 3 * d + d * d + d + hid * d + hid + d * hid + d + 6 * d * d + 6 * d;
        if (c.qkNorm()) block += 4L * c.headDim();
        n += block * c.blocks();
        if (!c.truncated()) n += ps * ps * ch * d + ps * ps * ch + 2 * d * d + 2 * d;
        if (c.rope()) n += 2L * c.tokens() * c.headDim();   // the fixed rotary tables
        return n + projectorParameters(c);
    }

    /** Floats of the activations one forward of {@code batch} samples records (formula checked against a recorded graph in the tests). */
    public static long activationFloats(SiTConfig c, long batch) {
        double pp0 = (double) c.patchSize() * c.patchSize() * c.inChannels();
        double bound = (double) batch * (c.tokens() + 1) * (4 * pp0 + 30.0 * c.hiddenSize() + 2.0 * c.mlpHidden() + SiT.FREQ_DIM
                + c.projectors().stream().mapToDouble(p -> 4.0 * p.width() + p.zDim() + c.hiddenSize()).sum()) * (c.blocks() + 2);
        if (bound > SATURATED) return Long.MAX_VALUE;
        long d = c.hiddenSize(), r = batch * c.tokens(), hid = c.mlpHidden(), pp = (long) c.patchSize() * c.patchSize() * c.inChannels();
        long n = r * pp + 2 * r * d;                         // patches, patch embedding, + pos_embed
        n += batch * (SiT.FREQ_DIM + 6 * d);                 // t features, mlp.0, silu, mlp.2, y embedding, c, silu(c)
        long perBlock = 12 * batch * d                       // adaLN linear and its 6 chunks
                + r * 12 * d + 2 * r * hid;                  // norms, modulations, qkv, attention, proj, residuals, fc1, gelu, fc2
        if (c.qkNorm()) perBlock += r * 8 * d;               // split, q/k norms, join
        if (c.rope() && !c.truncated()) perBlock += r * 3 * d;
        n += perBlock * c.blocks();
        for (SiTConfig.Projector p : c.projectors()) {        // each projector: 3 linears, 2 SiLUs (pooled: on one row per sample, after the mean)
            long rows = p.pooled() ? batch : r;
            n += 4 * rows * p.width() + rows * p.zDim() + (p.pooled() ? batch * d : 0);
        }
        if (!c.truncated()) n += 4 * batch * d + 2 * r * d + 2 * r * pp; // final adaLN + chunks, norm, modulate, linear, unpatchify
        return n;
    }

    /** Floats recorded as activations by a graph (each storage counted once). */
    public static long recordedActivationFloats(Graph g) {
        Map<Tensor, Boolean> seen = new IdentityHashMap<>();
        long n = 0;
        for (Tensor t : g.producedTensors()) {
            if (seen.put(t.root(), Boolean.TRUE) == null) n += t.size();
        }
        return n;
    }

    /** The fp32 bytes of a training step at {@code batch} with every tensor its own array (-1 on overflow). */
    public static long trainingBytes(SiTConfig c, long batch) {
        long params = parameters(c) - (long) c.tokens() * c.hiddenSize();
        long act = activationFloats(c, batch);
        if (params == Long.MAX_VALUE || act == Long.MAX_VALUE) return -1;
        return MemoryBudget.times(4, 5 * params + 2 * act);
    }

    /** One line naming the config's sizes, for messages. */
    public static String describe(SiTConfig c) {
        return String.format("depth %d, hidden %d, %d heads, patch %d, %dx%dx%d, %d classes", c.depth(), c.hiddenSize(), c.numHeads(), c.patchSize(),
                c.inChannels(), c.inputSize(), c.inputSize(), c.numClasses());
    }

    public static String human(long bytes) {
        if (bytes >= 1L << 30) return String.format("%.2f GiB", bytes / (double) (1L << 30));
        if (bytes >= 1L << 20) return String.format("%.1f MiB", bytes / (double) (1L << 20));
        return String.format("%.1f KiB", bytes / 1024.0);
    }
}
