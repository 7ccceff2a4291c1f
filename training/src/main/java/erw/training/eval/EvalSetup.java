package erw.training.eval;

import erw.engine.Backend;
import erw.training.BatchSource;
import erw.training.data.FashionMnist;
import erw.training.eval.Evaluator;
import erw.training.eval.FrechetDistance;
import erw.training.eval.SampleQuality;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * What scoring needs: the training data (its target features feed CKNNA), two evaluators (an MLP and a
 * convolutional network, each trained once per dataset and kept under the data root), the real
 * images' feature Gaussian under each, and real features for precision/recall. On the
 * built-in data the reference is Fashion-MNIST's 10,000-image test split; on a dataset directory
 * it is the first 10,000 images.
 */
public record EvalSetup(BatchSource data, Evaluator evaluator, FrechetDistance.Gaussian reference, String referenceName, List<SampleQuality.Judge> judges) {
    public static final int EVALUATOR_STEPS = 1500, EVALUATOR_BATCH = 128, REFERENCE_MAX = 10_000;
    /** The convolutional evaluator's schedule (its steps cost about 10x the MLP's). */
    public static final int CONV_EVALUATOR_STEPS = 1000, CONV_EVALUATOR_BATCH = 64;
    /** Real images whose features precision/recall compare with (the first of the reference; as many as samples are used). */
    public static final int PR_REAL_MAX = 5000;
    static final double EVALUATOR_LR = 1e-3, CONV_EVALUATOR_LR = 2e-3;

    public static EvalSetup prepare(Path dataRoot, Path dataDir, Backend backend, PrintStream err) throws Exception {
        return prepare(dataRoot, dataDir, EVALUATOR_STEPS, backend, err);
    }

    public static EvalSetup prepare(Path dataRoot, Path dataDir, int evaluatorSteps, Backend backend, PrintStream err) throws Exception {
        BatchSource data = dataDir == null ? erw.training.data.BuiltInData.prepare(dataRoot, 0, err) : erw.training.data.BuiltInData.open(dataDir);
        int[] shape = data.imageShape();
        float[] refImages;
        int[] refLabels;
        String refName;
        if (dataDir == null) {
            FashionMnist test = FashionMnist.load(FashionMnist.defaultDirectory(), false);
            refImages = test.images();
            refLabels = test.labels();
            refName = "Fashion-MNIST test split (" + refLabels.length + " images)";
        } else {
            int n = Math.min(REFERENCE_MAX, data.count());
            Labelled first = first(data, n);
            refImages = first.images;
            refLabels = first.labels;
            refName = "first " + n + " images of " + dataDir;
        }
        String key = dataDir == null ? "fashion-mnist" : dataDir.toAbsolutePath().normalize().getFileName().toString();
        Path file = dataRoot.resolve(key + "-evaluator.safetensors");
        Evaluator ev;
        if (Files.isRegularFile(file)) {
            ev = Evaluator.load(file);
            if (ev.numClasses() != data.numClasses()) throw new IllegalArgumentException(file + ": evaluator has " + ev.numClasses() + " classes, the data " + data.numClasses() + "; delete it to retrain");
            err.println("evaluator: " + file + " (" + ev.describe() + ")");
        } else {
            err.printf(Locale.ROOT, "training the evaluator (MLP, seed %d, %d steps, batch %d) ...%n", Evaluator.DEFAULT_SEED, evaluatorSteps, EVALUATOR_BATCH);
            ev = new Evaluator(shape[0], shape[1], data.numClasses());
            Labelled train = first(data, data.count()); // the whole split, only when an evaluator is trained
            ev.train(backend, train.images, train.labels, refImages, refLabels, evaluatorSteps, Math.min(EVALUATOR_BATCH, train.labels.length), EVALUATOR_LR, Evaluator.DEFAULT_SEED, "evaluator", err);
            Files.createDirectories(dataRoot);
            ev.save(file);
        }
        Path convFile = dataRoot.resolve(key + "-evaluator-conv.safetensors");
        ConvEvaluator conv;
        if (Files.isRegularFile(convFile)) {
            conv = ConvEvaluator.load(convFile);
            if (conv.numClasses() != data.numClasses()) throw new IllegalArgumentException(convFile + ": evaluator has " + conv.numClasses() + " classes, the data " + data.numClasses() + "; delete it to retrain");
            err.println("evaluator: " + convFile + " (" + conv.describe() + ")");
        } else {
            int steps = Math.max(1, evaluatorSteps * CONV_EVALUATOR_STEPS / EVALUATOR_STEPS);
            err.printf(Locale.ROOT, "training the second evaluator (convolutional, seed %d, %d steps, batch %d) ...%n", ConvEvaluator.DEFAULT_SEED, steps, CONV_EVALUATOR_BATCH);
            conv = new ConvEvaluator(shape[0], shape[1], data.numClasses());
            Labelled train = first(data, data.count());
            conv.train(backend, train.images, train.labels, refImages, refLabels, steps, Math.min(CONV_EVALUATOR_BATCH, train.labels.length), CONV_EVALUATOR_LR,
                    ConvEvaluator.DEFAULT_SEED, "conv evaluator", err);
            Files.createDirectories(dataRoot);
            conv.save(convFile);
        }
        float[] mlpReal = ev.features(backend, refImages, refLabels.length, 250, null), convReal = conv.features(backend, refImages, refLabels.length, 250, null);
        FrechetDistance.Gaussian ref = SampleQuality.reference(mlpReal, refLabels.length, ev.featureSize());
        int prN = Math.min(PR_REAL_MAX, refLabels.length);
        List<SampleQuality.Judge> judges = List.of(
                new SampleQuality.Judge(ev.describe(), ev, ref, java.util.Arrays.copyOf(mlpReal, prN * ev.featureSize()), prN),
                new SampleQuality.Judge(conv.describe(), conv, SampleQuality.reference(convReal, refLabels.length, conv.featureSize()),
                        java.util.Arrays.copyOf(convReal, prN * conv.featureSize()), prN));
        return new EvalSetup(data, ev, ref, refName, judges);
    }

    public record Labelled(float[] images, int[] labels) {}

    /** The first {@code n} images and labels of a source, in index order. */
    public static Labelled first(BatchSource data, int n) {
        int per = data.imageShape()[0] * data.imageShape()[1] * data.imageShape()[2], chunk = 1000;
        float[] img = new float[Math.multiplyExact(n, per)];
        int[] lab = new int[n];
        int[] idx = new int[chunk];
        float[] bi = new float[chunk * per], bl = new float[chunk];
        for (int s = 0; s < n; s += chunk) {
            int m = Math.min(chunk, n - s);
            int[] ix = m == chunk ? idx : new int[m];
            for (int i = 0; i < m; i++) ix[i] = s + i;
            float[] ii = m == chunk ? bi : new float[m * per], ll = m == chunk ? bl : new float[m];
            data.batch(ix, ii, ll, null);
            System.arraycopy(ii, 0, img, s * per, m * per);
            for (int i = 0; i < m; i++) lab[s + i] = (int) ll[i];
        }
        return new Labelled(img, lab);
    }
}
