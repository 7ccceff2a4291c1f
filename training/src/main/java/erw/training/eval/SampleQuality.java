package erw.training.eval;

import erw.engine.Backend;
import erw.engine.host.WorkerPool;
import erw.model.SiT;
import erw.sampler.Sampler;
import erw.sampler.SiTVelocity;

/**
 * Scores a generator: draws class-balanced samples, then reports the Frechet distance of the
 * evaluator's features against the real images' Gaussian and the evaluator's accuracy on the
 * samples' class labels (does a sample of class k look like class k).
 */
public final class SampleQuality {
    /** Samples per sampler call: bounds activation memory, the result does not depend on it. */
    public static final int CHUNK = 100;

    private final Evaluator evaluator;
    private final FrechetDistance.Gaussian reference;

    /** @param reference the evaluator's feature Gaussian of the real images (e.g. the test split) */
    public SampleQuality(Evaluator evaluator, FrechetDistance.Gaussian reference) {
        this.evaluator = evaluator;
        this.reference = reference;
    }

    public record Score(double fd, double accuracy, int samples, double seconds) {}

    /** The evaluator's feature Gaussian of real images. */
    public static FrechetDistance.Gaussian reference(Evaluator evaluator, Backend backend, float[] images, int count) {
        float[] f = evaluator.features(backend, images, count, 250, null);
        return FrechetDistance.Gaussian.fit(f, count, evaluator.featureSize());
    }

    /** Draws {@code n} samples (class i mod classes) with the given sampler options and scores them. */
    public Score score(SiT model, Backend backend, WorkerPool pool, int n, Sampler.Options options) {
        long t0 = System.nanoTime();
        int classes = model.config().numClasses(), size = model.config().inChannels() * model.config().inputSize() * model.config().inputSize();
        if (classes != evaluator.numClasses()) {
            throw new IllegalArgumentException("the model has " + classes + " classes, the evaluator " + evaluator.numClasses());
        }
        float[] samples = new float[n * size];
        int[] labels = new int[n];
        try (SiTVelocity field = new SiTVelocity(model, backend)) {
            Sampler sampler = new Sampler(field, size, options, pool);
            for (int s = 0; s < n; s += CHUNK) {
                int m = Math.min(CHUNK, n - s);
                float[] y = new float[m];
                for (int i = 0; i < m; i++) {
                    labels[s + i] = (s + i) % classes;
                    y[i] = labels[s + i];
                }
                float[] x = sampler.sample(y, s, null);
                // the evaluator saw images in [-1, 1]; samples outside are clipped like a PNG would be
                for (int j = 0; j < x.length; j++) x[j] = Math.max(-1f, Math.min(1f, x[j]));
                System.arraycopy(x, 0, samples, s * size, m * size);
            }
        }
        float[] feats = new float[n * evaluator.featureSize()];
        int[] pred = evaluator.predict(backend, samples, n, 250, feats);
        int correct = 0;
        for (int i = 0; i < n; i++) if (pred[i] == labels[i]) correct++;
        double fd = FrechetDistance.between(FrechetDistance.Gaussian.fit(feats, n, evaluator.featureSize()), reference);
        return new Score(fd, correct / (double) n, n, (System.nanoTime() - t0) / 1e9);
    }
}
