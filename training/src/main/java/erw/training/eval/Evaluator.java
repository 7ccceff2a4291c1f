package erw.training.eval;

import erw.engine.Graph;
import erw.engine.Tensor;
import erw.engine.host.Philox;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsException;
import erw.model.io.SafeTensorsFile;
import erw.training.ImageClassifier;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The network that scores samples: an MLP classifier on raw pixels (in -> 1024 -> 512 -> classes,
 * GELU), deliberately another architecture than the ViT target encoder and trained from another
 * seed, so that alignment with the target cannot game the score. Its 512-wide penultimate
 * activations are the features of the Frechet distance (the role Inception's pool features play in
 * FID); its arg-max tells whether a sample of class k looks like class k.
 */
public final class Evaluator extends ImageClassifier {
    public static final int HIDDEN1 = 1024, HIDDEN2 = 512;
    /** Not the target encoder's seed: the evaluator must be an independent network. */
    public static final long DEFAULT_SEED = 9001;

    private final int channels, side;
    private final Tensor w1, b1, w2, b2, w3, b3;

    public Evaluator(int channels, int side, int numClasses) {
        super(numClasses);
        this.channels = channels;
        this.side = side;
        int in = channels * side * side;
        w1 = Tensor.param("fc1.weight", HIDDEN1, in);
        b1 = Tensor.param("fc1.bias", HIDDEN1);
        w2 = Tensor.param("fc2.weight", HIDDEN2, HIDDEN1);
        b2 = Tensor.param("fc2.bias", HIDDEN2);
        w3 = Tensor.param("head.weight", numClasses, HIDDEN2);
        b3 = Tensor.param("head.bias", numClasses);
    }

    /** How every number computed with it is labelled. */
    public String describe() {
        return String.format(Locale.ROOT, "MLP evaluator %d-%d-%d-%d (test accuracy %.2f%%)", channels * side * side, HIDDEN1, HIDDEN2, numClasses,
                100 * testAccuracy);
    }

    @Override
    public int featureSize() {
        return HIDDEN2;
    }

    @Override
    protected List<Tensor> trainable() {
        return List.of(w1, b1, w2, b2, w3, b3);
    }

    @Override
    protected void initialize(long seed) {
        int s = 0;
        for (Tensor w : List.of(w1, w2, w3)) {
            // He-normal for GELU layers, zero biases
            Philox.normal(seed, 40 + s++, 0, w.data(), 0, w.size());
            float scale = (float) Math.sqrt(2.0 / w.dim(1));
            for (int i = 0; i < w.size(); i++) w.data()[i] *= scale;
        }
        for (Tensor b : List.of(b1, b2, b3)) java.util.Arrays.fill(b.data(), 0f);
    }

    @Override
    protected Net record(int batch, boolean train) {
        Graph g = train ? new Graph("evaluator") : Graph.inference("evaluator.eval");
        Tensor x = Tensor.input("x", batch, channels, side, side);
        Tensor h1 = g.gelu("fc1.act", g.linear("fc1", x.view("x.flat", batch, channels * side * side), w1, b1));
        Tensor h2 = g.gelu("fc2.act", g.linear("fc2", h1, w2, b2));
        return new Net(g, x, g.linear("head", h2, w3, b3), h2);
    }

    public void save(Path file) {
        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
        for (Tensor p : trainable()) t.put(p.name(), new SafeTensors.Tensor(longs(p.shape()), p.data()));
        SafeTensors.write(file, t, Map.of("erw.evaluator", "mlp", "shape", channels + "x" + side + "x" + side + "x" + numClasses,
                "test_accuracy", Double.toString(testAccuracy)));
    }

    public static Evaluator load(Path file) {
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            String shape = f.metadata().get("shape");
            if (!"mlp".equals(f.metadata().get("erw.evaluator")) || shape == null) {
                throw new SafeTensorsException(file + ": not an erw evaluator (metadata erw.evaluator/shape missing)");
            }
            String[] s = shape.split("x");
            Evaluator e = new Evaluator(Integer.parseInt(s[0]), Integer.parseInt(s[1]), Integer.parseInt(s[3]));
            for (Tensor p : e.trainable()) {
                if (!java.util.Arrays.equals(f.shape(p.name()), longs(p.shape()))) {
                    throw new SafeTensorsException(file + ": tensor " + p.name() + " has shape " + java.util.Arrays.toString(f.shape(p.name()))
                            + ", expected " + p.shapeString());
                }
                f.readFloats(p.name(), p.data(), 0);
            }
            String acc = f.metadata().get("test_accuracy");
            if (acc != null) e.testAccuracy = Double.parseDouble(acc);
            return e;
        }
    }

    private static long[] longs(int[] s) {
        long[] l = new long[s.length];
        for (int i = 0; i < s.length; i++) l[i] = s[i];
        return l;
    }
}
