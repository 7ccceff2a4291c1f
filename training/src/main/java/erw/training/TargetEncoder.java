package erw.training;

import erw.engine.Backend;
import erw.engine.Graph;
import erw.engine.Plan;
import erw.engine.Tensor;
import erw.engine.ops.AdamW;
import erw.engine.ops.ZeroGrad;
import erw.model.Checkpoint;
import erw.model.ParameterStore;
import erw.model.SiT;
import erw.model.SiTConfig;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsFile;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The built-in target encoder: a small ViT classifier trained by erw on the labels, whose patch
 * tokens become the alignment targets of the built-in data. It reuses the SiT's blocks (t = 0 and
 * the null class make adaLN a learned affine), pools the last block's tokens by their mean and
 * classifies with a Linear head under softmax cross-entropy. Same patch size as the diffusion
 * model, so its token grid is the SiT's.
 */
public final class TargetEncoder {
    private final SiT backbone;
    private final Tensor headW, headB;
    private final int numClasses;
    private double testAccuracy = Double.NaN;

    public TargetEncoder(SiTConfig cfg) {
        this.backbone = new SiT(cfg.truncatedTo(cfg.depth()));
        this.numClasses = cfg.numClasses();
        this.headW = Tensor.param("head.weight", numClasses, cfg.hiddenSize());
        this.headB = Tensor.param("head.bias", numClasses);
    }

    /** depth 4, width 64, 2 heads, patch 4: small enough to train in a few minutes on 2 cores. */
    public static SiTConfig defaultConfig(int channels, int side, int numClasses) {
        return new SiTConfig(4, 64, 2, 4, side, channels, numClasses, 4, 16, 8, 4.0, false, false, 0);
    }

    public SiTConfig config() {
        return backbone.config();
    }

    public int width() {
        return backbone.config().hiddenSize();
    }

    public double testAccuracy() {
        return testAccuracy;
    }

    private List<Tensor> trainable() {
        List<Tensor> l = new ArrayList<>(backbone.parameters().trainable());
        l.add(headW);
        l.add(headB);
        return l;
    }

    private record Net(Graph graph, Tensor x, Tensor t, Tensor y, Tensor tokens, Tensor logits) {}

    private Net record(int batch, boolean train) {
        SiTConfig c = backbone.config();
        Graph g = train ? new Graph("encoder") : Graph.inference("encoder.eval");
        Tensor x = Tensor.input("x", batch, c.inChannels(), c.inputSize(), c.inputSize());
        Tensor t = Tensor.input("t", batch), y = Tensor.input("y", batch);
        java.util.Arrays.fill(y.data(), numClasses); // the null class: an unconditional encoder
        SiT.Outputs o = backbone.forward(g, x, t, y);
        Tensor logits = g.linear("head", g.tokenMean("pool", o.hidden(), batch), headW, headB);
        return new Net(g, x, t, y, o.hidden(), logits);
    }

    /** Trains on (images, labels) with AdamW; reports progress and the accuracy on the test split. */
    public TargetEncoder train(Backend backend, float[] images, int[] labels, float[] testImages, int[] testLabels,
                               int steps, int batch, double lr, long seed, PrintStream log) {
        backbone.initialize(seed);
        erw.engine.GradCheck.fill(headW, seed + 17, 0.02f);
        int per = images.length / labels.length;
        Net net = record(batch, true);
        Tensor target = Tensor.input("labels", batch);
        Tensor loss = net.graph.crossEntropy("loss", net.logits, target);
        Graph bwd = net.graph.backward(loss);
        Tensor lrT = Tensor.scalar("lr", (float) lr), stepT = Tensor.scalar("step", 0);
        Graph opt = new Graph("encoder.optimizer");
        opt.add(new AdamW("adamw", trainable(), lrT, stepT, 0.9f, 0.999f, 1e-8f, 0f));
        opt.add(new ZeroGrad("zero", trainable()));
        DataOrder order = new DataOrder(seed ^ 0xE1C0DEL, labels.length);
        int[] idx = new int[batch];
        long t0 = System.nanoTime();
        try (Plan f = backend.compile(net.graph); Plan b = backend.compile(bwd); Plan o = backend.compile(opt)) {
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
                if (!Float.isFinite(loss.item())) throw new TrainingException("encoder step " + s + ": loss is " + loss.item());
                b.run();
                o.run();
                if (log != null && ((s + 1) % 50 == 0 || s + 1 == steps)) {
                    log.printf(Locale.ROOT, "\rencoder step %d/%d | loss %.4f | %.1f img/s   ", s + 1, steps, loss.item(), (s + 1.0) * batch / ((System.nanoTime() - t0) / 1e9));
                }
            }
        }
        if (log != null) log.println();
        if (testImages != null) {
            testAccuracy = accuracy(backend, testImages, testLabels, 250);
            if (log != null) log.printf(Locale.ROOT, "encoder test accuracy: %.2f%% on %d images%n", 100 * testAccuracy, testLabels.length);
        }
        return this;
    }

    /** Fraction of images classified correctly. */
    public double accuracy(Backend backend, float[] images, int[] labels, int batch) {
        int per = images.length / labels.length, correct = 0;
        Net net = record(batch, false);
        try (Plan p = backend.compile(net.graph)) {
            for (int s = 0; s < labels.length; s += batch) {
                int m = Math.min(batch, labels.length - s);
                java.util.Arrays.fill(net.x.data(), 0f);
                System.arraycopy(images, s * per, net.x.data(), 0, m * per);
                p.run();
                float[] lg = net.logits.data();
                for (int i = 0; i < m; i++) {
                    int best = 0;
                    for (int c = 1; c < numClasses; c++) if (lg[i * numClasses + c] > lg[i * numClasses + best]) best = c;
                    if (best == labels[s + i]) correct++;
                }
            }
        }
        return correct / (double) labels.length;
    }

    /** The last block's tokens for every image: (N, T, width) row-major, the alignment targets. */
    public float[] features(Backend backend, float[] images, int count, int batch, PrintStream log) {
        int per = images.length / count, tokens = backbone.config().tokens(), w = width();
        float[] out = new float[Math.multiplyExact(count, tokens * w)];
        Net net = record(batch, false);
        try (Plan p = backend.compile(net.graph)) {
            for (int s = 0; s < count; s += batch) {
                int m = Math.min(batch, count - s);
                java.util.Arrays.fill(net.x.data(), 0f);
                System.arraycopy(images, s * per, net.x.data(), 0, m * per);
                p.run();
                System.arraycopy(net.tokens.data(), 0, out, s * tokens * w, m * tokens * w);
                if (log != null && (s / batch) % 20 == 0) log.printf("\rfeatures %d/%d   ", s + m, count);
            }
        }
        if (log != null) log.println();
        return out;
    }

    public void save(Path file) {
        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>(Checkpoint.tensors(backbone.parameters(), ""));
        t.put("head.weight", Checkpoint.entry(headW));
        t.put("head.bias", Checkpoint.entry(headB));
        SafeTensors.write(file, t, Map.of(Checkpoint.CONFIG_KEY, backbone.config().toJson(), "erw.encoder", "vit-classifier",
                "test_accuracy", Double.toString(testAccuracy)));
    }

    public static TargetEncoder load(Path file) {
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            SiTConfig c = Checkpoint.config(f, null);
            TargetEncoder e = new TargetEncoder(c);
            ParameterStore ps = e.backbone.parameters();
            Checkpoint.loadInto(f, ps, "", false);
            f.readFloats("head.weight", e.headW.data(), 0);
            f.readFloats("head.bias", e.headB.data(), 0);
            String acc = f.metadata().get("test_accuracy");
            if (acc != null) e.testAccuracy = Double.parseDouble(acc);
            return e;
        }
    }
}
