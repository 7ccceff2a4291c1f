package erw.sampler;

import erw.engine.Backend;
import erw.model.Vae;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Latent samples to images with the SD-VAE's decoder: {@code image = decoder((latent - shift) / scale)}
 * (the latents a model trains on are the VAE's posterior samples times its scaling factor, 0.18215 for
 * the SD VAE, plus a shift, 0 for it), one sample per compiled run so that memory stays that of one image, and PNG files per sample.
 */
public final class LatentImages {
    private LatentImages() {}

    /**
     * A decoder for latents of one size, compiled up front (so a heap too small for it fails before
     * any sampling), one image per run: memory is that of one image whatever the count.
     */
    public static final class Decoder implements AutoCloseable {
        private final Vae.Runner runner;
        private final int per;
        private final float scale, shift;

        /** Decodes {@code (latent - shift) / scale} for latents (C, h, w). */
        public Decoder(Vae vae, Backend backend, int h, int w, float scale, float shift) {
            this.runner = vae.decoder(backend, 1, h, w);
            this.per = vae.config().latentChannels() * h * w;
            this.scale = scale;
            this.shift = shift;
        }

        /** Floats per decoded image (C * H * W). */
        public int imageSize() {
            return runner.outSize();
        }

        /**
         * Decodes {@code n} latents (n, C, h, w) to images (n, 3, h*f, w*f) in about [-1, 1].
         *
         * @param bar told after each image (may be null)
         */
        public float[] decode(float[] latents, int n, ProgressBar bar) {
            if (latents.length != (long) n * per) {
                throw new IllegalArgumentException("expected " + n + " latents of " + per + " values, got " + latents.length + " values");
            }
            float[] z = new float[latents.length];
            float inv = 1f / scale;
            for (int i = 0; i < z.length; i++) z[i] = (latents[i] - shift) * inv;
            return runner.run(z, n, done -> {
                if (bar != null) bar.step(done, n);
            });
        }

        @Override
        public void close() {
            runner.close();
        }
    }

    /** Writes sample i as {@code dir/NNNNNN.png} (or with its class: {@code NNNNNN-class-K.png} when labels are given). */
    public static void writePngs(Path dir, float[] images, int n, int c, int h, int w, float[] labels) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir + ": " + e.getMessage(), e);
        }
        int per = c * h * w;
        for (int i = 0; i < n; i++) {
            float[] one = new float[per];
            System.arraycopy(images, i * per, one, 0, per);
            String name = labels == null ? String.format(Locale.ROOT, "%06d.png", i) : String.format(Locale.ROOT, "%06d-class-%d.png", i, (int) labels[i]);
            SampleOutput.writePng(dir.resolve(name), SampleOutput.grid(one, 1, c, h, w, 1, 0));
        }
    }
}
