package erw.training;

/** Training data as the trainer sees it: rows picked by index, copied into preallocated buffers. */
public interface BatchSource {
    int count();

    /** (C, H, W) of one image or latent. */
    int[] imageShape();

    int numClasses();

    boolean hasFeatures();

    /** (T, Z) of one sample's target features. */
    int[] featureShape();

    /** Copies the given rows; {@code features} may be null when not needed. */
    void batch(int[] indices, float[] images, float[] labels, float[] features);
}
