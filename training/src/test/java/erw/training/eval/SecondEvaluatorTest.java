package erw.training.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.cpu.CpuBackend;
import erw.engine.host.Philox;
import erw.engine.host.WorkerPool;
import erw.training.TargetEncoderTest;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The convolutional evaluator (trains, round-trips, scores real above noise) and improved precision/recall. */
class SecondEvaluatorTest {

    @Test
    void convolutionalEvaluatorLearnsAndRoundTrips(@TempDir Path dir) {
        int n = 300;
        int[] lab = EvaluationTest.labels(n), testLab = EvaluationTest.labels(90);
        float[] img = TargetEncoderTest.images(n, lab, 1), test = TargetEncoderTest.images(90, testLab, 2);
        try (CpuBackend cpu = new CpuBackend(2)) {
            ConvEvaluator ev = new ConvEvaluator(1, 8, 3);
            ev.train(cpu, img, lab, test, testLab, 60, 32, 2e-3, ConvEvaluator.DEFAULT_SEED, "conv evaluator", null);
            assertTrue(ev.testAccuracy() > 0.95, "test accuracy " + ev.testAccuracy());
            Path file = dir.resolve("conv.safetensors");
            ev.save(file);
            ConvEvaluator back = ConvEvaluator.load(file);
            assertEquals(ev.testAccuracy(), back.testAccuracy());
            float[] f1 = ev.features(cpu, test, 90, 32, null), f2 = back.features(cpu, test, 90, 32, null);
            assertArrayEquals(f1, f2);
            assertEquals(90 * ev.featureSize(), f1.length);
            FrechetDistance.Gaussian ref = SampleQuality.reference(ev, cpu, img, n);
            double real = FrechetDistance.between(FrechetDistance.Gaussian.fit(f1, 90, ev.featureSize()), ref);
            float[] noise = new float[90 * 64];
            Philox.normal(9, 9, 0, noise, 0, noise.length);
            double fake = FrechetDistance.between(FrechetDistance.Gaussian.fit(ev.features(cpu, noise, 90, 32, null), 90, ev.featureSize()), ref);
            assertTrue(real < 0.5 * fake, "FD real " + real + " vs noise " + fake);
            // the MLP evaluator's file is not a convolutional one
            Evaluator mlp = new Evaluator(1, 8, 3);
            Path other = dir.resolve("mlp.safetensors");
            mlp.save(other);
            assertThrows(erw.model.io.SafeTensorsException.class, () -> ConvEvaluator.load(other));
        }
    }

    private static float[] gaussian(int n, int d, long seed, float shift) {
        float[] x = new float[n * d];
        Philox.normal(seed, 1, 0, x, 0, x.length);
        for (int i = 0; i < x.length; i++) x[i] += shift;
        return x;
    }

    @Test
    void precisionAndRecallSeparateFidelityFromCoverage() {
        int n = 200, d = 8;
        try (WorkerPool pool = new WorkerPool(2)) {
            float[] real = gaussian(n, d, 1, 0f);
            // the real set itself: every point lies in the other manifold
            PrecisionRecall.Result same = PrecisionRecall.compute(real, n, real.clone(), n, d, 3, pool);
            assertEquals(1.0, same.precision());
            assertEquals(1.0, same.recall());
            // far away: neither
            PrecisionRecall.Result far = PrecisionRecall.compute(real, n, gaussian(n, d, 2, 50f), n, d, 3, pool);
            assertEquals(0.0, far.precision());
            assertEquals(0.0, far.recall());
            // mode collapse: every sample near one real point looks real (precision 1) but covers little (low recall)
            float[] collapsed = new float[n * d];
            float[] jitter = gaussian(n, d, 3, 0f);
            for (int i = 0; i < n; i++) for (int c = 0; c < d; c++) collapsed[i * d + c] = real[c] + 1e-3f * jitter[i * d + c];
            PrecisionRecall.Result mode = PrecisionRecall.compute(real, n, collapsed, n, d, 3, pool);
            assertEquals(1.0, mode.precision());
            assertTrue(mode.recall() < 0.05, "recall of a collapsed generator " + mode.recall());
            // a fresh draw of the same distribution: both high
            PrecisionRecall.Result fresh = PrecisionRecall.compute(real, n, gaussian(n, d, 4, 0f), n, d, 3, pool);
            assertTrue(fresh.precision() > 0.6 && fresh.recall() > 0.6, fresh.toString());
        }
    }
}
