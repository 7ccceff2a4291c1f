package erw.cli;

import erw.engine.cpu.CpuBackend;
import erw.model.io.Npy;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsFile;
import erw.training.TargetEncoder;
import erw.training.data.DatasetDir;
import erw.training.data.FashionMnist;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code erw data}: make, import, inspect dataset directories and add target features. */
@Command(name = "data", mixinStandardHelpOptions = true, description = "Dataset directories: import Fashion-MNIST or your own latents/features, add encoder features, inspect.",
        subcommands = {DataCommand.Fashion.class, DataCommand.Import.class, EncodeCommand.class, DataCommand.Features.class, DataCommand.AddFeatures.class, DataCommand.Inspect.class})
public final class DataCommand implements Runnable {
    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    /** All rows of a dataset in memory (for importers and feature extraction). */
    record Loaded(float[] images, float[] labels, int[] imageShape, int numClasses) {}

    static Loaded loadAll(DatasetDir d) {
        int n = d.count();
        int[] s = d.imageShape();
        float[] img = new float[n * s[0] * s[1] * s[2]], lab = new float[n];
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) idx[i] = i;
        d.batch(idx, img, lab, null);
        return new Loaded(img, lab, s, d.numClasses());
    }

    @Command(name = "fashion-mnist", mixinStandardHelpOptions = true, description = "Fashion-MNIST IDX files (Debian's dataset-fashion-mnist) to a dataset directory: 32x32, [-1, 1].")
    static final class Fashion implements Callable<Integer> {
        @Option(names = "--out", required = true) Path out;
        @Option(names = "--source", description = "IDX directory (default ${DEFAULT-VALUE}).") Path source = FashionMnist.defaultDirectory();
        @Option(names = "--split", description = "train | test (default ${DEFAULT-VALUE}).") String split = "train";
        @Option(names = "--limit", description = "Keep the first N images.") Integer limit;

        @Override
        public Integer call() {
            if (!split.equals("train") && !split.equals("test")) throw new IllegalArgumentException("--split " + split + ": use train or test");
            FashionMnist f = FashionMnist.load(source, split.equals("train"));
            int n = limit == null ? f.count() : Math.min(limit, f.count());
            if (n < 1) throw new IllegalArgumentException("--limit " + limit + ": must be >= 1");
            float[] labels = new float[n];
            for (int i = 0; i < n; i++) labels[i] = f.labels()[i];
            DatasetDir.write(out, Arrays.copyOf(f.images(), n * 1024), new int[]{1, 32, 32}, labels, FashionMnist.NUM_CLASSES, null, null, null,
                    "pixels/127.5 - 1, padded 28->32 with -1");
            System.err.println("wrote " + n + " images to " + out);
            return 0;
        }
    }

    @Command(name = "import", mixinStandardHelpOptions = true, description = "Latents/images (or VAE posterior moments), labels and (optionally) target features saved by PyTorch (.safetensors or .npy) to a dataset directory.")
    static final class Import implements Callable<Integer> {
        @Option(names = "--images", description = "(N, C, H, W) latents or images (or --moments).") Path images;
        @Option(names = "--moments", description = "(N, 2C, H, W) VAE posterior moments, [mean, std] along the channels as REPA's preprocessing saves them; "
                + "training draws z = (mean + std * eps) * scale + shift afresh every step.") Path moments;
        @Option(names = "--latent-scale", description = "Scale of the --moments latents (default 0.18215, SD-VAE's).") Float latentScale;
        @Option(names = "--latent-shift", description = "Shift of the --moments latents (default 0).") Float latentShift;
        @Option(names = "--vae", description = "Name of the VAE that made --moments (recorded in the manifest).") String vae;
        @Option(names = "--labels", required = true, description = "(N) integer class ids.") Path labels;
        @Option(names = "--features", description = "(N, T, Z) target features, e.g. DINOv2 patch tokens.") Path features;
        @Option(names = "--num-classes", description = "Classes (default: max label + 1).") Integer numClasses;
        @Option(names = "--encoder", description = "Name of the encoder that made the features.") String encoder;
        @Option(names = "--feature-set", description = "A further feature set NAME=FILE ((N, Z) one vector per sample, or (N, T, Z) per token), "
                + "e.g. REED's caption embeddings: captions=vlm.npy (repeatable).") java.util.Map<String, Path> featureSets = new java.util.LinkedHashMap<>();
        @Option(names = "--out", required = true) Path out;

        /** SD-VAE's latent scale (REPA's {@code latents_scale}). */
        static final float SD_VAE_SCALE = 0.18215f;

        @Override
        public Integer call() {
            if ((images == null) == (moments == null)) throw new IllegalArgumentException("give either --images (plain latents or images) or --moments (posterior [mean, std])");
            if (moments == null && (latentScale != null || latentShift != null || vae != null)) {
                throw new IllegalArgumentException((latentScale != null ? "--latent-scale" : latentShift != null ? "--latent-shift" : "--vae") + " applies to --moments only");
            }
            Path source = images != null ? images : moments;
            Npy.Array img = read(source, 4), lab = read(labels, 1), feat = features == null ? null : read(features, 3);
            int n = (int) img.shape()[0];
            if (n < 1) throw new IllegalArgumentException(source + ": holds no samples (shape " + Arrays.toString(img.shape()) + ")");
            if (lab.shape()[0] != n) throw new IllegalArgumentException(labels + ": " + lab.shape()[0] + " labels for " + n + " images in " + source);
            if (feat != null && feat.shape()[0] != n) throw new IllegalArgumentException(features + ": features for " + feat.shape()[0] + " samples, " + source + " has " + n);
            requireFinite(source, img.data());
            requireFinite(labels, lab.data());
            if (feat != null) requireFinite(features, feat.data());
            if (numClasses != null && (numClasses < 1 || numClasses > DatasetDir.MAX_CLASSES)) {
                throw new IllegalArgumentException("--num-classes " + numClasses + " must be in [1, " + DatasetDir.MAX_CLASSES + "]");
            }
            int k = 1;
            for (int i = 0; i < n; i++) {
                float l = lab.data()[i];
                if (l < 0 || l != Math.rint(l) || l >= (numClasses != null ? numClasses : DatasetDir.MAX_CLASSES)) {
                    throw new IllegalArgumentException(labels + ": label " + l + " at index " + i + " is not a class id in [0, "
                            + (numClasses != null ? numClasses + ") (--num-classes)" : DatasetDir.MAX_CLASSES + ")"));
                }
                k = Math.max(k, (int) l + 1);
            }
            if (numClasses != null) k = numClasses;
            int[] featShape = feat == null ? null : new int[]{(int) feat.shape()[1], (int) feat.shape()[2]};
            if (moments != null) {
                writeMoments(img, lab.data(), k, feat == null ? null : feat.data(), featShape);
            } else {
                DatasetDir.write(out, img.data(), new int[]{(int) img.shape()[1], (int) img.shape()[2], (int) img.shape()[3]}, lab.data(), k,
                        feat == null ? null : feat.data(), featShape, encoder, "as imported");
            }
            DatasetDir.open(out).close(); // validates labels against num_classes
            for (var e : featureSets.entrySet()) AddFeatures.add(out, e.getKey(), e.getValue(), "imported from " + e.getValue().getFileName(), false);
            System.err.println("imported " + n + " samples to " + out);
            return 0;
        }

        /**
         * REPA's layout (N, 2C, H, W) = [mean, std] per sample to a moments dataset: the halves of each
         * sample's channels, in chunks through {@link DatasetDir.MomentsWriter} (no second full copy).
         */
        private void writeMoments(Npy.Array m, float[] lab, int k, float[] feat, int[] featShape) {
            long[] s = m.shape();
            if (s[1] % 2 != 0) throw new IllegalArgumentException(moments + ": " + s[1] + " channels: posterior moments (N, 2C, H, W) hold [mean, std], an even number");
            int c = (int) s[1] / 2, half = (int) (c * s[2] * s[3]), n = lab.length;
            float[] v = m.data();
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < half; j++) {
                    float sd = v[(2 * i + 1) * half + j];
                    if (sd < 0) throw new IllegalArgumentException(moments + ": std " + sd + " of sample " + i + " is negative: --moments holds [mean, std] along the channels (REPA's layout), not a log-variance");
                }
            }
            var post = new erw.training.BatchSource.Posterior(latentScale != null ? latentScale : SD_VAE_SCALE, latentShift != null ? latentShift : 0f, vae);
            int fper = featShape == null ? 0 : featShape[0] * featShape[1], chunk = 1024;
            try (DatasetDir.MomentsWriter w = DatasetDir.momentsWriter(out, new int[]{c, (int) s[2], (int) s[3]}, k, post)) {
                if (featShape != null) w.features(featShape, encoder);
                w.normalisation("posterior moments as imported from " + moments.getFileName());
                for (int at = 0; at < n; at += chunk) {
                    int b = Math.min(chunk, n - at);
                    float[] mean = new float[b * half], std = new float[b * half];
                    for (int i = 0; i < b; i++) {
                        System.arraycopy(v, (2 * (at + i)) * half, mean, i * half, half);
                        System.arraycopy(v, (2 * (at + i) + 1) * half, std, i * half, half);
                    }
                    w.append(mean, std, Arrays.copyOfRange(lab, at, at + b), feat == null ? null : Arrays.copyOfRange(feat, at * fper, (at + b) * fper));
                }
                w.finish();
            }
        }

        /** Non-finite inputs would train a non-finite model: refused at the door, naming the first bad value. */
        static void requireFinite(Path file, float[] v) {
            for (int i = 0; i < v.length; i++) {
                if (!Float.isFinite(v[i])) throw new IllegalArgumentException(file + ": value " + v[i] + " at flat index " + i + " (data must be finite)");
            }
        }

        /** The only tensor of a safetensors file (or its first), or a .npy array, checked for rank. */
        static Npy.Array read(Path file, int rank) {
            Npy.Array a;
            if (file.toString().endsWith(".npy")) {
                a = Npy.read(file);
            } else {
                try (SafeTensorsFile f = SafeTensors.open(file)) {
                    if (f.names().isEmpty()) throw new IllegalArgumentException(file + ": holds no tensors");
                    String name = f.names().iterator().next();
                    a = new Npy.Array(f.shape(name), f.readFloats(name));
                }
            }
            if (rank >= 0 && a.shape().length != rank) throw new IllegalArgumentException(file + ": expected " + rank + " dimensions, got shape " + Arrays.toString(a.shape()));
            return a;
        }
    }

    @Command(name = "features", mixinStandardHelpOptions = true, description = "Writes a target encoder's last-block tokens into a dataset as its alignment targets.")
    static final class Features implements Callable<Integer> {
        @Option(names = "--data", required = true) Path data;
        @Option(names = "--encoder", required = true, description = "Encoder checkpoint (erw encoder train).") Path encoderFile;
        @Option(names = "--batch", description = "Batch (default ${DEFAULT-VALUE}).") int batch = 250;

        @Override
        public Integer call() {
            Loaded all;
            erw.training.BatchSource.Posterior post;
            try (DatasetDir d = DatasetDir.open(data)) {
                all = loadAll(d);
                post = d.posterior();
            }
            TargetEncoder enc = TargetEncoder.load(encoderFile);
            int[] s = all.imageShape();
            if (enc.config().inChannels() != s[0] || enc.config().inputSize() != s[1]) {
                throw new IllegalArgumentException(encoderFile + ": encoder expects " + enc.config().inChannels() + "x" + enc.config().inputSize() + " inputs, the dataset has " + Arrays.toString(s));
            }
            int n = all.labels().length;
            float[] f;
            try (CpuBackend cpu = new CpuBackend()) {
                f = enc.features(cpu, all.images(), n, batch, System.err);
            }
            String name = String.format(Locale.ROOT, "erw ViT classifier depth %d width %d (test accuracy %.2f%%)", enc.config().depth(), enc.width(), 100 * enc.testAccuracy());
            var further = DatasetDir.featureSetsEntry(data);
            int[] fs = {enc.config().tokens(), enc.width()};
            if (post != null) { // the features of mean * scale + shift; the moments stay as they were
                float[] mean = new float[all.images().length], std = new float[mean.length], lab = new float[n];
                try (DatasetDir d = DatasetDir.open(data)) {
                    int[] idx = new int[n];
                    for (int i = 0; i < n; i++) idx[i] = i;
                    d.moments(idx, mean, std, lab);
                }
                DatasetDir.writeMoments(data, mean, std, s, lab, all.numClasses(), post, f, fs, name, "unchanged");
            } else {
                DatasetDir.write(data, all.images(), s, all.labels(), all.numClasses(), f, fs, name, "unchanged");
            }
            DatasetDir.restoreFeatureSetsEntry(data, further); // the further feature sets stay
            System.err.println("features (" + n + ", " + enc.config().tokens() + ", " + enc.width() + ") written to " + data);
            return 0;
        }
    }

    @Command(name = "add-features", mixinStandardHelpOptions = true,
            description = "Adds a further feature set to a dataset (REED's other targets, e.g. caption embeddings saved by PyTorch): (N, Z) one vector per sample or (N, T, Z) per token, .npy or .safetensors.")
    static final class AddFeatures implements Callable<Integer> {
        @Parameters(index = "0", description = "Dataset directory.") Path dir;
        @Option(names = "--name", required = true, description = "Set name, used by --target NAME:...") String name;
        @Option(names = "--from", required = true, description = "(N, Z) or (N, T, Z) .npy or .safetensors (its only or first tensor).") Path from;
        @Option(names = "--source", description = "What made it (recorded in the manifest).") String source;
        @Option(names = "--replace", description = "Overwrite a set of the same name.") boolean replace;

        @Override
        public Integer call() {
            add(dir, name, from, source != null ? source : "added from " + from.getFileName(), replace);
            return 0;
        }

        static void add(Path dir, String name, Path file, String source, boolean replace) {
            Npy.Array a = file.toString().endsWith(".npy") ? Npy.read(file) : Import.read(file, -1);
            if (a.shape().length != 2 && a.shape().length != 3) throw new IllegalArgumentException(file + ": expected (N, Z) or (N, T, Z), got shape " + Arrays.toString(a.shape()));
            Import.requireFinite(file, a.data());
            int[] shape = new int[a.shape().length - 1];
            for (int i = 0; i < shape.length; i++) shape[i] = (int) a.shape()[i + 1];
            try (DatasetDir d = DatasetDir.open(dir)) {
                if (a.shape()[0] != d.count()) throw new IllegalArgumentException(file + ": " + a.shape()[0] + " rows, the dataset " + dir + " has " + d.count() + " samples");
            }
            DatasetDir.addFeatureSet(dir, name, a.data(), shape, source, replace);
            System.err.println("feature set '" + name + "' " + Arrays.toString(shape) + " per sample added to " + dir);
        }
    }

    @Command(name = "inspect", mixinStandardHelpOptions = true, description = "Prints a dataset's shapes, classes, encoder, value range and, for posterior moments, their scale and shift.")
    static final class Inspect implements Callable<Integer> {
        @Parameters(index = "0") Path dir;

        @Override
        public Integer call() {
            try (DatasetDir d = DatasetDir.open(dir)) {
                Loaded all = loadAll(d);
                float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY;
                for (float v : all.images()) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
                System.out.printf("%s: %d samples of %s, %d classes, values in [%.3f, %.3f], features %s%s%n", dir, d.count(), Arrays.toString(d.imageShape()),
                        d.numClasses(), lo, hi, d.hasFeatures() ? Arrays.toString(d.featureShape()) : "none",
                        d.encoderName() == null ? "" : " from " + d.encoderName());
                if (d.posterior() != null) {
                    var p = d.posterior();
                    float sl = Float.POSITIVE_INFINITY, sh = Float.NEGATIVE_INFINITY;
                    int per = all.images().length / d.count(), chunk = 1000;
                    for (int at = 0; at < d.count(); at += chunk) { // the stds, a chunk at a time
                        int b = Math.min(chunk, d.count() - at);
                        int[] idx = new int[b];
                        for (int i = 0; i < b; i++) idx[i] = at + i;
                        float[] mean = new float[b * per], std = new float[b * per];
                        d.moments(idx, mean, std, new float[b]);
                        for (float v : std) { sl = Math.min(sl, v); sh = Math.max(sh, v); }
                    }
                    System.out.printf(Locale.ROOT, "  posterior moments%s: mean and std per sample, std in [%.4f, %.4f]; training draws z = (mean + std * eps) * %s + %s every step; "
                            + "the values above (and evaluation) are mean * scale + shift%n", p.vae() == null ? "" : " of " + p.vae(), sl, sh, p.scale(), p.shift());
                }
                for (String set : d.featureSets()) {
                    if (!set.equals(DatasetDir.FEATURES)) System.out.printf("  feature set %s: %s per sample%s%n", set, Arrays.toString(d.featureShape(set)),
                            d.featureSource(set) == null || d.featureSource(set).isEmpty() ? "" : " (" + d.featureSource(set) + ")");
                }
            }
            return 0;
        }
    }
}
