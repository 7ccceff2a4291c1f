package erw.sampler.cli;

import erw.model.SiTConfig;
import picocli.CommandLine.Option;

/**
 * {@code --model NAME} plus overrides, for checkpoints without erw's config metadata (published
 * SiT/REPA/ERW weights saved as safetensors): heads, for one, cannot be inferred from tensor shapes.
 * Declared once, used by {@code erw sample} and {@code erw forward} as a picocli mixin.
 */
public final class ModelOverrides {
    @Option(names = "--model", paramLabel = "NAME", description = {"Config of a checkpoint without erw metadata: SiT-S/2 ... SiT-XL/8 (ImageNet 256: 32x32x4 latents, 1000 classes) or tiny;",
            "used instead of the file's own config when given."})
    String model;
    @Option(names = "--num-classes", paramLabel = "N", description = "With --model: classes (the null class is row N of the label table).") Integer numClasses;
    @Option(names = "--input-size", paramLabel = "S", description = "With --model: latent side (resolution / 8 for SD-VAE latents).") Integer inputSize;
    @Option(names = "--in-channels", paramLabel = "C", description = "With --model: latent channels.") Integer inChannels;
    @Option(names = "--num-heads", paramLabel = "H", description = "With --model: attention heads.") Integer numHeads;
    @Option(names = "--encoder-depth", paramLabel = "B", description = "With --model: block (1-based) the projector reads.") Integer encoderDepth;
    @Option(names = "--projector-dim", paramLabel = "W", description = "With --model: projector hidden width.") Integer projectorDim;
    @Option(names = "--z-dim", paramLabel = "Z", description = "With --model: projector output width.") Integer zDim;
    @Option(names = "--qk-norm", paramLabel = "true|false", arity = "0..1", fallbackValue = "true", description = "With --model: QK-norm in attention.") Boolean qkNorm;

    /**
     * The config these options describe, or null when --model was not given (use the file's own).
     * An unknown name, an override without --model or an invalid combination is an
     * IllegalArgumentException naming the option.
     */
    public SiTConfig config() {
        if (model == null) {
            String stray = numClasses != null ? "--num-classes" : inputSize != null ? "--input-size" : inChannels != null ? "--in-channels"
                    : numHeads != null ? "--num-heads" : encoderDepth != null ? "--encoder-depth" : projectorDim != null ? "--projector-dim"
                    : zDim != null ? "--z-dim" : qkNorm != null ? "--qk-norm" : null;
            if (stray != null) throw new IllegalArgumentException(stray + " overrides a --model config: give --model NAME too (e.g. --model SiT-XL/2)");
            return null;
        }
        SiTConfig b;
        try {
            b = SiTConfig.named(model);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--model: " + e.getMessage());
        }
        try {
            return new SiTConfig(b.depth(), b.hiddenSize(), numHeads != null ? numHeads : b.numHeads(), b.patchSize(),
                    inputSize != null ? inputSize : b.inputSize(), inChannels != null ? inChannels : b.inChannels(),
                    numClasses != null ? numClasses : b.numClasses(), encoderDepth != null ? encoderDepth : b.encoderDepth(),
                    projectorDim != null ? projectorDim : b.projectorDim(), zDim != null ? zDim : b.zDim(), b.mlpRatio(),
                    qkNorm != null ? qkNorm : b.qkNorm(), false, 0);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--model " + model + " with the given overrides: " + e.getMessage());
        }
    }
}
