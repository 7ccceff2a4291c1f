package erw.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.Graph;
import erw.engine.Tensor;
import erw.engine.cpu.CpuBackend;
import erw.engine.host.Philox;
import erw.engine.host.WorkerPool;
import erw.training.data.DatasetDir;
import erw.training.run.DataFingerprint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Training on posterior moments: z = (mean + std * eps) * scale + shift drawn at every step, keyed by (seed, step, position). */
class PosteriorTrainingTest {
    static final CpuBackend CPU = new CpuBackend(2);
    static final BatchSource.Posterior POST = new BatchSource.Posterior(0.5f, 0.1f, null);

    @AfterAll
    static void close() {
        CPU.close();
    }

    /** TrainerTest's blobs as means (unscaled by 1/scale, so the latents look alike) and a std per value in [0.1, 0.4). */
    static float[][] moments(int n) {
        ArrayBatchSource plain = TrainerTest.data(n);
        float[] img = new float[n * 64], lab = new float[n], feat = new float[n * 16 * 8];
        int[] all = new int[n];
        for (int i = 0; i < n; i++) all[i] = i;
        plain.batch(all, img, lab, feat);
        float[] std = new float[img.length];
        Philox.uniform(12, 1, 0, std, 0, std.length);
        for (int i = 0; i < img.length; i++) {
            img[i] = (img[i] - POST.shift()) / POST.scale();
            std[i] = 0.1f + 0.3f * std[i];
        }
        return new float[][]{img, std, lab, feat};
    }

    static ArrayBatchSource source(int n) {
        float[][] m = moments(n);
        return new ArrayBatchSource(m[0], new int[]{1, 8, 8}, m[2], 3, m[3], new int[]{16, 8}).withPosterior(m[1], POST);
    }

    /** The batch a step trained on: x0 after each step (the listener runs after the update; x0 is an input and stays). */
    static List<float[]> trainAndRecord(Trainer[] self, TrainConfig cfg, BatchSource data, Path dir, Collective c, long steps) {
        List<float[]> seen = new ArrayList<>();
        try (Trainer t = new Trainer(cfg, TrainerTest.MODEL, data, dir, CPU, new Trainer.Listener() {
            @Override public void onStep(Trainer.StepLog log) { seen.add(self[0].program().x0.toArray()); }
        })) {
            self[0] = t;
            if (c != null) t.collective(c);
            t.startFresh().run(steps);
        }
        return seen;
    }

    @Test
    void eachStepTrainsOnAFreshDrawFromThePosterior(@TempDir Path dir) {
        TrainConfig cfg = TrainerTest.config("repa", 3, 0);
        ArrayBatchSource data = source(30);
        float[][] m = moments(30);
        List<float[]> seen = trainAndRecord(new Trainer[1], cfg, data, dir, null, 3);
        DataOrder order = new DataOrder(cfg.seed(), 30);
        int[] idx = new int[6];
        float[] eps = new float[6 * 64];
        for (int s = 0; s < 3; s++) {
            order.batchIndices(s, idx);
            Trainer.posteriorNoise(cfg.seed(), s, 0, 6, 64, eps, null);
            float[] expect = new float[6 * 64];
            for (int i = 0; i < 6; i++) {
                for (int j = 0; j < 64; j++) expect[i * 64 + j] = (m[0][idx[i] * 64 + j] + m[1][idx[i] * 64 + j] * eps[i * 64 + j]) * POST.scale() + POST.shift();
            }
            assertArrayEquals(expect, seen.get(s), "step " + s);
            float[] meanLatent = new float[6 * 64];
            data.batch(idx, meanLatent, new float[6], null);
            assertTrue(!Arrays.equals(meanLatent, seen.get(s)), "the step trained on the mean, not a draw");
        }
    }

    @Test
    void posteriorNoiseIsStandardNormalFreshPerStepAndTheSameForAnySplit() {
        int batch = 8, per = 6, steps = 1000; // 6 values: a sample does not fill whole Philox blocks
        float[] eps = new float[batch * per], prev = null, again = new float[batch * per];
        double sum = 0, sq = 0, zSum = 0, zSq = 0, cross = 0;
        long n = 0;
        for (int s = 0; s < steps; s++) {
            Trainer.posteriorNoise(7, s, 0, batch, per, eps, null);
            Trainer.posteriorNoise(7, s, 0, batch, per, again, null);
            assertArrayEquals(eps, again, "same seed and step: same bits");
            for (int i = 0; i < eps.length; i++) {
                sum += eps[i];
                sq += eps[i] * (double) eps[i];
                float z = new BatchSource.Posterior(0.18215f, 0f, null).draw(1.5f, 0.4f, eps[i]);
                zSum += z;
                zSq += z * (double) z;
                if (prev != null) cross += eps[i] * (double) prev[i];
                n++;
            }
            if (prev != null) assertTrue(!Arrays.equals(prev, eps), "steps " + (s - 1) + " and " + s + " drew the same noise");
            prev = eps.clone();
        }
        double mean = sum / n, var = sq / n - mean * mean, zMean = zSum / n, zStd = Math.sqrt(zSq / n - zMean * zMean);
        assertEquals(0, mean, 0.015, "mean of eps");
        assertEquals(1, var, 0.03, "variance of eps");
        assertEquals(1.5 * 0.18215, zMean, 0.003, "mean of z = (1.5 + 0.4 eps) * 0.18215");
        assertEquals(0.4 * 0.18215, zStd, 0.002, "std of z");
        assertEquals(0, cross / (n - (long) batch * per), 0.015, "correlation of one position's eps at consecutive steps");
        // a split of the global batch (ranks, threads) draws the same numbers
        float[] whole = new float[batch * per], part = new float[batch * per], threaded = new float[batch * per];
        Trainer.posteriorNoise(7, 42, 0, batch, per, whole, null);
        for (int[] range : new int[][]{{0, 2}, {2, 3}, {5, 3}}) {
            float[] slice = new float[range[1] * per];
            Trainer.posteriorNoise(7, 42, range[0], range[1], per, slice, null);
            System.arraycopy(slice, 0, part, range[0] * per, slice.length);
        }
        assertArrayEquals(whole, part);
        try (WorkerPool pool = new WorkerPool(2)) {
            Trainer.posteriorNoise(7, 42, 0, batch, per, threaded, pool);
        }
        assertArrayEquals(whole, threaded);
        Trainer.posteriorNoise(8, 42, 0, batch, per, part, null);
        assertTrue(!Arrays.equals(whole, part), "another seed, other noise");
    }

    /** Rank r of 2 that exchanges nothing: enough to see which samples and draws a rank trains on. */
    record HalfOf(int rank) implements Collective {
        @Override public int size() { return 2; }
        @Override public GradientSync gradientSync(List<Tensor> params, Graph backward) { return Collective.SINGLE.gradientSync(params, backward); }
        @Override public void average(double[] values) {}
        @Override public void broadcast(List<Tensor> tensors) {}
        @Override public void barrier() {}
        @Override public void abort(String message, int exitCode) {}
        @Override public void close() {}
    }

    @Test
    void aRankDrawsItsSliceOfWhatOneProcessDraws(@TempDir Path dir) {
        TrainConfig cfg = TrainerTest.config("sit", 2, 0);
        List<float[]> one = trainAndRecord(new Trainer[1], cfg, source(30), dir.resolve("one"), null, 2);
        for (int r = 0; r < 2; r++) {
            List<float[]> rank = trainAndRecord(new Trainer[1], cfg, source(30), dir.resolve("rank" + r), new HalfOf(r), 2);
            for (int s = 0; s < 2; s++) assertArrayEquals(Arrays.copyOfRange(one.get(s), r * 3 * 64, (r + 1) * 3 * 64), rank.get(s), "rank " + r + ", step " + s);
        }
    }

    @Test
    void aShortRunOnAMomentsDatasetResumesBitExactly(@TempDir Path dir) {
        float[][] m = moments(30);
        Path data = dir.resolve("data");
        try (DatasetDir.MomentsWriter w = DatasetDir.momentsWriter(data, new int[]{1, 8, 8}, 3, POST).shardSamples(7).features(new int[]{16, 8}, "test")) {
            w.append(m[0], m[1], m[2], m[3]);
            w.finish();
        }
        TrainConfig cfg = TrainerTest.config("erw", 6, 2);
        Map<String, float[]> straight;
        List<Double> losses = new ArrayList<>();
        try (DatasetDir d = DatasetDir.open(data);
             Trainer t = new Trainer(cfg, TrainerTest.MODEL, d, dir.resolve("a"), CPU, new Trainer.Listener() {
                 @Override public void onStep(Trainer.StepLog l) { losses.add(l.loss()); }
             })) {
            t.startFresh().run(6);
            straight = TrainerTest.snapshot(t);
            // the dataset trains exactly as the same moments in memory
            try (Trainer u = new Trainer(cfg, TrainerTest.MODEL, source(30), dir.resolve("mem"), CPU, null)) {
                u.startFresh().run(6);
                Map<String, float[]> mem = TrainerTest.snapshot(u);
                for (String k : straight.keySet()) assertArrayEquals(straight.get(k), mem.get(k), k);
            }
            // plain data holding exactly what batch() gives (mean * scale + shift) has another fingerprint: the std and posterior count
            int[] all = new int[30];
            for (int i = 0; i < 30; i++) all[i] = i;
            float[] img = new float[30 * 64], lab = new float[30], feat = new float[30 * 128];
            d.batch(all, img, lab, feat);
            assertNotEquals(DataFingerprint.of(d), DataFingerprint.of(new ArrayBatchSource(img, new int[]{1, 8, 8}, lab, 3, feat, new int[]{16, 8})));
        }
        assertEquals(6, losses.size());
        for (double l : losses) assertTrue(Double.isFinite(l), losses.toString());
        Path run = dir.resolve("b");
        try (DatasetDir d = DatasetDir.open(data); Trainer t = new Trainer(cfg, TrainerTest.MODEL, d, run, CPU, null)) {
            t.startFresh().run(4);
            t.saveCheckpoint();
        }
        try (DatasetDir d = DatasetDir.open(data); Trainer t = new Trainer(cfg, TrainerTest.MODEL, d, run, CPU, null)) {
            t.resume(Trainer.latestCheckpoint(run)).run(6);
            Map<String, float[]> resumed = TrainerTest.snapshot(t);
            for (String k : straight.keySet()) assertArrayEquals(straight.get(k), resumed.get(k), "resumed " + k);
        }
    }
}
