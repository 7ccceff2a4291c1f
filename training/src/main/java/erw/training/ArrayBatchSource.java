package erw.training;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link BatchSource} over arrays in memory (small sets, tests). With {@link #withPosterior} the
 * images are posterior means and the source holds posterior moments.
 */
public final class ArrayBatchSource implements BatchSource {
    private final float[] images, labels;
    private float[] std;
    private Posterior posterior;
    private final int[] imageShape;
    private final int count, numClasses, imageSize;
    /** Feature sets by name (the default one first), each {values, shape}. */
    private final Map<String, Set> sets = new LinkedHashMap<>();

    private record Set(float[] values, int[] shape, int size) {}

    public ArrayBatchSource(float[] images, int[] imageShape, float[] labels, int numClasses, float[] features, int[] featureShape) {
        this.images = images;
        this.imageShape = imageShape.clone();
        this.labels = labels;
        this.numClasses = numClasses;
        this.imageSize = imageShape[0] * imageShape[1] * imageShape[2];
        this.count = labels.length;
        if (images.length != (long) count * imageSize) throw new IllegalArgumentException("images hold " + images.length + " floats, expected " + count + " x " + imageSize);
        if (features != null) withFeatures(FEATURES, features, featureShape);
    }

    /** Adds a feature set ((T, Z) or (Z) per sample); returns this. */
    public ArrayBatchSource withFeatures(String name, float[] values, int[] shape) {
        if (shape.length < 1 || shape.length > 2) throw new IllegalArgumentException("feature set '" + name + "': per-sample shape must be (T, Z) or (Z)");
        int size = BatchSource.size(shape);
        if (values.length != (long) count * size) throw new IllegalArgumentException("feature set '" + name + "' holds " + values.length + " floats, expected " + count + " x " + size);
        if (FEATURES.equals(name) && shape.length != 2) throw new IllegalArgumentException("the default feature set '" + FEATURES + "' must be per token (T, Z)");
        sets.put(name, new Set(values, shape.clone(), size));
        return this;
    }

    /**
     * Makes this a source of posterior moments: the images given to the constructor are the means,
     * {@code std} (same layout) the standard deviations; returns this.
     */
    public ArrayBatchSource withPosterior(float[] std, Posterior posterior) {
        if (std.length != images.length) throw new IllegalArgumentException("posterior std holds " + std.length + " floats, the means " + images.length);
        this.std = std;
        this.posterior = posterior;
        return this;
    }

    @Override public Posterior posterior() { return posterior; }
    @Override public int count() { return count; }
    @Override public int[] imageShape() { return imageShape.clone(); }
    @Override public int numClasses() { return numClasses; }
    @Override public boolean hasFeatures() { return sets.containsKey(FEATURES); }
    @Override public int[] featureShape() { return hasFeatures() ? sets.get(FEATURES).shape.clone() : null; }

    @Override
    public List<String> featureSets() {
        List<String> l = new ArrayList<>(sets.keySet());
        if (l.remove(FEATURES)) l.add(0, FEATURES);
        return l;
    }

    @Override
    public int[] featureShape(String set) {
        Set s = sets.get(set);
        return s == null ? null : s.shape.clone();
    }

    @Override
    public void batch(int[] indices, float[] img, float[] lab, float[] feat) {
        for (int i = 0; i < indices.length; i++) {
            int r = indices[i];
            System.arraycopy(images, r * imageSize, img, i * imageSize, imageSize);
            lab[i] = labels[r];
        }
        if (posterior != null) {
            float a = posterior.scale(), b = posterior.shift();
            for (int j = 0; j < indices.length * imageSize; j++) img[j] = img[j] * a + b;
        }
        if (feat != null) features(FEATURES, indices, feat);
    }

    @Override
    public void moments(int[] indices, float[] mean, float[] sd, float[] lab) {
        if (posterior == null) BatchSource.super.moments(indices, mean, sd, lab);
        for (int i = 0; i < indices.length; i++) {
            int r = indices[i];
            System.arraycopy(images, r * imageSize, mean, i * imageSize, imageSize);
            System.arraycopy(std, r * imageSize, sd, i * imageSize, imageSize);
            lab[i] = labels[r];
        }
    }

    @Override
    public void features(String set, int[] indices, float[] out) {
        Set s = sets.get(set);
        if (s == null) throw new IllegalArgumentException("no feature set '" + set + "' (the data has " + featureSets() + ")");
        for (int i = 0; i < indices.length; i++) System.arraycopy(s.values, indices[i] * s.size, out, i * s.size, s.size);
    }
}
