package erw.training.data;

import erw.engine.cpu.CpuBackend;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsFile;
import erw.training.ArrayBatchSource;
import erw.training.BatchSource;
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
 */
public final class BuiltInData {
    private BuiltInData() {}

    public static final int ENCODER_STEPS = 800, ENCODER_BATCH = 128;

    public static BatchSource prepare(Path root, long seed, PrintStream err) throws Exception {
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
