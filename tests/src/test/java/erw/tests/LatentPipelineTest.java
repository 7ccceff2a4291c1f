package erw.tests;

import static erw.tests.CliEndToEndTest.failure;
import static erw.tests.CliEndToEndTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.host.Philox;
import erw.model.Checkpoint;
import erw.model.Vae;
import erw.model.VaeConfig;
import erw.model.io.SafeTensors;
import erw.training.BatchSource;
import erw.training.data.DatasetDir;
import erw.training.data.ImageFolder;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The latent path as a user runs it: an image folder through {@code erw data encode} into a moments
 * dataset, {@code erw train} on it, {@code erw sample --vae} back to PNG images. The VAE is
 * {@link PoolingVae} (SD architecture, hand-set weights that reconstruct), saved as a diffusers file.
 */
class LatentPipelineTest {
    @Test
    void imagesToLatentsToTrainingToDecodedSamples(@TempDir Path dir) throws Exception {
        VaeConfig cfg = new VaeConfig(3, 3, 4, List.of(16, 32, 32), 2, 4, 0.18215f);
        Vae vae = PoolingVae.build(cfg);
        Path vaeFile = dir.resolve("vae/diffusion_pytorch_model.safetensors");
        Files.createDirectories(vaeFile.getParent());
        SafeTensors.write(vaeFile, Checkpoint.tensors(vae.parameters(), ""), Map.of("norm_num_groups", "4"));
        // two classes of smooth pictures of various sizes (the centre crop brings them to 32x32)
        float[] noise = new float[64];
        Philox.normal(9, 1, 0, noise, 0, noise.length);
        for (int i = 0; i < 16; i++) {
            String cls = i % 2 == 0 ? "bright" : "dark";
            int w = 32 + 4 * (i % 5), h = 36 + 3 * (i % 3);
            BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    double base = cls.equals("bright") ? 190 : 60;
                    int r = (int) Math.max(0, Math.min(255, base + 50 * Math.sin(0.2 * x + noise[i]))), g = (int) Math.max(0, Math.min(255, base + 40 * Math.cos(0.15 * y)));
                    img.setRGB(x, y, (r << 16) | (g << 8) | (int) base);
                }
            Path f = dir.resolve("images/" + cls + "/" + i + ".png");
            Files.createDirectories(f.getParent());
            ImageIO.write(img, "png", f.toFile());
        }
        Path data = dir.resolve("data");
        assertEquals(0, run("data", "encode", "--vae", vaeFile.toString(), "--images", dir.resolve("images").toString(), "--size", "32",
                "--out", data.toString(), "--no-progress", "--backend", "cpu", "--threads", "2"));
        assertEquals(List.of("bright", "dark"), Files.readAllLines(data.resolve("classes.txt")));
        try (DatasetDir d = DatasetDir.open(data)) {
            assertEquals(16, d.count());
            BatchSource.Posterior post = d.posterior();
            assertEquals(0.18215f, post.scale());
            // sample 0 ("bright/0.png"): its mean is the 4x4 average of the centre crop, the std e^-15
            float[] mean = new float[4 * 8 * 8], std = new float[4 * 8 * 8], lab = new float[1];
            d.moments(new int[]{0}, mean, std, lab);
            assertEquals(0f, lab[0]);
            float[] crop = ImageFolder.load(dir.resolve("images/bright/0.png"), 32);
            double avg = 0;
            for (int y = 0; y < 4; y++) for (int x = 0; x < 4; x++) avg += crop[1024 + (8 + y) * 32 + 12 + x]; // G plane, latent pixel (2, 3)
            assertEquals(avg / 16, mean[64 + 2 * 8 + 3], 1e-4);
            assertEquals(Math.exp(-15), std[5], 1e-9);
        }
        // an existing dataset is not overwritten; a missing VAE and a bad size are one-line errors
        assertTrue(failure("data", "encode", "--vae", vaeFile.toString(), "--images", dir.resolve("images").toString(), "--out", data.toString()).contains("already holds a dataset"));
        assertTrue(failure("data", "encode", "--vae", dir.resolve("none.safetensors").toString(), "--images", dir.resolve("images").toString(), "--out", dir.resolve("d2").toString()).contains("--vae"));
        assertTrue(failure("data", "encode", "--vae", vaeFile.toString(), "--images", dir.resolve("images").toString(), "--size", "30", "--out", dir.resolve("d3").toString()).contains("--size 30"));

        // an unreadable file stops the encode, naming it, unless --skip-unreadable leaves it out
        Files.writeString(dir.resolve("images/dark/zz-broken.png"), "not a png");
        assertTrue(failure("data", "encode", "--vae", vaeFile.toString(), "--images", dir.resolve("images").toString(), "--size", "32",
                "--out", dir.resolve("d4").toString(), "--no-progress").contains("zz-broken.png"));
        assertTrue(!Files.exists(dir.resolve("d4/manifest.json")));
        assertEquals(0, run("data", "encode", "--vae", vaeFile.toString(), "--images", dir.resolve("images").toString(), "--size", "32",
                "--out", dir.resolve("d5").toString(), "--no-progress", "--skip-unreadable"));
        try (DatasetDir d = DatasetDir.open(dir.resolve("d5"))) {
            assertEquals(16, d.count());
        }

        Path runDir = dir.resolve("run");
        assertEquals(0, run("train", "--method", "sit", "--data", data.toString(), "--out", runDir.toString(), "--steps", "4", "--batch", "8",
                "--depth", "2", "--hidden", "32", "--heads", "2", "--checkpoint-every", "4", "--sample-steps", "2", "--log-every", "2"));
        Path samples = dir.resolve("samples");
        assertEquals(0, run("sample", "--checkpoint", runDir.resolve("step-0000004.safetensors").toString(), "--ema", "--steps", "3", "--n", "2",
                "--classes", "0,1", "--vae", vaeFile.toString(), "--no-progress", "--out", samples.toString()));
        BufferedImage one = ImageIO.read(samples.resolve("images/000003-class-1.png").toFile());
        assertEquals(32, one.getWidth());
        assertEquals(32, one.getHeight());
        assertTrue(Files.exists(samples.resolve("samples.png")));
        // (sample reports bad input on its own stderr: exit code 2)
        assertEquals(2, run("sample", "--checkpoint", runDir.resolve("step-0000004.safetensors").toString(), "--latent-scale", "0.2", "--out", samples.toString()));
        assertEquals(2, run("sample", "--checkpoint", runDir.resolve("step-0000004.safetensors").toString(), "--vae", dir.resolve("none").toString(), "--out", samples.toString()));
    }
}
