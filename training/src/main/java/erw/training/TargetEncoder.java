package erw.training;

import erw.engine.Backend;
import erw.engine.Graph;
import erw.engine.Tensor;
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
import java.util.Map;

/**
 * The built-in target encoder: a small ViT classifier trained by erw on the labels, whose patch
 * tokens become the alignment targets of the built-in data. It reuses the SiT's blocks (t = 0 and
 * the null class make adaLN a learned affine), pools the last block's tokens by their mean and
 * classifies with a Linear head under softmax cross-entropy. Same patch size as the diffusion
 * model, so its token grid is the SiT's.
 */
public final class TargetEncoder extends ImageClassifier {
    private final SiT backbone;
    private final Tensor headW, headB;

    public TargetEncoder(SiTConfig cfg) {
        super(cfg.numClasses());
        this.backbone = new SiT(cfg.truncatedTo(cfg.depth()));
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

    /** The last block's tokens: (T, width) per image, the alignment targets. */
    @Override
    public int featureSize() {
        return backbone.config().tokens() * width();
    }

    @Override
    protected List<Tensor> trainable() {
        List<Tensor> l = new ArrayList<>(backbone.parameters().trainable());
        l.add(headW);
        l.add(headB);
        return l;
    }

    @Override
    protected void initialize(long seed) {
        backbone.initialize(seed);
        erw.engine.GradCheck.fill(headW, seed + 17, 0.02f);
    }

    @Override
    protected Net record(int batch, boolean train) {
        SiTConfig c = backbone.config();
        Graph g = train ? new Graph("encoder") : Graph.inference("encoder.eval");
        Tensor x = Tensor.input("x", batch, c.inChannels(), c.inputSize(), c.inputSize());
        Tensor t = Tensor.input("t", batch), y = Tensor.input("y", batch);
        java.util.Arrays.fill(y.data(), numClasses); // the null class: an unconditional encoder
        SiT.Outputs o = backbone.forward(g, x, t, y);
        Tensor logits = g.linear("head", g.tokenMean("pool", o.hidden(), batch), headW, headB);
        return new Net(g, x, logits, o.hidden());
    }

    /** Trains on (images, labels); see {@link ImageClassifier#train}. */
    public TargetEncoder train(Backend backend, float[] images, int[] labels, float[] testImages, int[] testLabels,
                               int steps, int batch, double lr, long seed, PrintStream log) {
        train(backend, images, labels, testImages, testLabels, steps, batch, lr, seed, "encoder", log);
        return this;
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
