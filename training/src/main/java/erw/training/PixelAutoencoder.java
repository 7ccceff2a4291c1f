package erw.training;

import erw.engine.Backend;
import erw.engine.Graph;
import erw.engine.Plan;
import erw.engine.Tensor;
import erw.engine.host.Philox;
import erw.engine.ops.AdamW;
import erw.engine.ops.ZeroGrad;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsException;
import erw.model.io.SafeTensorsFile;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * An MLP autoencoder on raw pixels that erw trains itself: encoder in -> 512 (GELU) -> Z (linear),
 * decoder Z -> 512 (GELU) -> in (linear), under the mean squared reconstruction error. Its Z-wide
 * code is one global vector per image from an encoder of another kind (unsupervised, no labels)
 * than the ViT target encoder and the MLP evaluator (both supervised classifiers): the built-in
 * data's stand-in for REED's caption embeddings.
 *
 * <p>Deterministic: the weights come from Philox keyed by (seed, tensor index), the data order from
 * {@link DataOrder}; the same seed and thread count give bit-identical codes.
 */
public final class PixelAutoencoder {
    public static final int HIDDEN = 512;
    public static final int DEFAULT_CODE_SIZE = 64;
    /** Images over which the reconstruction error is measured after training. */
    public static final int MSE_IMAGES = 2000;
    private static final String KIND_KEY = "erw.autoencoder", KIND = "mlp";
    /** Philox streams of the weights: INIT_STREAM + tensor index (the evaluator uses 40 + i). */
    private static final long INIT_STREAM = 0xAE00;

    private final int channels, side, codeSize;
    private final Tensor encW1, encB1, encW2, encB2, decW1, decB1, decW2, decB2;
    private double reconstructionMse = Double.NaN;

    public PixelAutoencoder(int channels, int side, int codeSize) {
        if (channels < 1 || side < 1 || codeSize < 1) {
            throw new IllegalArgumentException("autoencoder: channels " + channels + ", side " + side + " and code size " + codeSize + " must be positive");
        }
        this.channels = channels;
        this.side = side;
        this.codeSize = codeSize;
        int in = inputSize();
        encW1 = Tensor.param("enc.fc1.weight", HIDDEN, in);
        encB1 = Tensor.param("enc.fc1.bias", HIDDEN);
        encW2 = Tensor.param("enc.fc2.weight", codeSize, HIDDEN);
        encB2 = Tensor.param("enc.fc2.bias", codeSize);
        decW1 = Tensor.param("dec.fc1.weight", HIDDEN, codeSize);
        decB1 = Tensor.param("dec.fc1.bias", HIDDEN);
        decW2 = Tensor.param("dec.fc2.weight", in, HIDDEN);
        decB2 = Tensor.param("dec.fc2.bias", in);
    }

    /** With the default code size of 64. */
    public PixelAutoencoder(int channels, int side) {
        this(channels, side, DEFAULT_CODE_SIZE);
    }

    public int channels() {
        return channels;
    }

    public int side() {
        return side;
    }

    /** Floats per image in {@link #encode}: Z. */
    public int codeSize() {
        return codeSize;
    }

    /** Floats per image: C*H*W. */
    public int inputSize() {
        return Math.multiplyExact(channels, Math.multiplyExact(side, side));
    }

    /** The mean reconstruction MSE measured after training (NaN before). */
    public double reconstructionMse() {
        return reconstructionMse;
    }

    /** How every number computed with it is labelled. */
    public String describe() {
        return String.format(Locale.ROOT, "erw MLP autoencoder %d-%d-%d (reconstruction MSE %.4g)", inputSize(), HIDDEN, codeSize, reconstructionMse);
    }

    /** Parameters in a fixed order: their index is the Philox stream offset of their initialization. */
    private List<Tensor> trainable() {
        return List.of(encW1, encB1, encW2, encB2, decW1, decB1, decW2, decB2);
    }

    /** Xavier-uniform weights from Philox keyed by (seed, tensor index), zero biases. */
    private void initialize(long seed) {
        List<Tensor> ps = trainable();
        for (int i = 0; i < ps.size(); i++) {
            Tensor p = ps.get(i);
            float[] d = p.data();
            if (p.rank() == 1) {
                Arrays.fill(d, 0f);
                continue;
            }
            int fanOut = p.dim(0), fanIn = p.dim(1);
            float bound = (float) Math.sqrt(6.0 / (fanIn + fanOut));
            Philox.uniform(seed, INIT_STREAM + i, 0, d, 0, d.length);
            for (int j = 0; j < d.length; j++) d[j] = (2 * d[j] - 1) * bound;
        }
    }

    private record Net(Graph graph, Tensor x, Tensor code, Tensor reconstruction) {}

    /** The encoder and, unless {@code encoderOnly}, the decoder on a (batch, C, H, W) input. */
    private Net record(int batch, boolean train, boolean encoderOnly) {
        Graph g = train ? new Graph("autoencoder") : Graph.inference(encoderOnly ? "autoencoder.encode" : "autoencoder.eval");
        Tensor x = Tensor.input("x", batch, channels, side, side);
        Tensor flat = x.view("x.flat", batch, inputSize());
        Tensor h = g.gelu("enc.fc1.act", g.linear("enc.fc1", flat, encW1, encB1));
        Tensor z = g.linear("enc.fc2", h, encW2, encB2);
        if (encoderOnly) return new Net(g, x, z, null);
        Tensor d = g.gelu("dec.fc1.act", g.linear("dec.fc1", z, decW1, decB1));
        return new Net(g, x, z, g.linear("dec.fc2", d, decW2, decB2));
    }

    /**
     * Trains from fresh weights on {@code count} images ((count, C, H, W) row-major) with AdamW
     * (0.9/0.999, eps 1e-8, no weight decay) under a cosine decay of {@code lr} to 10%, then measures
     * the mean reconstruction MSE over the first min(count, 2000) images. {@code steps} 0 leaves the
     * freshly initialized network (and its error). {@code log} may be null.
     */
    public PixelAutoencoder train(Backend backend, float[] images, int count, int steps, int batch, double lr, long seed, PrintStream log) {
        checkImages(images, count, "train");
        if (count < 1) throw new IllegalArgumentException("autoencoder: no training images");
        if (steps < 0 || batch < 1) throw new IllegalArgumentException("autoencoder: steps " + steps + " and batch " + batch + " must be >= 0 and >= 1");
        initialize(seed);
        reconstructionMse = Double.NaN;
        int per = inputSize();
        if (steps > 0) {
            Net net = record(batch, true, false);
            Tensor loss = net.graph.mse("loss", net.reconstruction, net.x.view("x.target", batch, per));
            Graph bwd = net.graph.backward(loss);
            Tensor lrT = Tensor.scalar("lr", (float) lr), stepT = Tensor.scalar("step", 0);
            Graph opt = new Graph("autoencoder.optimizer");
            opt.add(new AdamW("adamw", trainable(), lrT, stepT, 0.9f, 0.999f, 1e-8f, 0f));
            opt.add(new ZeroGrad("zero", trainable()));
            DataOrder order = new DataOrder(seed ^ 0xA07E_C0DEL, count);
            int[] idx = new int[batch];
            long t0 = System.nanoTime();
            List<Plan> plans = backend.compileCycle("autoencoder.step", List.of(net.graph.readBack(loss), bwd.readBack(), opt.readBack()));
            Plan f = plans.get(0), b = plans.get(1), o = plans.get(2);
            try {
                for (int s = 0; s < steps; s++) {
                    order.batchIndices(s, idx);
                    for (int i = 0; i < batch; i++) System.arraycopy(images, idx[i] * per, net.x.data(), i * per, per);
                    lrT.set((float) (lr * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * s / steps)))));
                    stepT.set(s + 1);
                    f.run();
                    if (!Float.isFinite(loss.item())) throw new TrainingException("autoencoder step " + s + ": loss is " + loss.item());
                    b.run();
                    o.run();
                    if (log != null && ((s + 1) % 100 == 0 || s + 1 == steps)) {
                        log.printf(Locale.ROOT, "\rautoencoder step %d/%d | loss %.5f | %.1f img/s   ", s + 1, steps, loss.item(),
                                (s + 1.0) * batch / ((System.nanoTime() - t0) / 1e9));
                    }
                }
                backend.syncToHost(trainable());
            } finally {
                for (Plan p : plans) p.close();
            }
            if (log != null) log.println();
        }
        reconstructionMse = reconstructionMse(backend, images, Math.min(count, MSE_IMAGES), batch);
        if (log != null) log.printf(Locale.ROOT, "autoencoder reconstruction MSE: %.5f on %d images%n", reconstructionMse, Math.min(count, MSE_IMAGES));
        return this;
    }

    /** The mean squared reconstruction error over the first {@code count} images (per pixel, then per image). */
    public double reconstructionMse(Backend backend, float[] images, int count, int batch) {
        checkImages(images, count, "reconstructionMse");
        if (count < 1) return Double.NaN;
        int per = inputSize();
        int bs = Math.min(checkBatch(batch), count);
        Net net = record(bs, false, false);
        double sum = 0;
        try (Plan p = backend.compile(net.graph.readBack(net.reconstruction))) {
            for (int s = 0; s < count; s += bs) {
                int m = Math.min(bs, count - s);
                float[] x = net.x.data();
                Arrays.fill(x, 0f);
                System.arraycopy(images, s * per, x, 0, m * per);
                p.run();
                float[] r = net.reconstruction.data();
                for (int i = 0; i < m * per; i++) {
                    double e = (double) r[i] - images[s * per + i];
                    sum += e * e;
                }
            }
        }
        return sum / ((double) count * per);
    }

    /** The codes of the first {@code count} images: (count, Z) row-major, in batches (the last one zero-padded). */
    public float[] encode(Backend backend, float[] images, int count, int batch) {
        checkImages(images, count, "encode");
        float[] out = new float[Math.multiplyExact(count, codeSize)];
        if (count == 0) return out;
        int per = inputSize();
        int bs = Math.min(checkBatch(batch), count);
        Net net = record(bs, false, true);
        try (Plan p = backend.compile(net.graph.readBack(net.code))) {
            for (int s = 0; s < count; s += bs) {
                int m = Math.min(bs, count - s);
                Arrays.fill(net.x.data(), 0f);
                System.arraycopy(images, s * per, net.x.data(), 0, m * per);
                p.run();
                System.arraycopy(net.code.data(), 0, out, s * codeSize, m * codeSize);
            }
        }
        return out;
    }

    private void checkImages(float[] images, int count, String what) {
        if (count < 0 || images == null || (long) count * inputSize() > images.length) {
            throw new IllegalArgumentException("autoencoder " + what + ": " + count + " images of " + channels + "x" + side + "x" + side
                    + " need " + (long) count * inputSize() + " floats, got " + (images == null ? "none" : images.length));
        }
    }

    private static int checkBatch(int batch) {
        if (batch < 1) throw new IllegalArgumentException("autoencoder: batch " + batch + " must be positive");
        return batch;
    }

    /** The weights as safetensors, with channels, side, code size and reconstruction MSE in the metadata. */
    public void save(Path file) {
        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
        for (Tensor p : trainable()) t.put(p.name(), new SafeTensors.Tensor(longs(p.shape()), p.data()));
        SafeTensors.write(file, t, Map.of(KIND_KEY, KIND, "channels", Integer.toString(channels), "side", Integer.toString(side),
                "code_size", Integer.toString(codeSize), "hidden", Integer.toString(HIDDEN), "reconstruction_mse", Double.toString(reconstructionMse)));
    }

    /** Reads {@link #save}'s file; anything else, or a damaged one, is a one-line IllegalArgumentException naming the file. */
    public static PixelAutoencoder load(Path file) {
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            Map<String, String> meta = f.metadata();
            if (!KIND.equals(meta.get(KIND_KEY))) throw bad(file, "not an erw autoencoder (metadata " + KIND_KEY + " is " + meta.get(KIND_KEY) + ")");
            int channels = positive(file, meta, "channels"), side = positive(file, meta, "side"), code = positive(file, meta, "code_size");
            String hidden = meta.get("hidden");
            if (hidden != null && !hidden.equals(Integer.toString(HIDDEN))) throw bad(file, "hidden width " + hidden + ", this build has " + HIDDEN);
            if ((long) channels * side * side > Integer.MAX_VALUE / HIDDEN) throw bad(file, "image size " + channels + "x" + side + "x" + side + " is too large");
            PixelAutoencoder a = new PixelAutoencoder(channels, side, code);
            for (Tensor p : a.trainable()) {
                if (!f.contains(p.name())) throw bad(file, "tensor " + p.name() + " is missing");
                if (!Arrays.equals(f.shape(p.name()), longs(p.shape()))) {
                    throw bad(file, "tensor " + p.name() + " has shape " + Arrays.toString(f.shape(p.name())) + ", expected " + p.shapeString());
                }
                f.readFloats(p.name(), p.data(), 0);
                for (float v : p.data()) if (!Float.isFinite(v)) throw bad(file, "tensor " + p.name() + " holds " + v);
            }
            String mse = meta.get("reconstruction_mse");
            if (mse != null) {
                try {
                    a.reconstructionMse = Double.parseDouble(mse);
                } catch (NumberFormatException e) {
                    throw bad(file, "metadata reconstruction_mse '" + mse + "' is not a number");
                }
            }
            return a;
        } catch (SafeTensorsException e) {
            String msg = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
            throw new IllegalArgumentException(msg.contains(file.toString()) ? msg : file + ": " + msg, e);
        }
    }

    private static int positive(Path file, Map<String, String> meta, String key) {
        String v = meta.get(key);
        try {
            int n = Integer.parseInt(v == null ? "" : v.trim());
            if (n > 0) return n;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw bad(file, "metadata " + key + " is " + (v == null ? "missing" : "'" + v + "'") + ", expected a positive integer");
    }

    private static IllegalArgumentException bad(Path file, String why) {
        return new IllegalArgumentException(file + ": " + why);
    }

    private static long[] longs(int[] s) {
        long[] l = new long[s.length];
        for (int i = 0; i < s.length; i++) l[i] = s[i];
        return l;
    }
}
