package erw.training.eval;

import erw.engine.Graph;
import erw.engine.Tensor;
import erw.engine.host.Philox;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsException;
import erw.model.io.SafeTensorsFile;
import erw.training.ImageClassifier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The second evaluator: a small convolutional classifier, a different kind of network from the MLP
 * {@link Evaluator} and from the ViT target encoder, trained by erw from its own seed, so that a
 * result that holds on both feature spaces does not come from one network's quirks.
 *
 * <pre>
 * conv 3x3 C->32, GroupNorm 8, SiLU            (H x W)
 * conv 3x3 stride 2 32->64, GroupNorm 8, SiLU  (H/2)
 * conv 3x3 stride 2 64->64, GroupNorm 8, SiLU  (H/4)
 * flatten -> linear 256, SiLU -> linear head
 * </pre>
 * The 256 activations before the head are its features for the Frechet distance and precision/recall.
 * (A first version pooled the last map by its mean: 81% test accuracy on Fashion-MNIST; flattening
 * keeps where things are, as a LeNet does.)
 */
public final class ConvEvaluator extends ImageClassifier {
    public static final int[] WIDTHS = {32, 64, 64};
    public static final int HIDDEN = 256;
    public static final int GROUPS = 8;
    /** Neither the MLP evaluator's nor the target encoder's seed. */
    public static final long DEFAULT_SEED = 7331;

    private final int channels, side;
    private final List<Tensor> params = new ArrayList<>();

    public ConvEvaluator(int channels, int side, int numClasses) {
        super(numClasses);
        if (side % 4 != 0) throw new IllegalArgumentException("the convolutional evaluator needs an image side divisible by 4, got " + side);
        this.channels = channels;
        this.side = side;
        int in = channels;
        for (int i = 0; i < WIDTHS.length; i++) {
            params.add(Tensor.param("conv" + i + ".weight", WIDTHS[i], in, 3, 3));
            params.add(Tensor.param("conv" + i + ".bias", WIDTHS[i]));
            params.add(Tensor.param("norm" + i + ".weight", WIDTHS[i]));
            params.add(Tensor.param("norm" + i + ".bias", WIDTHS[i]));
            in = WIDTHS[i];
        }
        params.add(Tensor.param("fc.weight", HIDDEN, in * (side / 4) * (side / 4)));
        params.add(Tensor.param("fc.bias", HIDDEN));
        params.add(Tensor.param("head.weight", numClasses, HIDDEN));
        params.add(Tensor.param("head.bias", numClasses));
    }

    public String describe() {
        return String.format(Locale.ROOT, "conv evaluator %d-%d-%d-fc%d (test accuracy %.2f%%)", WIDTHS[0], WIDTHS[1], WIDTHS[2], HIDDEN, 100 * testAccuracy);
    }

    @Override
    public int featureSize() {
        return HIDDEN;
    }

    @Override
    protected List<Tensor> trainable() {
        return params;
    }

    @Override
    protected void initialize(long seed) {
        int stream = 60;
        for (Tensor p : params) {
            float[] v = p.data();
            String n = p.name();
            if (n.startsWith("norm") && n.endsWith(".weight")) {
                java.util.Arrays.fill(v, 1f);
            } else if (n.endsWith(".bias")) {
                java.util.Arrays.fill(v, 0f);
            } else { // He-normal over the fan-in
                Philox.normal(seed, stream++, 0, v, 0, v.length);
                float scale = (float) Math.sqrt(2.0 / (p.size() / p.dim(0)));
                for (int i = 0; i < v.length; i++) v[i] *= scale;
            }
        }
    }

    private Tensor p(String name) {
        for (Tensor t : params) if (t.name().equals(name)) return t;
        throw new IllegalStateException(name);
    }

    @Override
    protected Net record(int batch, boolean train) {
        Graph g = train ? new Graph("conv_evaluator") : Graph.inference("conv_evaluator.eval");
        Tensor x = Tensor.input("x", batch, channels, side, side);
        Tensor h = x;
        for (int i = 0; i < WIDTHS.length; i++) {
            h = g.conv2d("conv" + i, h, p("conv" + i + ".weight"), p("conv" + i + ".bias"), i == 0 ? 1 : 2, 1);
            h = g.silu("act" + i, g.groupNorm("norm" + i, h, GROUPS, p("norm" + i + ".weight"), p("norm" + i + ".bias"), 1e-5f));
        }
        Tensor flat = h.view("flat", batch, h.size() / batch);
        Tensor features = g.silu("fc.act", g.linear("fc", flat, p("fc.weight"), p("fc.bias")));
        return new Net(g, x, g.linear("head", features, p("head.weight"), p("head.bias")), features);
    }

    public void save(Path file) {
        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
        for (Tensor p : params) {
            long[] s = new long[p.rank()];
            for (int i = 0; i < s.length; i++) s[i] = p.dim(i);
            t.put(p.name(), new SafeTensors.Tensor(s, p.data()));
        }
        SafeTensors.write(file, t, Map.of("erw.evaluator", "conv", "shape", channels + "x" + side + "x" + side + "x" + numClasses,
                "test_accuracy", Double.toString(testAccuracy)));
    }

    public static ConvEvaluator load(Path file) {
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            String shape = f.metadata().get("shape");
            if (!"conv".equals(f.metadata().get("erw.evaluator")) || shape == null) {
                throw new SafeTensorsException(file + ": not an erw convolutional evaluator (metadata erw.evaluator=conv/shape missing)");
            }
            String[] s = shape.split("x");
            ConvEvaluator e = new ConvEvaluator(Integer.parseInt(s[0]), Integer.parseInt(s[1]), Integer.parseInt(s[3]));
            for (Tensor p : e.params) {
                long[] want = new long[p.rank()];
                for (int i = 0; i < want.length; i++) want[i] = p.dim(i);
                if (!f.contains(p.name()) || !java.util.Arrays.equals(f.shape(p.name()), want)) {
                    throw new SafeTensorsException(file + ": tensor " + p.name() + " missing or not " + p.shapeString() + "; delete the file to retrain");
                }
                f.readFloats(p.name(), p.data(), 0);
            }
            String acc = f.metadata().get("test_accuracy");
            if (acc != null) e.testAccuracy = Double.parseDouble(acc);
            return e;
        }
    }
}
