package erw.training.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.cpu.CpuBackend;
import erw.model.SiT;
import erw.model.SiTConfig;
import erw.sampler.Sampler;
import erw.sampler.SamplerKind;
import erw.training.TargetEncoderTest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvaluationTest {
    static int[] labels(int n) {
        int[] l = new int[n];
        for (int i = 0; i < n; i++) l[i] = (i * 7) % 3;
        return l;
    }

    @Test
    void evaluatorLearnsRoundTripsAndScoresRealImagesAsRealImages(@TempDir Path dir) {
        int n = 300;
        int[] lab = labels(n), testLab = labels(90);
        float[] img = TargetEncoderTest.images(n, lab, 1), test = TargetEncoderTest.images(90, testLab, 2);
        try (CpuBackend cpu = new CpuBackend(2)) {
            Evaluator ev = new Evaluator(1, 8, 3);
            ev.train(cpu, img, lab, test, testLab, 100, 32, 1e-3, Evaluator.DEFAULT_SEED, "evaluator", null);
            assertTrue(ev.testAccuracy() > 0.95, "test accuracy " + ev.testAccuracy());
            Path file = dir.resolve("ev.safetensors");
            ev.save(file);
            Evaluator back = Evaluator.load(file);
            assertEquals(ev.testAccuracy(), back.testAccuracy());
            float[] f1 = ev.features(cpu, test, 90, 32, null), f2 = back.features(cpu, test, 90, 32, null);
            assertArrayEquals(f1, f2);
            assertEquals(90 * Evaluator.HIDDEN2, f1.length);

            // held-out real images of the same distribution are closer to the reference than noise images
            FrechetDistance.Gaussian ref = SampleQuality.reference(ev, cpu, img, n);
            double real = FrechetDistance.between(FrechetDistance.Gaussian.fit(f1, 90, Evaluator.HIDDEN2), ref);
            float[] noise = new float[90 * 64];
            erw.engine.host.Philox.normal(9, 9, 0, noise, 0, noise.length);
            double fake = FrechetDistance.between(FrechetDistance.Gaussian.fit(ev.features(cpu, noise, 90, 32, null), 90, Evaluator.HIDDEN2), ref);
            assertTrue(real < 0.5 * fake, "FD real " + real + " vs noise " + fake);
        }
        assertThrows(erw.model.io.SafeTensorsException.class, () -> Evaluator.load(writeJunk(dir)));
    }

    private static Path writeJunk(Path dir) {
        Path p = dir.resolve("not-an-evaluator.safetensors");
        erw.model.io.SafeTensors.write(p, java.util.Map.of("x", new erw.model.io.SafeTensors.Tensor(new long[]{1}, new float[1])), java.util.Map.of());
        return p;
    }

    static SiT tinyModel() {
        return new SiT(new SiTConfig(2, 32, 2, 2, 8, 1, 3, 1, 16, 8, 4.0, false, false, 0)).initialize(3);
    }

    @Test
    void sampleScoresAreDeterministicAndInRange() {
        int n = 120;
        int[] lab = labels(n);
        try (CpuBackend cpu = new CpuBackend(2)) {
            Evaluator ev = new Evaluator(1, 8, 3);
            ev.train(cpu, TargetEncoderTest.images(n, lab, 1), lab, null, null, 30, 32, 1e-3, 1, "evaluator", null);
            SampleQuality q = new SampleQuality(ev, SampleQuality.reference(ev, cpu, TargetEncoderTest.images(n, lab, 1), n));
            Sampler.Options opt = Sampler.Options.of(SamplerKind.HEUN, 4, 5);
            SampleQuality.Score a = q.score(tinyModel(), cpu, cpu.pool(), 150, opt), b = q.score(tinyModel(), cpu, cpu.pool(), 150, opt);
            assertEquals(a.fd(), b.fd());
            assertEquals(a.accuracy(), b.accuracy());
            assertTrue(a.fd() > 0 && Double.isFinite(a.fd()));
            assertTrue(a.accuracy() >= 0 && a.accuracy() <= 1);
        }
    }

    @Test
    void cknnaOfABlockAgainstItsOwnTokensIsOne() {
        SiT model = tinyModel();
        int n = 60;
        int[] lab = labels(n);
        float[] img = TargetEncoderTest.images(n, lab, 4), y = new float[n];
        for (int i = 0; i < n; i++) y[i] = lab[i];
        try (CpuBackend cpu = new CpuBackend(2)) {
            // the block's own tokens as the "targets": identical neighbourhoods
            erw.engine.Graph g = erw.engine.Graph.inference("tokens");
            erw.engine.Tensor x = erw.engine.Tensor.input("x", n, 1, 8, 8), t = erw.engine.Tensor.input("t", n), yy = erw.engine.Tensor.input("y", n);
            erw.engine.Tensor h = model.blockTokens(g, x, t, yy, 1);
            x.copyFrom(img);
            yy.copyFrom(y);
            try (erw.engine.Plan p = cpu.compile(g)) {
                p.run();
            }
            float[] own = h.data().clone();
            int tokens = model.config().tokens(), d = model.config().hiddenSize();
            assertEquals(1.0, BlockAlignment.cknna(model, cpu, 1, img, y, n, own, tokens, d, 0, 5, 0), 1e-4);
            // heavily noised inputs (t = 0.9) change the neighbourhoods
            double noisy = BlockAlignment.cknna(model, cpu, 1, img, y, n, own, tokens, d, 0.9, 5, 0);
            assertTrue(noisy < 0.9, "CKNNA of noised inputs vs clean tokens " + noisy);
        }
    }

    @Test
    void reportTablesHoldEveryPointAndTheFinalSpread(@TempDir Path dir) throws Exception {
        List<ConvergenceBenchmark.Point> pts = List.of(
                new ConvergenceBenchmark.Point("sit", 0, 100, 30, 0.5, 50, 10),
                new ConvergenceBenchmark.Point("erw", 0, 100, 20, 0.6, 50, 10),
                new ConvergenceBenchmark.Point("sit", 0, 200, 10, 0.7, 50, 20),
                new ConvergenceBenchmark.Point("erw", 0, 200, 8, 0.8, 50, 20),
                new ConvergenceBenchmark.Point("sit", 1, 200, 14, 0.7, 50, 20),
                new ConvergenceBenchmark.Point("erw", 1, 200, 6, 0.9, 50, 20));
        ConvergenceReport.write(dir, pts, List.of("sit", "erw"), "# test", "\nend\n");
        String md = Files.readString(dir.resolve("results.md"));
        assertTrue(md.contains("| 100 | 30.000 | 50.0% | 20.000 | 60.0% |"), md);
        assertTrue(md.contains("| SIT | 2 | 12.000 ± 2.828 | 70.0% ± 0.0 |"), md);
        assertTrue(md.contains("| ERW | 2 | 7.000 ± 1.414 | 85.0% ± 7.1 |"), md);
        assertTrue(md.endsWith("end\n"));
        assertEquals(7, Files.readAllLines(dir.resolve("results.csv")).size());
        assertTrue(Files.size(dir.resolve("fd_vs_steps.png")) > 1000);
        assertTrue(!md.contains("Both evaluators"), "no second-evaluator table without second-evaluator figures");
        // steps to the highest final FD (SIT's 10 at step 200): ERW crosses it between 100 (20) and 200 (8) at 100 + 100 * 10/12
        assertTrue(md.contains("reaches 10.000") && md.contains("| SIT | 200 | 1.09 |") && md.contains("| ERW | 183 | 1.00 |"), md);
        // paired by seed: FD differences 2 (seed 0) and 8 (seed 1); seed 1 is scored at the end only, so one curve
        // for the steps ratio, too few for an interval
        assertTrue(md.contains("| SIT | 2 | +5.000 [+2.000, +8.000] | 2 of 2 | - (1 curves) | - |"), md);
        // with a second full curve: steps until 12 (the higher mean final FD) SIT 190 / ERW 166.7 on seed 0,
        // SIT 200 (never reaches it: its last step) / ERW 150 on seed 1
        List<ConvergenceBenchmark.Point> two = new java.util.ArrayList<>(pts);
        two.add(new ConvergenceBenchmark.Point("sit", 1, 100, 40, 0.5, 50, 10));
        two.add(new ConvergenceBenchmark.Point("erw", 1, 100, 18, 0.6, 50, 10));
        String paired = ConvergenceReport.pairedBySeed(two, List.of("sit", "erw"));
        assertTrue(paired.contains("steps until FD 12.000") && paired.contains("| SIT | 2 | +5.000 [+2.000, +8.000] | 2 of 2 | 1.24 [1.14, 1.33] | 2 of 2 |"), paired);
        // the written CSV reads back to the same points
        assertEquals(pts.toString(), ConvergenceReport.readCsv(dir.resolve("results.csv")).toString());
    }

    @Test
    void withEverySeedACurveTheReportShowsMeanCurvesOnBothEvaluators(@TempDir Path dir) throws Exception {
        java.util.List<ConvergenceBenchmark.Point> pts = new java.util.ArrayList<>();
        for (long seed = 0; seed < 2; seed++) {
            for (long step = 100; step <= 300; step += 100) {
                double sit = 40 - step / 10.0 + seed, erw = 30 - step / 10.0 + 2 * seed; // seed 0: SIT 30/20/10, ERW 20/10/0; seed 1: +1, +2
                pts.add(new ConvergenceBenchmark.Point("sit", seed, step, sit, 0.5, 50, step, new ConvergenceBenchmark.Extra(2 * sit, 0.5, 0.5, 0.5, 0.5, 0.5)));
                pts.add(new ConvergenceBenchmark.Point("erw", seed, step, erw, 0.5, 50, step, new ConvergenceBenchmark.Extra(2 * erw, 0.5, 0.5, 0.5, 0.5, 0.5)));
            }
        }
        ConvergenceReport.write(dir, pts, List.of("sit", "erw"), "# test", "");
        String md = Files.readString(dir.resolve("results.md"));
        assertTrue(md.contains("FD on evaluator [1] (lower is better), mean ± std over the seeds scored at that step (of [0, 1]"), md);
        assertTrue(md.contains("| 100 | 30.500 ± 0.707 | 2 | 21.000 ± 1.414 | 2 |"), md);
        assertTrue(md.contains("FD on evaluator [2]") && md.contains("| 300 | 21.000 ± 1.414 | 2 | 2.000 ± 2.828 | 2 |"), md);
        assertTrue(md.contains("Steps until seed 0's FD on evaluator [1] reaches 10.000"), "the first seed's steps too (a study in progress has its curve first)");
        // final differences 10 and 9; target: the higher mean final FD, SIT's 10.5, which SIT reaches at 295 on seed 0 and
        // never on seed 1 (counts its last step, 300), ERW at 195 and 215: ratios 1.513 and 1.395
        assertTrue(md.contains("steps until FD 10.500") && md.contains("| SIT | 2 | +9.500 [+9.000, +10.000] | 2 of 2 | 1.45 [1.40, 1.51] | 2 of 2 |"), md);
        assertTrue(Files.size(dir.resolve("fd_vs_steps.png")) > 1000 && Files.size(dir.resolve("fd2_vs_steps.png")) > 1000);
        // a column not scored at the final step yet (a study in progress) shows dashes, not NaN
        ConvergenceReport.write(dir, pts, List.of("sit", "erw", "repa"), "# test", "");
        String partial = Files.readString(dir.resolve("results.md"));
        assertTrue(partial.contains("| REPA | 0 | - | - |") && !partial.contains("NaN"), partial);
        // its header and footer, for rewriting the tables
        ConvergenceReport.write(dir, pts, List.of("sit", "erw"), "# title\n\nCommand: x", "\nTotal wall time 1.0 min on 2 threads, cpu backend.\n");
        String[] hf = ConvergenceReport.headerAndFooter(Files.readString(dir.resolve("results.md")));
        assertEquals("# title\n\nCommand: x", hf[0]);
        assertEquals("\nTotal wall time 1.0 min on 2 threads, cpu backend.\n", hf[1]);
        // a preset's curves: the first seeds; out of range is refused naming the option
        ConvergenceBenchmark.Preset p = new ConvergenceBenchmark.Preset("t", 8, 8, 2, 10, erw.sampler.SamplerKind.HEUN, 2, List.of(3L, 1L, 2L), 2);
        assertTrue(p.curve(3) && p.curve(1) && !p.curve(2));
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new ConvergenceBenchmark.Preset("t", 8, 8, 2, 10, erw.sampler.SamplerKind.HEUN, 2, List.of(0L), 2));
        assertTrue(e.getMessage().startsWith("--curves 2"), e.getMessage());
        assertEquals(5, ConvergenceBenchmark.Preset.named("full").curves());
    }

    @Test
    void pairedBootstrapIntervalsAreSeededPercentiles() {
        double[] flat = ConvergenceReport.pairedBootstrap(new double[] {3, 3, 3}, 1000, 1);
        assertArrayEquals(new double[] {3, 3, 3}, flat);
        double[] v = {1, 2, 3, 10};
        double[] a = ConvergenceReport.pairedBootstrap(v, 10_000, 7), b = ConvergenceReport.pairedBootstrap(v, 10_000, 7);
        assertArrayEquals(a, b, "the same seed gives the same interval");
        assertEquals(4, a[0], 1e-12);
        assertTrue(a[1] >= 1 && a[1] < 4 && a[2] > 4 && a[2] <= 10, java.util.Arrays.toString(a));
        // a normal sample: the interval is about mean +- 1.96 sd / sqrt(n)
        java.util.SplittableRandom r = new java.util.SplittableRandom(5);
        double[] x = new double[400];
        for (int i = 0; i < x.length; i++) x[i] = r.nextGaussian();
        double[] c = ConvergenceReport.pairedBootstrap(x, 10_000, 9);
        assertEquals(2 * 1.96 / Math.sqrt(400), c[2] - c[1], 0.02, java.util.Arrays.toString(c));
    }

    @Test
    void anInterruptedStudyResumesAtItsLastCompletelyScoredCheckpoint(@TempDir Path dir) throws Exception {
        ConvergenceBenchmark.Preset preset = new ConvergenceBenchmark.Preset("t", 8, 8, 2, 10, erw.sampler.SamplerKind.HEUN, 2, List.of(0L, 1L), 1);
        ConvergenceBenchmark b = new ConvergenceBenchmark(preset, null, erw.training.TrainConfig.defaults(), null, null, null, null, null);
        erw.training.TrainConfig sit = b.config("sit", 0);
        Path run = dir.resolve("sit-seed0");
        Files.createDirectories(run);
        java.util.function.LongFunction<ConvergenceBenchmark.Point> pt = s -> new ConvergenceBenchmark.Point("sit", 0, s, 1, 0.5, 10, s);
        assertEquals(0, b.resumeStep(sit, run, List.of(), true), "nothing written: from the start");
        for (long s : new long[]{2, 4, 6}) Files.writeString(run.resolve(String.format("step-%07d.safetensors", s)), "");
        // points 2 and 4 scored, 6 checkpointed but not scored (stopped while scoring): resume at 4
        assertEquals(4, b.resumeStep(sit, run, List.of(pt.apply(2), pt.apply(4)), true));
        // a gap in the curve's points: resume before it
        assertEquals(2, b.resumeStep(sit, run, List.of(pt.apply(2), pt.apply(6)), true));
        // a seed scored only at the end needs no points before its last checkpoint
        assertEquals(6, b.resumeStep(sit, run, List.of(), false));
        // the final point scored: the run is done
        assertEquals(8, b.resumeStep(sit, run, List.of(pt.apply(2), pt.apply(4), pt.apply(6), pt.apply(8)), true));
        // an ablation arm: its overrides over the shared settings, the study's budget over both
        erw.training.TrainConfig arm = b.config(new ConvergenceBenchmark.Arm("w3", "erw", c -> {
            c.warmupSteps = 3L;
            c.c0 = 2.0;
            c.steps = 1000L;
        }, null), 1);
        assertEquals(3, arm.warmup());
        assertEquals(2.0, arm.c0().orElseThrow());
        assertEquals(8, arm.steps());
        assertEquals(erw.training.Method.ERW, arm.method());
        assertEquals(1, arm.seed());
    }

    @Test
    void reportHoldsBothEvaluatorsAndReadsOldResults(@TempDir Path dir) throws Exception {
        List<ConvergenceBenchmark.Point> pts = List.of(
                new ConvergenceBenchmark.Point("sit", 0, 200, 10, 0.7, 50, 20, new ConvergenceBenchmark.Extra(40, 0.6, 0.5, 0.3, 0.7, 0.2)),
                new ConvergenceBenchmark.Point("sit", 1, 200, 14, 0.7, 50, 20, new ConvergenceBenchmark.Extra(44, 0.8, 0.7, 0.5, 0.5, 0.4)),
                new ConvergenceBenchmark.Point("erw", 0, 200, 8, 0.8, 50, 20)); // a row from before the second evaluator
        ConvergenceReport.write(dir, pts, List.of("sit", "erw"), "# test", "");
        String md = Files.readString(dir.resolve("results.md"));
        assertTrue(md.contains("| SIT | 12.000 ± 2.828 | 42.000 ± 2.828 | 70.0 ± 14.1 | 0.600 ± 0.141 | 0.400 ± 0.141 | 0.600 ± 0.141 | 0.300 ± 0.141 |"), md);
        assertTrue(md.contains("| ERW | 8.000 ± 0.000 | - | - | - | - | - | - |"), md);
        assertEquals(pts.toString(), ConvergenceReport.readCsv(dir.resolve("results.csv")).toString());
        // a results.csv of the earlier format (7 columns) still reads, without the second evaluator's figures
        Path old = dir.resolve("old.csv");
        Files.writeString(old, "method,seed,step,fd,accuracy,samples,train_seconds\nsit,0,150,272.06300,0.08200,500,99.0\n");
        ConvergenceBenchmark.Point p = ConvergenceReport.readCsv(old).get(0);
        assertEquals(272.063, p.fd(), 1e-9);
        assertTrue(Double.isNaN(p.extra().fd2()));
    }
}
