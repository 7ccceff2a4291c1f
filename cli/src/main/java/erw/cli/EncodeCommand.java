package erw.cli;

import erw.engine.Backend;
import erw.model.Vae;
import erw.model.VaeConfig;
import erw.sampler.ProgressBar;
import erw.training.BatchSource;
import erw.training.data.DatasetDir;
import erw.training.data.ImageFolder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code erw data encode}: a folder of images (one sub-folder per class) through the SD-VAE encoder
 * into a dataset of posterior moments, as REPA's preprocessing makes it: ADM's centre crop to
 * {@code --size}, pixels to [-1, 1], the encoder's mean and std per image; training then draws
 * {@code (mean + std * eps) * scale + shift} each step.
 */
@Command(name = "encode", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Images (ROOT/CLASS/IMAGE, as torchvision's ImageFolder) through an SD-VAE encoder into a latents dataset of posterior moments (mean, std).",
                "ADM's centre crop to --size; class ids follow the sub-folders' name order (written to OUT/classes.txt).",
                "Target-encoder features for it come in with 'erw data add-features' (or 'erw data import')."})
final class EncodeCommand implements Callable<Integer> {
    @Option(names = "--vae", required = true, paramLabel = "FILE", description = "SD-VAE weights (diffusers AutoencoderKL safetensors, e.g. sd-vae-ft-mse's diffusion_pytorch_model.safetensors).")
    Path vae;

    @Option(names = "--images", required = true, paramLabel = "DIR", description = "Image folder: one sub-folder of PNG/JPEG/BMP/GIF files per class.")
    Path images;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Dataset directory to write.")
    Path out;

    @Option(names = "--size", defaultValue = "256", paramLabel = "PX", description = "Image side after the centre crop (default ${DEFAULT-VALUE}; latents are PX / 8 for the SD VAE).")
    int size;

    @Option(names = "--latent-scale", paramLabel = "S", description = "Scale from the VAE's latents to the model's (default: the VAE's scaling_factor, 0.18215 for the SD VAE).")
    Float scale;

    @Option(names = "--latent-shift", defaultValue = "0", paramLabel = "B", description = "Shift added after scaling (default ${DEFAULT-VALUE}).")
    float shift;

    @Option(names = "--limit", paramLabel = "N", description = "Encode only the first N images (folder order), e.g. to try the pipeline.")
    Integer limit;

    @Option(names = "--skip-unreadable", description = "Leave out images that cannot be read (each named on stderr) instead of stopping; the summary counts them.")
    boolean skipUnreadable;

    @Option(names = "--no-progress", description = "No progress bar on stderr.")
    boolean noProgress;

    @Mixin EngineOptions engine;

    @Override
    public Integer call() {
        if (!Files.isRegularFile(vae)) throw new IllegalArgumentException("--vae " + vae + " does not exist");
        if (limit != null && limit < 1) throw new IllegalArgumentException("--limit " + limit + " must be >= 1");
        if (scale != null && !(Float.isFinite(scale) && scale != 0)) throw new IllegalArgumentException("--latent-scale " + scale + " must be a finite number other than 0");
        if (!Float.isFinite(shift)) throw new IllegalArgumentException("--latent-shift " + shift + " must be finite");
        if (Files.exists(out.resolve(DatasetDir.MANIFEST))) throw new IllegalArgumentException("--out " + out + " already holds a dataset (manifest.json); choose a new directory");
        ImageFolder folder = ImageFolder.scan(images);
        Vae model = Vae.load(vae, Vae.Part.ENCODER);
        VaeConfig vc = model.config();
        int f = vc.downsampling();
        if (size < f || size % f != 0) throw new IllegalArgumentException("--size " + size + " must be a positive multiple of the VAE's downsampling factor " + f);
        if (vc.inChannels() != 3) throw new IllegalArgumentException("--vae " + vae + " encodes " + vc.inChannels() + "-channel images; image folders are RGB");
        List<ImageFolder.Entry> entries = folder.entries();
        int n = limit == null ? entries.size() : Math.min(limit, entries.size());
        int side = size / f, lat = vc.latentChannels();
        float s = scale != null ? scale : vc.scalingFactor();
        BatchSource.Posterior post = new BatchSource.Posterior(s, shift, vae.getFileName().toString());
        long t0 = System.nanoTime();
        int skipped = 0;
        try (Backend backend = engine.choice().create(engine.threads());
             Vae.Runner enc = model.encoder(backend, 1, size, size);
             DatasetDir.MomentsWriter w = DatasetDir.momentsWriter(out, new int[]{lat, side, side}, folder.classes().size(), post)
                     .normalisation(String.format(Locale.ROOT, "ADM centre crop %d, pixels / 127.5 - 1, SD-VAE posterior moments (%s)", size, vae.getFileName()))) {
            ProgressBar bar = noProgress ? null : new ProgressBar(System.err, "encoding (VAE)", n, "images");
            for (int i = 0; i < n; i++) {
                ImageFolder.Entry e = entries.get(i);
                float[] pixels;
                try {
                    pixels = ImageFolder.load(e.file(), size);
                } catch (IllegalArgumentException bad) {
                    if (!skipUnreadable) throw new IllegalArgumentException(bad.getMessage() + " (--skip-unreadable leaves such files out)");
                    if (bar != null) System.err.println();
                    System.err.println("erw data encode: skipped " + bad.getMessage());
                    skipped++;
                    continue;
                }
                float[] moments = enc.run(pixels, 1, null);
                float[][] ms = Vae.posterior(moments, 1, lat, side * side);
                int bad = erw.model.Checkpoint.firstNonFinite(ms[0]);
                if (bad >= 0) throw new IllegalArgumentException(e.file() + ": the VAE's encoding is not finite (check the --vae weights)");
                w.append(ms[0], ms[1], new float[]{e.label()});
                if (bar != null) bar.step(i + 1, n);
            }
            w.finish();
            if (bar != null) bar.finish();
        } catch (OutOfMemoryError e) { // the encoder's activations at this size: one line, not a stack trace
            throw new IllegalArgumentException("encoding " + size + "x" + size + " images needs more heap than this JVM has (ERW_JAVA_OPTS=-Xmx...; or a smaller --size)");
        }
        try {
            Files.write(out.resolve("classes.txt"), folder.classes());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out.resolve("classes.txt") + ": " + e.getMessage(), e);
        }
        double sec = (System.nanoTime() - t0) * 1e-9;
        int kept = n - skipped;
        System.out.printf(Locale.ROOT, "%d images of %d classes -> %s: moments (%d, %d, %d, %d), scale %s, shift %s, in %.1f s (%.2f images/s)%s%n",
                kept, folder.classes().size(), out, kept, lat, side, side, s, shift, sec, n / sec, skipped == 0 ? "" : "; " + skipped + " unreadable images left out");
        return 0;
    }
}
