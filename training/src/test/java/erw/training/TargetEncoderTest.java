package erw.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.cpu.CpuBackend;
import erw.engine.host.Philox;
import erw.model.SiTConfig;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

public class TargetEncoderTest {
    /** Three classes: a bright blob left, centre or right on 8x8 images with noise. */
    public static float[] images(int n, int[] labels, long seed) {
        float[] img = new float[n * 64], noise = new float[n * 64];
        Philox.normal(seed, 1, 0, noise, 0, noise.length);
        for (int i = 0; i < n; i++) {
            int k = labels[i];
            for (int y = 0; y < 8; y++) for (int x = 0; x < 8; x++) {
                double d = Math.hypot(x - (1.5 + 2.5 * k), y - 3.5);
                img[i * 64 + y * 8 + x] = (float) (d < 2 ? 0.8 : -0.8) + 0.3f * noise[i * 64 + y * 8 + x];
            }
        }
        return img;
    }

    @Test
    void learnsToClassifyAndGivesTokenFeatures(@TempDir Path dir) {
        int n = 300;
        int[] labels = new int[n], testLabels = new int[90];
        for (int i = 0; i < n; i++) labels[i] = i % 3;
        for (int i = 0; i < 90; i++) testLabels[i] = (i * 7) % 3;
        SiTConfig cfg = new SiTConfig(2, 32, 2, 2, 8, 1, 3, 2, 8, 8, 4.0, false, false, 0);
        try (CpuBackend cpu = new CpuBackend(2)) {
            TargetEncoder enc = new TargetEncoder(cfg).train(cpu, images(n, labels, 1), labels, images(90, testLabels, 2), testLabels, 120, 32, 3e-3, 5, null);
            assertTrue(enc.testAccuracy() > 0.9, "test accuracy " + enc.testAccuracy());
            float[] f = enc.features(cpu, images(5, new int[]{0, 1, 2, 0, 1}, 3), 5, 4, null);
            assertEquals(5 * 16 * 32, f.length);
            Path file = dir.resolve("enc.safetensors");
            enc.save(file);
            TargetEncoder back = TargetEncoder.load(file);
            assertEquals(enc.testAccuracy(), back.testAccuracy());
            assertArrayEquals(f, back.features(cpu, images(5, new int[]{0, 1, 2, 0, 1}, 3), 5, 4, null));
        }
    }
}
