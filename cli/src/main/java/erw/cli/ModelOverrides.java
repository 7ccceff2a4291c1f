package erw.cli;

import erw.model.SiTConfig;
import picocli.CommandLine.Option;

/**
 * {@code --model NAME} plus overrides, for checkpoints without erw's config metadata (converted from
 * the published PyTorch models): heads, for one, cannot be inferred from tensor shapes.
 */
public final class ModelOverrides {
    @Option(names = "--model", description = "Config of a foreign checkpoint: SiT-S/2 ... SiT-XL/8 or tiny.")
    String model;
    @Option(names = "--num-classes") Integer numClasses;
    @Option(names = "--input-size") Integer inputSize;
    @Option(names = "--in-channels") Integer inChannels;
    @Option(names = "--num-heads") Integer numHeads;
    @Option(names = "--encoder-depth") Integer encoderDepth;
    @Option(names = "--projector-dim") Integer projectorDim;
    @Option(names = "--z-dim") Integer zDim;
    @Option(names = "--qk-norm") Boolean qkNorm;

    /** The config these options describe, or null when --model was not given (use the file's own). */
    public SiTConfig config() {
        if (model == null) return null;
        SiTConfig b = SiTConfig.named(model);
        return new SiTConfig(b.depth(), b.hiddenSize(), numHeads != null ? numHeads : b.numHeads(), b.patchSize(),
                inputSize != null ? inputSize : b.inputSize(), inChannels != null ? inChannels : b.inChannels(),
                numClasses != null ? numClasses : b.numClasses(), encoderDepth != null ? encoderDepth : b.encoderDepth(),
                projectorDim != null ? projectorDim : b.projectorDim(), zDim != null ? zDim : b.zDim(), b.mlpRatio(),
                qkNorm != null ? qkNorm : b.qkNorm(), false, 0);
    }
}
