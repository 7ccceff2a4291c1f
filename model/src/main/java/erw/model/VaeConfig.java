package erw.model;

import erw.model.io.SafeTensorsException;
import erw.model.io.SafeTensorsFile;
import java.util.Arrays;
import java.util.List;

/**
 * The shape of a Stable Diffusion VAE ({@code diffusers.AutoencoderKL}): image and latent channels,
 * the channels of each resolution level ({@code block_out_channels}: each level but the last halves
 * the side), ResNet blocks per level ({@code layers_per_block}; the decoder has one more), the
 * GroupNorm group count and the latent scaling factor. {@link #SD} is {@code sd-vae-ft-mse}/{@code -ema}
 * (83.7M parameters, 8x downsampling, 4 latent channels, scale 0.18215).
 */
public record VaeConfig(int inChannels, int outChannels, int latentChannels, List<Integer> blockOutChannels, int layersPerBlock,
                        int normGroups, float scalingFactor) {
    public static final VaeConfig SD = new VaeConfig(3, 3, 4, List.of(128, 256, 512, 512), 2, 32, 0.18215f);

    public VaeConfig {
        blockOutChannels = List.copyOf(blockOutChannels);
        if (blockOutChannels.isEmpty()) throw new IllegalArgumentException("block_out_channels is empty");
        for (int c : blockOutChannels) {
            if (c < 1 || c % normGroups != 0) throw new IllegalArgumentException("block_out_channels " + blockOutChannels + " must be multiples of norm_num_groups " + normGroups);
        }
        if (inChannels < 1 || outChannels < 1 || latentChannels < 1 || layersPerBlock < 1 || normGroups < 1) throw new IllegalArgumentException("VAE channels, layers and groups must be positive");
        if (!(scalingFactor > 0) || !Float.isFinite(scalingFactor)) throw new IllegalArgumentException("scaling_factor must be a positive number, got " + scalingFactor);
    }

    /** Levels of resolution; the image side is the latent side times {@link #downsampling()}. */
    public int levels() {
        return blockOutChannels.size();
    }

    /** The ratio of image side to latent side, 2^(levels - 1). */
    public int downsampling() {
        return 1 << (levels() - 1);
    }

    /**
     * Reads the shape from a diffusers VAE's tensors (channels and block counts follow from the names
     * and shapes); the group count and scaling factor, which tensors do not show, are given.
     */
    public static VaeConfig infer(SafeTensorsFile f, int normGroups, float scalingFactor) {
        String prefix = f.contains("decoder.conv_in.weight") ? "decoder." : f.contains("encoder.conv_in.weight") ? "encoder." : null;
        if (prefix == null) throw new SafeTensorsException(f.path() + ": not a diffusers AutoencoderKL (no decoder.conv_in.weight or encoder.conv_in.weight)");
        int latent, image, levels = 0, layers = 0;
        if (f.contains("post_quant_conv.weight")) latent = (int) f.shape("post_quant_conv.weight")[0];
        else latent = (int) f.shape("quant_conv.weight")[0] / 2;
        image = prefix.equals("decoder.") ? (int) f.shape("decoder.conv_out.weight")[0] : (int) f.shape("encoder.conv_in.weight")[1];
        String blocks = prefix.equals("decoder.") ? "decoder.up_blocks." : "encoder.down_blocks.";
        while (f.contains(blocks + levels + ".resnets.0.conv1.weight")) levels++;
        while (f.contains(blocks + "0.resnets." + layers + ".conv1.weight")) layers++;
        if (levels == 0 || layers == 0) throw new SafeTensorsException(f.path() + ": no " + blocks + "0.resnets.0.conv1.weight: not a diffusers AutoencoderKL");
        Integer[] ch = new Integer[levels];
        for (int i = 0; i < levels; i++) {
            // encoder level i and decoder level (levels - 1 - i) have block_out_channels[i] outputs
            String key = blocks + i + ".resnets.0.conv2.weight";
            int c = (int) f.shape(key)[0];
            ch[prefix.equals("decoder.") ? levels - 1 - i : i] = c;
        }
        if (prefix.equals("decoder.")) layers -= 1; // the decoder has layers_per_block + 1 ResNet blocks per level
        return new VaeConfig(image, image, latent, Arrays.asList(ch), layers, normGroups, scalingFactor);
    }
}
