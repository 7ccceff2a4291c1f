package erw.training;

import java.util.List;

/**
 * Training data as the trainer sees it: rows picked by index, copied into preallocated buffers.
 * Besides images and labels a source may hold feature sets, the alignment targets: the default set
 * {@value #FEATURES} (per-token encoder features (T, Z), REPA's and ERW's target) and further named
 * sets (per token (T, Z) or one vector (Z) per sample, e.g. REED's caption embeddings).
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

    /** Copies the given rows; {@code features} (the default set) may be null when not needed. */
    void batch(int[] indices, float[] images, float[] labels, float[] features);

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
