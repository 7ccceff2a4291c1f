package erw.training;

import erw.engine.Backend;
import erw.engine.Graph;
import erw.engine.Plan;
import erw.engine.Tensor;
import erw.engine.ops.AdamW;
import erw.engine.ops.ZeroGrad;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * An image classifier erw trains itself with softmax cross-entropy and AdamW: the target encoder
 * (whose tokens are the alignment targets) and the evaluator (whose features score samples) share
 * this training loop, accuracy and feature extraction, and differ only in their networks.
 */
public abstract class ImageClassifier {
    protected final int numClasses;
    protected double testAccuracy = Double.NaN;

    protected ImageClassifier(int numClasses) {
        this.numClasses = numClasses;
    }

    /** A recorded network: input images, logits, and the per-image features that are exported. */
    public record Net(Graph graph, Tensor x, Tensor logits, Tensor features) {}

    protected abstract Net record(int batch, boolean train);

    protected abstract List<Tensor> trainable();

    /** Fresh weights from a seed. */
    protected abstract void initialize(long seed);

    /** Floats per image in {@link Net#features}. */
    public abstract int featureSize();

    public int numClasses() {
        return numClasses;
    }

    /** Accuracy on the test split measured after training (NaN if none was given). */
    public double testAccuracy() {
        return testAccuracy;
    }

    /** Trains on (images, labels) with AdamW under a cosine decay to 10%; reports progress and the test accuracy. */
    public ImageClassifier train(Backend backend, float[] images, int[] labels, float[] testImages, int[] testLabels,
                                 int steps, int batch, double lr, long seed, String what, PrintStream log) {
        initialize(seed);
        int per = images.length / labels.length;
        Net net = record(batch, true);
        Tensor target = Tensor.input("labels", batch);
        Tensor loss = net.graph.crossEntropy("loss", net.logits, target);
        Graph bwd = net.graph.backward(loss);
        Tensor lrT = Tensor.scalar("lr", (float) lr), stepT = Tensor.scalar("step", 0);
        Graph opt = new Graph(what + ".optimizer");
        opt.add(new AdamW("adamw", trainable(), lrT, stepT, 0.9f, 0.999f, 1e-8f, 0f));
        opt.add(new ZeroGrad("zero", trainable()));
        DataOrder order = new DataOrder(seed ^ 0xE1C0DEL, labels.length);
        int[] idx = new int[batch];
        long t0 = System.nanoTime();
        // one cycle: on a device backend the weights and moments stay resident while training
        List<Plan> plans = backend.compileCycle(what + ".step", List.of(net.graph.readBack(loss), bwd.readBack(), opt.readBack()));
        Plan f = plans.get(0), b = plans.get(1), o = plans.get(2);
        try {
            for (int s = 0; s < steps; s++) {
                order.batchIndices(s, idx);
                for (int i = 0; i < batch; i++) {
                    System.arraycopy(images, idx[i] * per, net.x.data(), i * per, per);
                    target.data()[i] = labels[idx[i]];
                }
                // cosine decay to 10% keeps the short schedule stable
                lrT.set((float) (lr * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * s / steps)))));
                stepT.set(s + 1);
                f.run();
                if (!Float.isFinite(loss.item())) throw new TrainingException(what + " step " + s + ": loss is " + loss.item());
                b.run();
                o.run();
                if (log != null && ((s + 1) % 50 == 0 || s + 1 == steps)) {
                    log.printf(Locale.ROOT, "\r%s step %d/%d | loss %.4f | %.1f img/s   ", what, s + 1, steps, loss.item(), (s + 1.0) * batch / ((System.nanoTime() - t0) / 1e9));
                }
            }
            backend.syncToHost(trainable());
        } finally {
            for (Plan p : plans) p.close();
        }
        if (log != null) log.println();
        if (testImages != null) {
            testAccuracy = accuracy(backend, testImages, testLabels, 250);
            if (log != null) log.printf(Locale.ROOT, "%s test accuracy: %.2f%% on %d images%n", what, 100 * testAccuracy, testLabels.length);
        }
        return this;
    }

    /** Fraction of images classified as their label. */
    public double accuracy(Backend backend, float[] images, int[] labels, int batch) {
        int[] pred = predict(backend, images, labels.length, batch, null);
        int correct = 0;
        for (int i = 0; i < labels.length; i++) if (pred[i] == labels[i]) correct++;
        return correct / (double) labels.length;
    }

    /** The arg-max class of every image; {@code features}, when not null, receives (count, featureSize()) rows. */
    public int[] predict(Backend backend, float[] images, int count, int batch, float[] features) {
        int[] pred = new int[count];
        run(backend, images, count, batch, null, (net, start, m) -> {
            float[] lg = net.logits.data();
            for (int i = 0; i < m; i++) {
                int best = 0;
                for (int c = 1; c < numClasses; c++) if (lg[i * numClasses + c] > lg[i * numClasses + best]) best = c;
                pred[start + i] = best;
            }
            if (features != null) System.arraycopy(net.features.data(), 0, features, start * featureSize(), m * featureSize());
        });
        return pred;
    }

    /** The features of every image: (count, featureSize()) row-major. */
    public float[] features(Backend backend, float[] images, int count, int batch, PrintStream log) {
        float[] out = new float[Math.multiplyExact(count, featureSize())];
        run(backend, images, count, batch, log,
                (net, start, m) -> System.arraycopy(net.features.data(), 0, out, start * featureSize(), m * featureSize()));
        return out;
    }

    private interface BatchConsumer {
        void accept(Net net, int start, int count);
    }

    /** Inference over images in batches (the last one zero-padded). */
    private void run(Backend backend, float[] images, int count, int batch, PrintStream log, BatchConsumer consumer) {
        if (count == 0) return;
        int per = images.length / count;
        Net net = record(batch, false);
        try (Plan p = backend.compile(net.graph.readBack(net.logits, net.features))) {
            for (int s = 0; s < count; s += batch) {
                int m = Math.min(batch, count - s);
                Arrays.fill(net.x.data(), 0f);
                System.arraycopy(images, s * per, net.x.data(), 0, m * per);
                p.run();
                consumer.accept(net, s, m);
                if (log != null && (s / batch) % 20 == 0) log.printf("\rfeatures %d/%d   ", s + m, count);
            }
        }
        if (log != null) log.println();
    }
}
