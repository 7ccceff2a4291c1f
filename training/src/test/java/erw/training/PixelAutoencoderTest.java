package erw.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.cpu.CpuBackend;
import erw.engine.host.Philox;
import erw.model.io.SafeTensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

public class PixelAutoencoderTest {
    static final int N = 256, SIDE = 8, PER = SIDE * SIDE, PATTERNS = 4, Z = 8;

    /** N images 1x8x8: one of four random +-0.8 patterns, scaled by a random contrast in [0.5, 1.5], plus noise of std 0.05. */
    static float[] images(long seed) {
        float[] pat = new float[PATTERNS * PER], noise = new float[N * PER], u = new float[N];
        Philox.uniform(seed, 1, 0, pat, 0, pat.length);
        Philox.normal(seed, 2, 0, noise, 0, noise.length);
        Philox.uniform(seed, 3, 0, u, 0, N);
        float[] img = new float[N * PER];
        for (int i = 0; i < N; i++) {
            int k = i % PATTERNS;
            float contrast = 0.5f + u[i];
            for (int j = 0; j < PER; j++) img[i * PER + j] = contrast * (pat[k * PER + j] < 0.5f ? -0.8f : 0.8f) + 0.05f * noise[i * PER + j];
        }
        return img;
    }

    /** The error of the best input-independent guess: the mean image. */
    static double meanImageMse(float[] img) {
        double[] mean = new double[PER];
        for (int i = 0; i < N; i++) for (int j = 0; j < PER; j++) mean[j] += img[i * PER + j] / (double) N;
        double s = 0;
        for (int i = 0; i < N; i++) for (int j = 0; j < PER; j++) {
            double e = img[i * PER + j] - mean[j];
            s += e * e;
        }
        return s / ((double) N * PER);
    }

    static PixelAutoencoder trained(CpuBackend cpu, float[] img, int steps, long seed) {
        return new PixelAutoencoder(1, SIDE, Z).train(cpu, img, N, steps, 32, 2e-3, seed, null);
    }

    @Test
    void learnsToReconstructAndIsDeterministic(@TempDir Path dir) throws IOException {
        float[] img = images(11);
        try (CpuBackend cpu = new CpuBackend(2)) {
            PixelAutoencoder fresh = new PixelAutoencoder(1, SIDE, Z).train(cpu, img, N, 0, 32, 2e-3, 7, null);
            double initial = fresh.reconstructionMse(), baseline = meanImageMse(img);
            PixelAutoencoder ae = trained(cpu, img, 200, 7);
            double fin = ae.reconstructionMse();
            // 50x below the initial error and below the mean image's (~0.57): the code must carry the pattern and its
            // contrast (the pattern alone leaves ~0.05); the noise floor is 0.0025, training reaches ~0.0024
            assertTrue(fin < 0.02 * initial, "reconstruction MSE " + fin + " vs initial " + initial);
            assertTrue(fin < 0.02 * baseline, "reconstruction MSE " + fin + " vs mean-image MSE " + baseline);
            assertEquals(fin, ae.reconstructionMse(cpu, img, N, 50), 1e-6 * fin + 1e-9);
            assertTrue(ae.describe().startsWith("erw MLP autoencoder 64-512-8 (reconstruction MSE "), ae.describe());
            assertEquals(Z, ae.codeSize());

            // 100 images in batches of 32: the last one is partial
            float[] codes = ae.encode(cpu, img, 100, 32);
            assertEquals(100 * Z, codes.length);
            for (float v : codes) assertTrue(Float.isFinite(v), "code " + v);
            float[] whole = ae.encode(cpu, img, 100, 100);
            for (int i = 0; i < codes.length; i++) assertEquals(whole[i], codes[i], 1e-4f * (1 + Math.abs(whole[i])), "code " + i);
            assertFalse(Arrays.equals(Arrays.copyOfRange(codes, 0, Z), Arrays.copyOfRange(codes, Z, 2 * Z)), "images of different patterns share a code");

            // bit-identical under the same seed (shorter runs keep the test quick)
            float[] shortRun = trained(cpu, img, 40, 7).encode(cpu, img, 100, 32);
            assertArrayEquals(shortRun, trained(cpu, img, 40, 7).encode(cpu, img, 100, 32), "same seed, same codes");
            assertFalse(Arrays.equals(shortRun, trained(cpu, img, 40, 8).encode(cpu, img, 100, 32)), "another seed, other codes");

            Path file = dir.resolve("ae.safetensors");
            ae.save(file);
            PixelAutoencoder back = PixelAutoencoder.load(file);
            assertEquals(fin, back.reconstructionMse());
            assertEquals(Z, back.codeSize());
            assertArrayEquals(codes, back.encode(cpu, img, 100, 32));

            // a truncated file, garbage, and a valid safetensors file that is no autoencoder
            byte[] bytes = Files.readAllBytes(file);
            Path cut = dir.resolve("cut.safetensors"), junk = dir.resolve("junk.safetensors"), other = dir.resolve("other.safetensors");
            Files.write(cut, Arrays.copyOf(bytes, bytes.length / 2));
            Files.write(junk, "not a tensor file at all".getBytes());
            SafeTensors.write(other, Map.of("enc.fc1.weight", SafeTensors.Tensor.of(new float[4], 2, 2)), Map.of("erw.autoencoder", "mlp",
                    "channels", "1", "side", "8", "code_size", "8"));
            for (Path p : new Path[]{cut, junk, other, dir.resolve("missing.safetensors")}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PixelAutoencoder.load(p));
                assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
                assertFalse(e.getMessage().contains("\n"), e.getMessage());
            }
        }
    }
}
