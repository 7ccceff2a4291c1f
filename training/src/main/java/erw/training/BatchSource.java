package erw.training;

import java.util.List;

/**
 * Training data as the trainer sees it: rows picked by index, copied into preallocated buffers.
 * Besides images and labels a source may hold feature sets, the alignment targets: the default set
 * {@value #FEATURES} (per-token encoder features (T, Z), REPA's and ERW's target) and further named
 * sets (per token (T, Z) or one vector (Z) per sample, e.g. REED's caption embeddings).
 *
 * <p>A source may instead hold a VAE's posterior moments per sample (REPA's and ERW's ImageNet data:
 * the SD-VAE encoder's mean and std, SPEC section 4b); {@link #posterior()} then says so. Training
 * draws a fresh latent {@code z = (mean + std * eps) * scale + shift} of every sample at every step
 * from {@link #moments}; everything else reads {@link #batch}, which gives the posterior mean in the
 * model's space, {@code mean * scale + shift} (the evaluator's training data and FD reference, CKNNA
 * probes, target-encoder training and features, fingerprints).
 */
public interface BatchSource {
    /** The name of the default feature set. */
    String FEATURES = "features";

    int count();

    /** (C, H, W) of one image or latent. */
    int[] imageShape();

    int numClasses();

    /** Whether the default set {@value #FEATURES} is present. */
    boolean hasFeatures();

    /** (T, Z) of one sample's default target features. */
    int[] featureShape();

    /**
     * Copies the given rows; {@code features} (the default set) may be null when not needed. A
     * posterior source gives each sample's mean in the model's space, {@code mean * scale + shift}.
     */
    void batch(int[] indices, float[] images, float[] labels, float[] features);

    /**
     * How the latents of a source of VAE posterior moments map into the model's space: a training
     * sample is {@code z = (mean + std * eps) * scale + shift} with a fresh standard normal
     * {@code eps} per value and step (REPA's {@code latents_scale} and {@code latents_bias}: 0.18215
     * and 0 for SD-VAE). {@code vae} names the autoencoder (may be null).
     */
    record Posterior(float scale, float shift, String vae) {
        public Posterior {
            if (!Float.isFinite(scale) || scale == 0) throw new IllegalArgumentException("posterior scale " + scale + " must be finite and not 0");
            if (!Float.isFinite(shift)) throw new IllegalArgumentException("posterior shift " + shift + " must be finite");
        }

        /** One latent value drawn from the posterior: {@code (mean + std * eps) * scale + shift}, in float as REPA computes it. */
        public float draw(float mean, float std, float eps) {
            return (mean + std * eps) * scale + shift;
        }
    }

    /** The posterior's scale and shift when this source holds posterior moments, null for plain images or latents. */
    default Posterior posterior() {
        return null;
    }

    /**
     * Copies the given rows' posterior moments as stored, before scale and shift: {@code mean} and
     * {@code std} (C, H, W) each per sample, and the labels. Only for a source whose
     * {@link #posterior()} is not null.
     */
    default void moments(int[] indices, float[] mean, float[] std, float[] labels) {
        throw new UnsupportedOperationException("this data holds no posterior moments");
    }

    /** Every feature set, the default one first when present. */
    default List<String> featureSets() {
        return hasFeatures() ? List.of(FEATURES) : List.of();
    }

    /** The per-sample shape of a feature set ((T, Z) or (Z)), or null when the source lacks it. */
    default int[] featureShape(String set) {
        return FEATURES.equals(set) && hasFeatures() ? featureShape() : null;
    }

    /** Copies the given rows of a feature set into {@code out} (rows x the set's per-sample size). */
    void features(String set, int[] indices, float[] out);

    /** The per-sample float count of a shape. */
    static int size(int[] shape) {
        int n = 1;
        for (int v : shape) n *= v;
        return n;
    }
}
