package erw.tests;

import erw.engine.Tensor;
import erw.model.Vae;
import erw.model.VaeConfig;
import java.util.Arrays;
import java.util.Map;

/**
 * A VAE of the SD architecture whose weights are set by hand so that it reconstructs: the encoder's
 * posterior mean is the image average-pooled by the downsampling factor (RGB in latent channels 0-2,
 * std e^-15), the decoder upsamples latents back by nearest neighbour. What makes it exact despite the
 * GroupNorms: every colour travels as a channel pair (x, -x) plus a constant channel K in one group, so
 * each group's mean is K / channels-per-group whatever the image and its variance is K-dominated (the
 * image moves it by about 1e-6 relative); the last norm's affine maps x to x + 20, where SiLU is the
 * identity to 4e-8. ResNet branches and the attention output are zero (identity blocks); shortcut
 * convs carry the channel layout from one width to the next. For round-trip tests of the pipeline
 * (crop, encode, posterior, scale, decode, PNG); random weights cannot show a reconstruction.
 */
final class PoolingVae {
    private static final float K = 1000f, LIFT = 20f;

    private PoolingVae() {}

    /** Needs at least 3 groups of at least 3 channels at every width. */
    static Vae build(VaeConfig cfg) {
        Vae vae = new Vae(cfg, Vae.Part.BOTH);
        Map<String, Tensor> p = vae.parameters().all();
        p.values().forEach(t -> Arrays.fill(t.data(), 0f));
        p.forEach((name, t) -> {
            if (name.contains("norm") && name.endsWith(".weight")) Arrays.fill(t.data(), 1f);
        });
        int g = cfg.normGroups(), lat = cfg.latentChannels();
        int first = cfg.blockOutChannels().get(0), last = cfg.blockOutChannels().get(cfg.levels() - 1);
        // encoder: image -> (x, -x, K) layout, identity blocks, 2x2 average pooling per level
        split(p, "encoder.conv_in", first, g, 3);
        for (String name : p.keySet()) {
            if (name.endsWith(".conv_shortcut.weight")) {
                Tensor w = p.get(name);
                carry(w, w.dim(1), w.dim(0), g);
            } else if (name.contains("downsamplers") && name.endsWith(".weight")) {
                Tensor w = p.get(name);
                int c = w.dim(0);
                for (int ch = 0; ch < c; ch++) for (int ky = 0; ky < 2; ky++) for (int kx = 0; kx < 2; kx++) w.data()[((ch * c + ch) * 3 + ky) * 3 + kx] = 0.25f;
            } else if (name.contains("upsamplers") && name.endsWith(".weight")) {
                Tensor w = p.get(name);
                int c = w.dim(0);
                for (int ch = 0; ch < c; ch++) w.data()[((ch * c + ch) * 3 + 1) * 3 + 1] = 1f;
            }
        }
        lift(p, "encoder.conv_norm_out", last, g);
        Tensor out = p.get("encoder.conv_out.weight"), ob = p.get("encoder.conv_out.bias");
        for (int c = 0; c < 3; c++) {
            out.data()[((c * last + c * (last / g)) * 3 + 1) * 3 + 1] = 1f;
            ob.data()[c] = -LIFT;
        }
        for (int c = lat; c < 2 * lat; c++) ob.data()[c] = -30f; // logvar: std = e^-15
        identity(p.get("quant_conv.weight"));
        // decoder: latents -> (x, -x, K) layout, identity blocks, nearest upsampling, back to RGB
        identity(p.get("post_quant_conv.weight"));
        split(p, "decoder.conv_in", last, g, lat);
        lift(p, "decoder.conv_norm_out", first, g);
        Tensor dout = p.get("decoder.conv_out.weight"), db = p.get("decoder.conv_out.bias");
        for (int c = 0; c < 3; c++) {
            dout.data()[((c * first + c * (first / g)) * 3 + 1) * 3 + 1] = 1f;
            db.data()[c] = -LIFT;
        }
        return vae;
    }

    /** A 3x3 conv (centre tap) from 3 colour channels into the layout: x at c*cpg, -x next, K (bias) after. */
    private static void split(Map<String, Tensor> p, String conv, int cout, int groups, int cin) {
        Tensor w = p.get(conv + ".weight"), b = p.get(conv + ".bias");
        int cpg = cout / groups;
        for (int c = 0; c < 3; c++) {
            w.data()[(((c * cpg) * cin + c) * 3 + 1) * 3 + 1] = 1f;
            w.data()[(((c * cpg + 1) * cin + c) * 3 + 1) * 3 + 1] = -1f;
            b.data()[c * cpg + 2] = K;
        }
    }

    /** A 1x1 shortcut carrying the layout from cin to cout channels. */
    private static void carry(Tensor w, int cin, int cout, int groups) {
        int pi = cin / groups, po = cout / groups;
        for (int c = 0; c < 3; c++) for (int j = 0; j < 3; j++) w.data()[(c * po + j) * cin + c * pi + j] = 1f;
    }

    /** The last GroupNorm's affine: x (and -x) come out as x + LIFT (-x + LIFT). */
    private static void lift(Map<String, Tensor> p, String norm, int c, int groups) {
        Tensor w = p.get(norm + ".weight"), b = p.get(norm + ".bias");
        int cpg = c / groups;
        double mean = K / cpg, sigma = Math.sqrt((double) K * K / cpg - mean * mean);
        for (int col = 0; col < 3; col++) {
            for (int j = 0; j < 2; j++) {
                w.data()[col * cpg + j] = (float) sigma;
                b.data()[col * cpg + j] = (float) (mean + LIFT);
            }
        }
    }

    private static void identity(Tensor w) {
        int c = w.dim(0);
        for (int i = 0; i < c; i++) w.data()[i * c + i] = 1f;
    }
}
