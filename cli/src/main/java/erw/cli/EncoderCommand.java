package erw.cli;

import erw.training.data.BuiltInData;
import erw.engine.cpu.CpuBackend;
import erw.training.TargetEncoder;
import erw.training.data.DatasetDir;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code erw encoder train}: the target encoder (a ViT classifier on the labels) whose tokens become the alignment targets. */
@Command(name = "encoder", mixinStandardHelpOptions = true, description = "Target encoders.", subcommands = EncoderCommand.Train.class)
public final class EncoderCommand implements Runnable {
    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    @Command(name = "train", mixinStandardHelpOptions = true, description = "Train a ViT classifier (erw's SiT blocks) on a dataset's labels; reports test accuracy.")
    static final class Train implements Callable<Integer> {
        @Option(names = "--data", description = "Dataset directory to train on (or --fashion-mnist).") Path data;
        @Option(names = "--fashion-mnist", description = "Train on the built-in Fashion-MNIST (train split; accuracy on the test split) exactly as "
                + "`erw train` prepares its target encoder; with more --steps a stronger encoder, which a data root holding it as "
                + "fashion-mnist-encoder.safetensors then uses for its features (the study's encoder-strength ablation).") boolean fashionMnist;
        @Option(names = "--test-data", description = "Held-out dataset for the reported accuracy.") Path testData;
        @Option(names = "--out", required = true, description = "Encoder file to write (.safetensors).") Path out;
        @Option(names = "--steps", description = "Training steps (default ${DEFAULT-VALUE}, the built-in encoder's).") int steps = BuiltInData.ENCODER_STEPS;
        @Option(names = "--batch", description = "Batch (default ${DEFAULT-VALUE}).") int batch = BuiltInData.ENCODER_BATCH;
        @Option(names = "--lr", description = "AdamW learning rate (default ${DEFAULT-VALUE}).") double lr = 2e-3;
        @Option(names = "--seed", description = "Initialization and data order (default ${DEFAULT-VALUE}).") long seed = 0;
        @Option(names = "--depth", description = "Transformer blocks (default ${DEFAULT-VALUE}).") int depth = 4;
        @Option(names = "--hidden", description = "Hidden size (default ${DEFAULT-VALUE}).") int hidden = 64;
        @Option(names = "--heads", description = "Attention heads (default ${DEFAULT-VALUE}).") int heads = 2;
        @Option(names = "--patch", description = "Patch size: use the diffusion model's, so the token grids match.") int patch = 4;

        @Override
        public Integer call() throws Exception {
            if ((data == null) == !fashionMnist) throw new IllegalArgumentException("--data or --fashion-mnist: give exactly one");
            if (fashionMnist) {
                if (testData != null) throw new IllegalArgumentException("--test-data: --fashion-mnist reports its accuracy on the Fashion-MNIST test split");
                erw.training.data.FashionMnist train = erw.training.data.FashionMnist.load(erw.training.data.FashionMnist.defaultDirectory(), true);
                erw.training.data.FashionMnist test = erw.training.data.FashionMnist.load(erw.training.data.FashionMnist.defaultDirectory(), false);
                var cfg = new erw.model.SiTConfig(depth, hidden, heads, patch, erw.training.data.FashionMnist.SIZE, erw.training.data.FashionMnist.CHANNELS,
                        erw.training.data.FashionMnist.NUM_CLASSES, depth, 16, 8, 4.0, false, false, 0);
                try (CpuBackend cpu = new CpuBackend()) {
                    new TargetEncoder(cfg).train(cpu, train.images(), train.labels(), test.images(), test.labels(), steps, batch, lr, seed, System.err).save(out);
                }
                System.err.println("encoder written to " + out);
                return 0;
            }
            DataCommand.Loaded train, test = null;
            try (DatasetDir d = DatasetDir.open(data)) {
                train = DataCommand.loadAll(d);
            }
            if (testData != null) {
                try (DatasetDir d = DatasetDir.open(testData)) {
                    test = DataCommand.loadAll(d);
                }
            }
            int[] s = train.imageShape();
            var cfg = new erw.model.SiTConfig(depth, hidden, heads, patch, s[1], s[0], train.numClasses(), depth, 16, 8, 4.0, false, false, 0);
            try (CpuBackend cpu = new CpuBackend()) {
                TargetEncoder enc = new TargetEncoder(cfg).train(cpu, train.images(), ints(train.labels()), test == null ? null : test.images(),
                        test == null ? null : ints(test.labels()), steps, batch, lr, seed, System.err);
                enc.save(out);
            }
            System.err.println("encoder written to " + out);
            return 0;
        }

        private static int[] ints(float[] f) {
            int[] out = new int[f.length];
            for (int i = 0; i < f.length; i++) out[i] = (int) f[i];
            return out;
        }
    }
}
