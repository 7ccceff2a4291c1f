package erw.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.host.Philox;
import erw.model.SiTConfig;
import erw.model.TimeWeight;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * REED: the curriculum and time weights against formulas written out here (not the code's), the
 * loss composition with two targets (per token and pooled), bit-exact resume through the diffusion
 * ramp, stored configs, and one-line errors for targets the data or model cannot serve.
 */
class ReedTest {
    static final Recipes.ModelChoice TINY = new Recipes.ModelChoice("tiny", 4, 32, 2, 2, 3, 16, false);

    /** {@link TrainerTest#data} plus a pooled set "captions" (one 5-wide vector per sample). */
    static ArrayBatchSource data(int n) {
        ArrayBatchSource d = TrainerTest.data(n);
        float[] cap = new float[n * 5];
        Philox.normal(11, 1, 0, cap, 0, cap.length);
        for (int i = 0; i < n; i++) cap[i * 5 + (i % 3)] += 2f; // class-dependent, as captions would be
        return d.withFeatures("captions", cap, new int[]{5});
    }

    static TrainConfig.Builder reed(long steps) {
        TrainConfig.Builder b = TrainerTest.builder("reed", steps, -1);
        b.targets = new ArrayList<>(List.of("features", "captions:block=2:pool=mean:hidden=12:coef=0.5"));
        b.diffusionStart = 1;
        b.diffusionWarmupSteps = 4;
        b.projCoeff = 0.5;
        b.alignSchedule = "linear";
        b.alignSteps = 10;
        b.timeWeight = "linear";
        return b;
    }

    @Test
    void curriculumFollowsReedsFormulas() {
        TrainConfig.Builder b = reed(20);
        b.diffusionStart = 2;
        b.diffusionDecay = "linear";
        Schedule s = new Schedule(b.build(), 4, 32);
        // start 2, ramp 4 (top 6), linear decay over the 14 steps after
        double[] wDiff = {0, 0, 0, 0.25, 0.5, 0.75, 1, 1 - 1 / 14.0, 1 - 2 / 14.0};
        for (int k = 0; k < wDiff.length; k++) assertEquals(wDiff[k], s.wDiff(k), 1e-12, "w_diff(" + k + ")");
        assertEquals(1 - 13 / 14.0, s.wDiff(19), 1e-12);
        for (int k : new int[]{0, 3, 10, 15}) {
            assertEquals(Math.max(1 - k / 10.0, 0), s.wAlign(k), 1e-12, "w_align linear(" + k + ")");
            assertEquals(0.5 * Math.max(1 - k / 10.0, 0), s.lambda(k), 1e-12, "lambda(" + k + ")");
        }
        b.diffusionDecay = "cosine";
        b.alignSchedule = "cosine";
        s = new Schedule(b.build(), 4, 32);
        assertEquals((1 + Math.cos(Math.PI * 4 / 14.0)) / 2, s.wDiff(10), 1e-12);
        assertEquals((1 + Math.cos(Math.PI * 0.3)) / 2, s.wAlign(3), 1e-12);
        assertEquals(0, s.wAlign(12), 1e-12, "held at 0 after S_align");
        b.alignSchedule = "constant";
        b.diffusionDecay = "constant";
        s = new Schedule(b.build(), 4, 32);
        assertEquals(1, s.wAlign(7), 0);
        assertEquals(1, s.wDiff(19), 0);
        // defaults scale with the run: ramp = steps / 8, S_align = steps
        TrainConfig d = TrainerTest.builder("reed", 400_000, -1).build();
        assertEquals(50_000, d.diffusionWarmup());
        assertEquals(400_000, d.alignSteps());
        assertEquals(0.5, new Schedule(d, 28, 1152).wDiff(25_000), 1e-12);
        // other methods keep w_diff = 1
        assertEquals(1, new Schedule(TrainerTest.config("repa", 10, -1), 4, 32).wDiff(0), 0);
    }

    @Test
    void timeWeightsAreReedsFunctions() {
        float t = 0.3f;
        assertEquals(1, TimeWeight.CONSTANT.apply(t, 0, 1), 0);
        assertEquals(0.7f, TimeWeight.LINEAR.apply(t, 0, 1), 1e-7);
        assertEquals(0.5 * (1 + Math.cos(Math.PI * t)), TimeWeight.COSINE.apply(t, 0, 1), 1e-6);
        assertEquals(1 / (1 + Math.exp((t - 0.5) * 10)), TimeWeight.SIGMOID.apply(t, 0, 1), 1e-6);
        assertEquals(1 - Math.log(1 + t), TimeWeight.LOGLINEAR.apply(t, 0, 1), 1e-6);
        assertEquals(0, TimeWeight.CUTOFF.apply(t, 0.4, 0.9), 0);
        assertEquals(1, TimeWeight.CUTOFF.apply(0.5f, 0.4, 0.9), 0);
    }

    @Test
    void twoTargetsTrainWithTheReedLossAndLogEveryTerm(@TempDir Path dir) {
        TrainConfig cfg = reed(6).build();
        ArrayBatchSource src = data(30);
        SiTConfig model = TINY.forRun(src, cfg);
        assertEquals(2, model.projectors().size());
        assertEquals(new SiTConfig.Projector(2, true, 12, 5), model.projectors().get(1));
        assertEquals(new SiTConfig.Projector(3, false, 16, 8), model.projectors().get(0));
        List<Trainer.StepLog> logs = new ArrayList<>();
        try (Trainer t = new Trainer(cfg, model, src, dir, TrainerTest.CPU, new Trainer.Listener() {
            @Override public void onStep(Trainer.StepLog l) { logs.add(l); }
        })) {
            t.startFresh().run(6);
            assertTrue(t.parameters().all().containsKey("projectors.1.4.weight"));
            assertArrayEquals(new int[]{5, 12}, t.parameters().get("projectors.1.4.weight").shape());
        }
        Schedule s = new Schedule(cfg, 4, 32);
        for (Trainer.StepLog l : logs) {
            long g = l.step() - 1;
            assertEquals(s.wDiff(g), l.wDiff(), 0, "w_diff at step " + g);
            assertEquals(s.wAlign(g), l.wAlign(), 0);
            assertEquals(0.5 * Math.max(1 - g / 10.0, 0), l.lambda(), 1e-9);
            assertEquals(List.of("loss_align.features", "loss_align.captions"), List.copyOf(l.alignTerms().keySet()));
            double sum = l.alignTerms().get("loss_align.features") + 0.5 * l.alignTerms().get("loss_align.captions");
            assertEquals(sum, l.lossAlign(), 1e-5 * Math.max(1, Math.abs(sum)));
            double total = l.wDiff() * l.lossV() + l.lambda() * l.lossAlign();
            assertEquals(total, l.loss(), 1e-5 * Math.max(1, Math.abs(total)), "loss = w_diff * loss_v + lambda * sum");
        }
        assertEquals(0, logs.get(0).wDiff(), 0, "REED starts as pure alignment");
        assertEquals(0.25, logs.get(1 + 1).wDiff(), 0); // step 2: (2 - 1) / 4
    }

    @Test
    void resumeIsBitExactThroughTheRamp(@TempDir Path dir) {
        TrainConfig cfg = reed(8).build();
        SiTConfig model = TINY.forRun(data(30), cfg);
        Map<String, float[]> straight;
        try (Trainer t = new Trainer(cfg, model, data(30), dir.resolve("a"), TrainerTest.CPU, null)) {
            t.startFresh().run(8);
            straight = TrainerTest.snapshot(t);
        }
        for (long k : new long[]{1, 3}) { // before and inside the ramp (steps 1..5)
            Path run = dir.resolve("b" + k);
            try (Trainer t = new Trainer(cfg, model, data(30), run, TrainerTest.CPU, null)) {
                t.startFresh().run(k);
                t.saveCheckpoint();
            }
            TrainConfig stored = Trainer.storedConfig(Trainer.latestCheckpoint(run));
            assertEquals(cfg, stored);
            try (Trainer t = new Trainer(stored, model, data(30), run, TrainerTest.CPU, null)) {
                t.resume(Trainer.latestCheckpoint(run)).run(8);
                Map<String, float[]> resumed = TrainerTest.snapshot(t);
                for (String n : straight.keySet()) assertArrayEquals(straight.get(n), resumed.get(n), "k=" + k + " " + n);
            }
        }
    }

    @Test
    void storedConfigsRoundTripAndOlderOnesLoad() {
        TrainConfig cfg = reed(6).build();
        assertEquals(cfg, TrainConfig.fromJson(cfg.toJson()));
        assertEquals("captions:block=2:pool=mean:hidden=12:coef=0.5", cfg.targets().get(1).spec());
        // a config written before REED (no targets, no curriculum fields) is REPA/ERW as it was
        String old = TrainerTest.config("erw", 10, 2).toJson().replaceAll("(?s),\\s*\"targets\".*\"timeCutoffHigh\" : [0-9.]+", "");
        assertFalse(old.contains("projCoeff"), old);
        TrainConfig back = TrainConfig.fromJson(old);
        assertEquals(TrainerTest.config("erw", 10, 2), back);
        assertEquals(List.of(AlignTarget.DEFAULT), back.alignTargets());
    }

    @Test
    void targetsTheDataOrModelCannotServeAreOneLineErrors(@TempDir Path dir) {
        ArrayBatchSource src = data(30);
        List<String[]> cases = List.of(
                new String[]{"lyrics:pool=mean", "no feature set 'lyrics'"},
                new String[]{"captions:block=9:pool=mean", "beyond the model's depth 4"},
                new String[]{"captions:pool=mean:z=7", "width 5 but the projector's z is 7"},
                new String[]{"captions", "a per-token target needs the model's 16 tokens"},
                new String[]{"features:pool=mean", "a pooled target needs one vector per sample"});
        for (String[] c : cases) {
            TrainConfig.Builder b = reed(4);
            b.targets = new ArrayList<>(List.of("features", c[0]));
            TrainConfig cfg = b.build();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
                SiTConfig m = TINY.forRun(src, cfg);
                new Trainer(cfg, m, src, dir, TrainerTest.CPU, null).close();
            }, c[0]);
            assertTrue(e.getMessage().contains(c[1]) && e.getMessage().contains("--target") && !e.getMessage().contains("\n"), c[0] + ": " + e.getMessage());
        }
        TrainConfig.Builder b = reed(4);
        b.targets = new ArrayList<>(List.of("features:blok=2"));
        assertTrue(assertThrows(IllegalArgumentException.class, b::build).getMessage().contains("unknown key 'blok'"));
        b.targets = new ArrayList<>(List.of("captions:pool=mean"));
        assertTrue(assertThrows(IllegalArgumentException.class, b::build).getMessage().contains("first target"));
        b = reed(4);
        b.align = "ntxent";
        assertTrue(assertThrows(IllegalArgumentException.class, b::build).getMessage().startsWith("--time-weight"));
    }
}
