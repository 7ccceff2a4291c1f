package erw.training.eval;

import erw.engine.Backend;
import erw.engine.host.WorkerPool;
import erw.model.SiT;
import erw.sampler.Sampler;
import erw.sampler.SiTVelocity;
import erw.training.ImageClassifier;
import java.util.ArrayList;
import java.util.List;

/**
 * Scores a generator: draws class-balanced samples once, then asks each judge (an evaluator network
 * with the feature Gaussian of real images, and optionally real features for precision/recall): the
 * Frechet distance of its features to the real images' Gaussian, its accuracy on the samples' class
 * labels (does a sample of class k look like class k), and improved precision and recall
 * ({@link PrecisionRecall}). The first judge's FD and accuracy are the headline figures.
 */
public final class SampleQuality {
    /** Samples per sampler call: bounds activation memory, the result does not depend on it. */
    public static final int CHUNK = 100;

    /**
     * An evaluator with what it compares against: {@code realFeatures} (realCount x featureSize) for
     * precision/recall, null to skip them.
     */
    public record Judge(String name, ImageClassifier net, FrechetDistance.Gaussian reference, float[] realFeatures, int realCount) {}

    /** One judge's verdict; precision and recall are NaN when it has no real features. */
    public record Judgement(String name, double fd, double accuracy, double precision, double recall) {}

    private final List<Judge> judges;

    /** @param reference the evaluator's feature Gaussian of the real images (e.g. the test split) */
    public SampleQuality(Evaluator evaluator, FrechetDistance.Gaussian reference) {
        this(List.of(new Judge(evaluator.describe(), evaluator, reference, null, 0)));
    }

    public SampleQuality(List<Judge> judges) {
        if (judges.isEmpty()) throw new IllegalArgumentException("no evaluator to score with");
        this.judges = List.copyOf(judges);
    }

    /** The first judge's FD and accuracy, and every judge's verdict. */
    public record Score(double fd, double accuracy, int samples, double seconds, List<Judgement> judgements) {}

    /** The evaluator's feature Gaussian of real images. */
    public static FrechetDistance.Gaussian reference(ImageClassifier evaluator, Backend backend, float[] images, int count) {
        return reference(evaluator.features(backend, images, count, 250, null), count, evaluator.featureSize());
    }

    public static FrechetDistance.Gaussian reference(float[] features, int count, int featureSize) {
        return FrechetDistance.Gaussian.fit(features, count, featureSize);
    }

    /** Draws {@code n} samples (class i mod classes) with the given sampler options and scores them. */
    public Score score(SiT model, Backend backend, WorkerPool pool, int n, Sampler.Options options) {
        long t0 = System.nanoTime();
        int classes = model.config().numClasses(), size = model.config().inChannels() * model.config().inputSize() * model.config().inputSize();
        for (Judge j : judges) {
            if (classes != j.net().numClasses()) {
                throw new IllegalArgumentException("the model has " + classes + " classes, the evaluator (" + j.name() + ") " + j.net().numClasses());
            }
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
        List<Judgement> out = new ArrayList<>();
        for (Judge j : judges) {
            int fsz = j.net().featureSize();
            float[] feats = new float[n * fsz];
            int[] pred = j.net().predict(backend, samples, n, 250, feats);
            int correct = 0;
            for (int i = 0; i < n; i++) if (pred[i] == labels[i]) correct++;
            double fd = FrechetDistance.between(FrechetDistance.Gaussian.fit(feats, n, fsz), j.reference());
            double precision = Double.NaN, recall = Double.NaN;
            if (j.realFeatures() != null) {
                // as many real points as samples (the paper's setting): the first ones of the reference
                PrecisionRecall.Result pr = PrecisionRecall.compute(j.realFeatures(), Math.min(j.realCount(), n), feats, n, fsz, PrecisionRecall.K, pool);
                precision = pr.precision();
                recall = pr.recall();
            }
            out.add(new Judgement(j.name(), fd, correct / (double) n, precision, recall));
        }
        Score score = new Score(out.get(0).fd(), out.get(0).accuracy(), n, (System.nanoTime() - t0) / 1e9, out);
        // A study or an `erw eval` of many checkpoints is one JVM for hours. Each scoring promotes a few GB of short-lived
        // arrays into the old generation, and the Serial collector grows the old generation on promotion rather than
        // collecting it, up to the launcher's cap (85% of RAM): a full study reached 18.7 GB resident on a 24 GB machine
        // with 3.1 GB live. A full collection after each scoring keeps the heap near what is live (two quick-preset runs
        // scored 7 times each: peak RSS 2.9 GB, 9.8 GB without; same wall time).
        System.gc();
        return score;
    }
}
