package erw.training.data;

import erw.engine.cpu.CpuBackend;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsFile;
import erw.training.ArrayBatchSource;
import erw.training.BatchSource;
import erw.training.PixelAutoencoder;
import erw.training.TargetEncoder;
import erw.training.data.FashionMnist;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The built-in data of the main job: Fashion-MNIST (Debian's package) with targets from erw's own
 * encoder. The encoder ({@code fashion-mnist-encoder.safetensors}) and the features
 * ({@code fashion-mnist-features.safetensors}) are made once under the data root and reused.
 *
 * <p>A second feature set, {@value #AUTOENCODER} (one 64-wide vector per image), stands in offline
 * for REED's caption embeddings: the code of an MLP autoencoder erw trains on the pixels without
 * labels ({@code fashion-mnist-autoencoder.safetensors}, codes in
 * {@code fashion-mnist-autoencoder-codes.safetensors}), a second encoder of another kind than the
 * alignment target (a supervised ViT's patch tokens) and than the evaluator (a supervised MLP
 * classifier). Made only when a run's targets read it.
 */
public final class BuiltInData {
    private BuiltInData() {}

    public static final int ENCODER_STEPS = 800, ENCODER_BATCH = 128;
    /** The stand-in set's name, and its autoencoder's training: code width, steps, batch, lr, seed. */
    public static final String AUTOENCODER = "autoencoder";
    public static final int AE_CODE = 64, AE_STEPS = 1500, AE_BATCH = 128;
    public static final double AE_LR = 2e-3;
    public static final long AE_SEED = 7001;

    public static BatchSource prepare(Path root, long seed, PrintStream err) throws Exception {
        return prepare(root, seed, java.util.List.of(), err);
    }

    /** The built-in data holding every feature set in {@code sets} ({@value BatchSource#FEATURES} always; {@value #AUTOENCODER} on request). */
    public static BatchSource prepare(Path root, long seed, java.util.List<String> sets, PrintStream err) throws Exception {
        for (String set : sets) {
            if (!set.equals(BatchSource.FEATURES) && !set.equals(AUTOENCODER)) {
                throw new IllegalArgumentException("--target " + set + ": the built-in data has the feature sets " + BatchSource.FEATURES + " and " + AUTOENCODER
                        + "; for others, make a dataset directory (erw data fashion-mnist, erw data add-features) and pass --data");
            }
        }
        ArrayBatchSource source = prepareDefault(root, seed, err);
        if (sets.contains(AUTOENCODER)) source.withFeatures(AUTOENCODER, autoencoderCodes(root, err), new int[]{AE_CODE});
        return source;
    }

    /** The autoencoder's codes of the 60,000 training images, made (and the autoencoder trained) on first use. */
    static float[] autoencoderCodes(Path root, PrintStream err) throws Exception {
        FashionMnist train = FashionMnist.load(FashionMnist.defaultDirectory(), true);
        int n = train.count();
        Files.createDirectories(root);
        Path aeFile = root.resolve("fashion-mnist-autoencoder.safetensors"), codeFile = root.resolve("fashion-mnist-autoencoder-codes.safetensors");
        if (Files.isRegularFile(codeFile)) {
            try (SafeTensorsFile f = SafeTensors.open(codeFile)) {
                long[] s = f.shape("features");
                if (s.length != 2 || s[0] != n || s[1] != AE_CODE) throw new IllegalArgumentException(codeFile + ": codes " + java.util.Arrays.toString(s) + " do not match the " + n + " training images; delete it to recompute");
                err.println("stand-in caption embeddings: " + codeFile + " (" + f.metadata().getOrDefault("encoder", "?") + ")");
                return f.readFloats("features");
            }
        }
        try (CpuBackend cpu = new CpuBackend()) {
            PixelAutoencoder ae;
            if (Files.isRegularFile(aeFile)) {
                ae = PixelAutoencoder.load(aeFile);
                err.println("autoencoder: " + aeFile);
            } else {
                err.printf("training the stand-in caption encoder (MLP autoencoder %d-512-%d on pixels, no labels, %d steps, batch %d) ...%n",
                        FashionMnist.SIZE * FashionMnist.SIZE, AE_CODE, AE_STEPS, AE_BATCH);
                ae = new PixelAutoencoder(FashionMnist.CHANNELS, FashionMnist.SIZE, AE_CODE).train(cpu, train.images(), n, AE_STEPS, AE_BATCH, AE_LR, AE_SEED, err);
                ae.save(aeFile);
            }
            err.println("computing the autoencoder's codes for " + n + " images ...");
            float[] codes = ae.encode(cpu, train.images(), n, 500);
            SafeTensors.write(codeFile, Map.of("features", new SafeTensors.Tensor(new long[]{n, AE_CODE}, codes)), Map.of("encoder", ae.describe()));
            return codes;
        }
    }

    private static ArrayBatchSource prepareDefault(Path root, long seed, PrintStream err) throws Exception {
        Path dir = FashionMnist.defaultDirectory();
        FashionMnist train = FashionMnist.load(dir, true);
        int n = train.count();
        float[] labels = new float[n];
        for (int i = 0; i < n; i++) labels[i] = train.labels()[i];
        Files.createDirectories(root);
        Path encFile = root.resolve("fashion-mnist-encoder.safetensors"), featFile = root.resolve("fashion-mnist-features.safetensors");
        float[] features;
        int tokens, width;
        if (Files.isRegularFile(featFile)) {
            try (SafeTensorsFile f = SafeTensors.open(featFile)) {
                long[] s = f.shape("features");
                if (s.length != 3 || s[0] != n) throw new IllegalArgumentException(featFile + ": features " + java.util.Arrays.toString(s) + " do not match the " + n + " training images; delete it to recompute");
                tokens = (int) s[1];
                width = (int) s[2];
                features = f.readFloats("features");
                err.println("target features: " + featFile + " (" + f.metadata().getOrDefault("encoder", "?") + ")");
            }
        } else {
            try (CpuBackend cpu = new CpuBackend()) {
                TargetEncoder enc;
                if (Files.isRegularFile(encFile)) {
                    enc = TargetEncoder.load(encFile);
                    err.println("target encoder: " + encFile);
                } else {
                    err.printf("training the target encoder (ViT classifier, %d steps, batch %d) on Fashion-MNIST labels ...%n", ENCODER_STEPS, ENCODER_BATCH);
                    FashionMnist test = FashionMnist.load(dir, false);
                    enc = new TargetEncoder(TargetEncoder.defaultConfig(FashionMnist.CHANNELS, FashionMnist.SIZE, FashionMnist.NUM_CLASSES))
                            .train(cpu, train.images(), train.labels(), test.images(), test.labels(), ENCODER_STEPS, ENCODER_BATCH, 2e-3, seed, err);
                    enc.save(encFile);
                }
                tokens = enc.config().tokens();
                width = enc.width();
                err.println("computing target features (last-block tokens) for " + n + " images ...");
                features = enc.features(cpu, train.images(), n, 250, err);
                String name = String.format(java.util.Locale.ROOT, "erw ViT classifier depth %d width %d (test accuracy %.2f%%)",
                        enc.config().depth(), width, 100 * enc.testAccuracy());
                SafeTensors.write(featFile, Map.of("features", new SafeTensors.Tensor(new long[]{n, tokens, width}, features)), Map.of("encoder", name));
            }
        }
        return new ArrayBatchSource(train.images(), new int[]{1, FashionMnist.SIZE, FashionMnist.SIZE}, labels, FashionMnist.NUM_CLASSES,
                features, new int[]{tokens, width});
    }

    public static BatchSource open(Path dir) {
        return erw.training.data.DatasetDir.open(dir);
    }
}
