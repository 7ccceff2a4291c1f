package erw.training;

/** A {@link BatchSource} over arrays in memory (small sets, tests). */
public final class ArrayBatchSource implements BatchSource {
    private final float[] images, labels, features;
    private final int[] imageShape, featureShape;
    private final int count, numClasses, imageSize, featureSize;

    public ArrayBatchSource(float[] images, int[] imageShape, float[] labels, int numClasses, float[] features, int[] featureShape) {
        this.images = images;
        this.imageShape = imageShape.clone();
        this.labels = labels;
        this.numClasses = numClasses;
        this.features = features;
        this.featureShape = featureShape == null ? null : featureShape.clone();
        this.imageSize = imageShape[0] * imageShape[1] * imageShape[2];
        this.count = labels.length;
        this.featureSize = featureShape == null ? 0 : featureShape[0] * featureShape[1];
        if (images.length != (long) count * imageSize) throw new IllegalArgumentException("images hold " + images.length + " floats, expected " + count + " x " + imageSize);
        if (features != null && features.length != (long) count * featureSize) throw new IllegalArgumentException("features hold " + features.length + " floats, expected " + count + " x " + featureSize);
    }

    @Override public int count() { return count; }
    @Override public int[] imageShape() { return imageShape.clone(); }
    @Override public int numClasses() { return numClasses; }
    @Override public boolean hasFeatures() { return features != null; }
    @Override public int[] featureShape() { return featureShape == null ? null : featureShape.clone(); }

    @Override
    public void batch(int[] indices, float[] img, float[] lab, float[] feat) {
        for (int i = 0; i < indices.length; i++) {
            int r = indices[i];
            System.arraycopy(images, r * imageSize, img, i * imageSize, imageSize);
            lab[i] = labels[r];
            if (feat != null) System.arraycopy(features, r * featureSize, feat, i * featureSize, featureSize);
        }
    }
}
