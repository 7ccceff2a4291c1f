package erw.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.Precision;
import erw.engine.Tensor;
import erw.engine.cpu.CpuBackend;
import erw.engine.host.Philox;
import erw.model.SiT;
import erw.model.SiTConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerTest {
    static final CpuBackend CPU = new CpuBackend(2);
    // depth 4, D 32, 2 heads, patch 2 on 8x8x1 (16 tokens), 3 classes, projector at block 3, Z 8
    static final SiTConfig MODEL = new SiTConfig(4, 32, 2, 2, 8, 1, 3, 3, 16, 8, 4.0, false, false, 0);

    @AfterAll
    static void close() {
        CPU.close();
    }

    /** n samples: class k is a blob at one of 3 positions; features are a fixed function of the image. */
    static ArrayBatchSource data(int n) {
        int side = 8, tokens = 16, z = 8;
        float[] img = new float[n * side * side], lab = new float[n], feat = new float[n * tokens * z];
        float[] noise = new float[n * side * side];
        Philox.normal(9, 9, 0, noise, 0, noise.length);
        for (int i = 0; i < n; i++) {
            int k = i % 3;
            lab[i] = k;
            for (int y = 0; y < side; y++) for (int x = 0; x < side; x++) {
                double d = Math.hypot(x - (2 + 2 * k), y - 4);
                img[i * 64 + y * 8 + x] = (float) (d < 2 ? 0.8 : -0.8) + 0.05f * noise[i * 64 + y * 8 + x];
            }
            for (int t = 0; t < tokens; t++) {
                int ty = t / 4, tx = t % 4;
                float v = img[i * 64 + (2 * ty) * 8 + 2 * tx];
                for (int c = 0; c < z; c++) feat[(i * tokens + t) * z + c] = (float) Math.sin(v * (c + 1) + k);
            }
        }
        return new ArrayBatchSource(img, new int[]{1, side, side}, lab, 3, feat, new int[]{tokens, z});
    }

    static TrainConfig config(String method, long steps, long warmup) {
        return builder(method, steps, warmup).build();
    }

    static TrainConfig.Builder builder(String method, long steps, long warmup) {
        TrainConfig.Builder c = new TrainConfig.Builder();
        c.method = method;
        c.steps = steps;
        c.warmupSteps = warmup;
        c.batch = 6;
        c.lr = 2e-3;
        c.l2rDepth = 2;
        c.emaDecay = 0.9;
        c.checkpointEvery = 0;
        c.seed = 3;
        return c;
    }

    static Map<String, float[]> snapshot(Trainer t) {
        Map<String, float[]> m = new HashMap<>();
        t.parameters().all().forEach((k, v) -> m.put(k, v.toArray()));
        return m;
    }

    @Test
    void warmupWeightsReachPhaseTwoInOneRun(@TempDir Path dir) {
        TrainConfig cfg = config("erw", 6, 3);
        List<String> copiedNames = new ArrayList<>();
        Map<String, float[]>[] atTransition = new Map[1];
        Trainer[] self = new Trainer[1];
        try (Trainer t = new Trainer(cfg, MODEL, data(30), dir, CPU, new Trainer.Listener() {
            @Override public void onTransition(List<String> copied, List<String> fresh) {
                copiedNames.addAll(copied);
                atTransition[0] = snapshot(self[0]);
            }
        })) {
            self[0] = t;
            t.startFresh().run(3);
            assertEquals(Phase.WARMUP, t.program().phase);
            assertTrue(t.program().model.config().truncated());
            Map<String, float[]> warm = snapshot(t);
            t.run(6);
            assertEquals(Phase.FULL, t.program().phase);
            // every warmup tensor (embedders, blocks 0..1, projector) was carried over unchanged
            assertEquals(warm.keySet().size(), copiedNames.size());
            for (String name : warm.keySet()) assertArrayEquals(warm.get(name), atTransition[0].get(name), name);
            assertTrue(copiedNames.contains("blocks.1.mlp.fc2.weight") && copiedNames.contains("projectors.0.4.weight") && copiedNames.contains("y_embedder.embedding_table.weight"));
            assertTrue(!copiedNames.contains("blocks.2.attn.qkv.weight") && !copiedNames.contains("final_layer.linear.weight"));
        }
    }

    @Test
    void resumeIsBitExact(@TempDir Path dir) {
        for (String method : List.of("erw", "repa")) {
            TrainConfig cfg = config(method, 8, 3);
            Map<String, float[]> straight;
            try (Trainer t = new Trainer(cfg, MODEL, data(30), dir.resolve(method + "-a"), CPU, null)) {
                t.startFresh().run(8);
                straight = snapshot(t);
            }
            for (long k : new long[]{2, 5}) {
                Path run = dir.resolve(method + "-b" + k);
                try (Trainer t = new Trainer(cfg, MODEL, data(30), run, CPU, null)) {
                    t.startFresh().run(k);
                    t.saveCheckpoint();
                }
                try (Trainer t = new Trainer(Trainer.storedConfig(Trainer.latestCheckpoint(run)), MODEL, data(30), run, CPU, null)) {
                    t.resume(Trainer.latestCheckpoint(run)).run(8);
                    assertEquals(8, t.step());
                    Map<String, float[]> resumed = snapshot(t);
                    assertEquals(straight.keySet(), resumed.keySet());
                    for (String n : straight.keySet()) assertArrayEquals(straight.get(n), resumed.get(n), method + " k=" + k + " " + n);
                }
            }
        }
    }

    @Test
    void scheduleMatchesTheSpec() {
        TrainConfig.Builder erwB = builder("erw", 1000, 100);
        erwB.halfLife = 200;
        TrainConfig erw = erwB.build();
        Schedule s = new Schedule(erw, 4, 32);
        assertEquals(Phase.WARMUP, s.phase(0));
        assertEquals(Phase.WARMUP, s.phase(99));
        assertEquals(Phase.FULL, s.phase(100));
        assertEquals(0.5, s.lambda(50), 0);          // lambda_w in the warmup
        assertEquals(1.0, s.lambda(100), 1e-12);     // c0 = 1 at the boundary
        assertEquals(0.5, s.lambda(300), 1e-12);     // one half-life later
        assertEquals(Math.pow(2, -900 / 200.0), s.lambda(5000), 1e-12); // clamped at S - W
        assertEquals(6, Schedule.defaultC0(28, 1152));
        assertEquals(3, Schedule.defaultC0(24, 1024));
        TrainConfig def = TrainConfig.defaults().with(b -> b.steps = 400_000);
        assertEquals(40_000, def.warmup(), "default warmup = 10% of the run");
        Schedule repa = new Schedule(config("repa", 1000, 100), 4, 32);
        assertEquals(Phase.FULL, repa.phase(0));
        assertEquals(0.5, repa.lambda(0));
        assertEquals(0.5, repa.lambda(999));
        Schedule sit = new Schedule(config("sit", 1000, 100), 4, 32);
        assertEquals(0, sit.lambda(10));
        assertTrue(!sit.aligns());
    }

    @Test
    void lossCompositionPerMethod(@TempDir Path dir) {
        for (String method : List.of("erw", "repa", "sit")) {
            TrainConfig cfg = config(method, 4, 2);
            try (Trainer t = new Trainer(cfg, MODEL, data(12), dir, CPU, null)) {
                t.startFresh();
                PhaseProgram p = t.program();
                if (method.equals("erw")) {
                    assertEquals(Phase.WARMUP, p.phase);
                    assertNull(p.lossV, "phase 1 has no velocity loss");
                    t.run(1);
                    assertEquals(0.5 * p.lossAlign.item(), p.loss.item(), 1e-6, "phase 1: lambda_w * L_align");
                    t.run(3);
                    p = t.program();
                } else {
                    t.run(1);
                }
                assertEquals(Phase.FULL, p.phase);
                if (method.equals("sit")) {
                    assertNull(p.lossAlign);
                    assertEquals(p.lossV.item(), p.loss.item(), 0);
                    assertTrue(p.trained.stream().noneMatch(x -> x.name().startsWith("projectors.")), "SiT does not train the projector");
                } else {
                    double lambda = t.schedule().lambda(t.step() - 1);
                    assertEquals(p.lossV.item() + lambda * p.lossAlign.item(), p.loss.item(), 1e-5);
                }
            }
        }
    }

    @Test
    void lossDecreasesOnATinyRun(@TempDir Path dir) {
        TrainConfig cfg = config("erw", 160, 30).with(b -> b.batch = 16);
        List<Trainer.StepLog> logs = new ArrayList<>();
        try (Trainer t = new Trainer(cfg, MODEL, data(300), dir, CPU, new Trainer.Listener() {
            @Override public void onStep(Trainer.StepLog l) { logs.add(l); }
        })) {
            t.startFresh().run(160);
        }
        double alignStart = mean(logs.subList(0, 5), true), alignEnd = mean(logs.subList(25, 30), true);
        assertTrue(alignEnd < alignStart, "phase 1 alignment loss falls: " + alignStart + " -> " + alignEnd);
        double vStart = mean(logs.subList(30, 45), false), vEnd = mean(logs.subList(145, 160), false);
        assertTrue(vEnd < 0.8 * vStart, "velocity loss falls: " + vStart + " -> " + vEnd);
    }

    /**
     * ERW in BF16 and TF32 GEMMs against fp32, same seed, 120 steps across the phase boundary: each run is
     * deterministic, its losses differ from fp32's but track them (every 20-step mean of the velocity loss within 8%
     * for BF16, 2% for TF32; measured: within 0.3% and 0.02% over the first 80 steps, then drifting apart as any two
     * trajectories do, to 3.2% and 0.6%), and the velocity loss falls as in fp32. The precision is stored with the config.
     */
    @Test
    void reducedPrecisionTrainingTracksFp32(@TempDir Path dir) {
        Map<Precision, List<Trainer.StepLog>> runs = new java.util.EnumMap<>(Precision.class);
        for (Precision pr : Precision.values()) {
            TrainConfig cfg = config("erw", 120, 20).with(b -> {
                b.batch = 16;
                b.precision = pr.id();
            });
            assertEquals(pr, TrainConfig.fromJson(cfg.toJson()).precision());
            List<Trainer.StepLog> logs = new ArrayList<>();
            try (Trainer t = new Trainer(cfg, MODEL, data(300), dir.resolve(pr.id()), CPU, new Trainer.Listener() {
                @Override public void onStep(Trainer.StepLog l) { logs.add(l); }
            })) {
                t.startFresh().run(120);
            }
            runs.put(pr, logs);
        }
        List<Trainer.StepLog> ref = runs.get(Precision.FP32);
        for (Precision pr : List.of(Precision.TF32, Precision.BF16)) {
            List<Trainer.StepLog> l = runs.get(pr);
            assertNotEquals(ref.get(60).lossV(), l.get(60).lossV(), pr + " changed nothing");
            double tol = pr == Precision.BF16 ? 0.08 : 0.02; // measured at most 3.2% and 0.6% (the last window; the runs drift apart like any two trajectories)
            for (int w = 20; w < 120; w += 20) {
                double a = mean(ref.subList(w, w + 20), false), b = mean(l.subList(w, w + 20), false);
                assertEquals(a, b, tol * a, pr + " velocity loss, steps " + (w + 1) + "-" + (w + 20));
            }
            assertTrue(mean(l.subList(100, 120), false) < 0.8 * mean(l.subList(20, 40), false), pr + " velocity loss falls");
        }
        // a config stored before --precision existed is fp32
        String old = config("erw", 10, 2).toJson().replaceAll(",\\s*\"precision\" : \"fp32\"", "");
        assertFalse(old.contains("precision"), old);
        assertEquals(Precision.FP32, TrainConfig.fromJson(old).precision());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> config("erw", 10, 2).with(b -> b.precision = "fp16"));
        assertEquals("--precision = fp16 must be fp32, tf32 or bf16", e.getMessage());
    }

    private static double mean(List<Trainer.StepLog> l, boolean align) {
        return l.stream().mapToDouble(s -> align ? s.lossAlign() : s.lossV()).average().orElseThrow();
    }

    @Test
    void aNonFiniteSampleStopsTheRunNamingStepAndSample(@TempDir Path dir) throws Exception {
        ArrayBatchSource good = data(12);
        float[] img = new float[12 * 64], lab = new float[12], feat = new float[12 * 16 * 8];
        int[] all = new int[12];
        for (int i = 0; i < 12; i++) all[i] = i;
        good.batch(all, img, lab, feat);
        img[5] = Float.NaN;
        ArrayBatchSource bad = new ArrayBatchSource(img, new int[]{1, 8, 8}, lab, 3, feat, new int[]{16, 8});
        TrainConfig cfg = config("repa", 10, 0).with(b -> {
            b.checkpointEvery = 1;
            b.batch = 12;
        });
        try (Trainer t = new Trainer(cfg, MODEL, bad, dir, CPU, null)) {
            TrainingException e = assertThrows(TrainingException.class, () -> t.startFresh().run(10));
            assertTrue(e.getMessage().contains("step 1:") && e.getMessage().contains("image of sample 0") && e.getMessage().contains("no checkpoint was written yet"), e.getMessage());
        }
        try (var files = Files.list(dir)) {
            assertEquals(0, files.count(), "no checkpoint written from a NaN step");
        }
    }

    @Test
    void badSettingsGiveOneClearError(@TempDir Path dir) {
        assertThrows(IllegalArgumentException.class, () -> Method.parse("dit"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> config("erw", 10, 20));
        assertTrue(e.getMessage().contains("warmup-steps"), e.getMessage());
        ArrayBatchSource wrongT = new ArrayBatchSource(new float[12 * 64], new int[]{1, 8, 8}, new float[12], 3, new float[12 * 9 * 8], new int[]{9, 8});
        IllegalArgumentException f = assertThrows(IllegalArgumentException.class, () -> new Trainer(config("repa", 5, 0), MODEL, wrongT, dir, CPU, null));
        assertTrue(f.getMessage().contains("16 tokens"), f.getMessage());
        ArrayBatchSource noFeatures = new ArrayBatchSource(new float[12 * 64], new int[]{1, 8, 8}, new float[12], 3, null, null);
        assertThrows(IllegalArgumentException.class, () -> new Trainer(config("erw", 5, 1), MODEL, noFeatures, dir, CPU, null));
        new Trainer(config("sit", 5, 0), MODEL, noFeatures, dir, CPU, null).close();
    }

    @Test
    void checkpointsLoadAsModelsForTheSampler(@TempDir Path dir) {
        TrainConfig cfg = config("repa", 3, 0);
        Path file;
        Map<String, float[]> ema = new HashMap<>();
        try (Trainer t = new Trainer(cfg, MODEL, data(12), dir, CPU, null)) {
            t.startFresh().run(3);
            file = Trainer.latestCheckpoint(dir);
            for (Tensor e : t.program().ema) ema.put(e.name(), e.toArray());
        }
        SiT m = erw.model.Checkpoint.load(file, true, null);
        assertArrayEquals(ema.get("ema.blocks.0.attn.qkv.weight"), m.parameters().get("blocks.0.attn.qkv.weight").data());
        assertEquals(MODEL, m.config());
    }

    /** Rewrites a checkpoint with edited metadata and tensors (what a corrupted or hand-edited file looks like). */
    static Path tampered(Path src, Path dst, java.util.function.Consumer<Map<String, String>> meta,
                         java.util.function.Consumer<Map<String, erw.model.io.SafeTensors.Tensor>> tensors) {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        Map<String, erw.model.io.SafeTensors.Tensor> t = new java.util.LinkedHashMap<>();
        try (erw.model.io.SafeTensorsFile f = erw.model.io.SafeTensors.open(src)) {
            m.putAll(f.metadata());
            for (String n : f.names()) t.put(n, new erw.model.io.SafeTensors.Tensor(f.shape(n), f.readFloats(n)));
        }
        meta.accept(m);
        tensors.accept(t);
        erw.model.io.SafeTensors.write(dst, t, m);
        return dst;
    }

    @Test
    void resumeValidatesEveryFieldOfTheCheckpoint(@TempDir Path dir) throws Exception {
        TrainConfig cfg = config("erw", 8, 2).with(b -> b.checkpointEvery = 4);
        try (Trainer t = new Trainer(cfg, MODEL, data(12), dir, CPU, null)) {
            t.startFresh().run(4);
        }
        Path good = dir.resolve("step-0000004.safetensors"), bad = dir.resolve("bad").resolve("step-0000004.safetensors");
        java.util.function.Consumer<Map<String, String>> keepMeta = x -> {};
        java.util.function.Consumer<Map<String, erw.model.io.SafeTensors.Tensor>> keepTensors = x -> {};
        Map<String, java.util.function.Consumer<Map<String, String>>> metaCases = new java.util.LinkedHashMap<>();
        metaCases.put("erw.step = -5", x -> x.put(Trainer.STEP_KEY, "-5"));
        metaCases.put("erw.step = 999999", x -> x.put(Trainer.STEP_KEY, "999999"));
        metaCases.put("erw.step = 'four' is not an integer", x -> x.put(Trainer.STEP_KEY, "four"));
        metaCases.put("erw.phase = '1' does not match step 4", x -> x.put(Trainer.PHASE_KEY, "1"));
        metaCases.put("erw.phase = '3'", x -> x.put(Trainer.PHASE_KEY, "3"));
        metaCases.put("field 'steps' is missing", x -> x.put(Trainer.TRAIN_KEY, x.get(Trainer.TRAIN_KEY).replaceAll("\"steps\" : \\d+,", "")));
        metaCases.put("holds a warmup model", x -> x.put(erw.model.Checkpoint.CONFIG_KEY, MODEL.truncatedTo(2).toJson()));
        for (var c : metaCases.entrySet()) {
            tampered(good, bad, c.getValue(), keepTensors);
            try (Trainer t = new Trainer(cfg, MODEL, data(12), dir.resolve("bad"), CPU, null)) {
                RuntimeException e = assertThrows(RuntimeException.class, () -> t.resume(bad), c.getKey());
                assertTrue(e instanceof IllegalArgumentException && e.getMessage().contains(c.getKey()), c.getKey() + " -> " + e);
            }
        }
        Map<String, java.util.function.Consumer<Map<String, erw.model.io.SafeTensors.Tensor>>> tensorCases = new java.util.LinkedHashMap<>();
        String w = "blocks.0.attn.qkv.weight";
        tensorCases.put("shape of ema." + w + " is [32, 96]", x -> x.put("ema." + w, new erw.model.io.SafeTensors.Tensor(new long[]{32, 96}, x.get("ema." + w).data())));
        tensorCases.put("shape of optim." + w + ".exp_avg is [5]", x -> x.put("optim." + w + ".exp_avg", new erw.model.io.SafeTensors.Tensor(new long[]{5}, new float[5])));
        tensorCases.put("ema." + w + " holds a non-finite value", x -> x.get("ema." + w).data()[7] = Float.NaN);
        tensorCases.put(w + " holds a non-finite value", x -> x.get(w).data()[3] = Float.POSITIVE_INFINITY);
        tensorCases.put("missing optim." + w + ".exp_avg_sq", x -> x.remove("optim." + w + ".exp_avg_sq"));
        for (var c : tensorCases.entrySet()) {
            tampered(good, bad, keepMeta, c.getValue());
            try (Trainer t = new Trainer(cfg, MODEL, data(12), dir.resolve("bad"), CPU, null)) {
                RuntimeException e = assertThrows(RuntimeException.class, () -> t.resume(bad), c.getKey());
                assertTrue(e.getMessage().contains(c.getKey()), c.getKey() + " -> " + e);
            }
        }
        // the untouched checkpoint still resumes
        try (Trainer t = new Trainer(cfg, MODEL, data(12), dir, CPU, null)) {
            assertEquals(4, t.resume(good).step());
        }
    }

    @Test
    void nonFiniteWeightsNeverReachACheckpoint(@TempDir Path dir) {
        TrainConfig cfg = config("repa", 40, 0).with(b -> {
            b.lr = 1e38;
            b.checkpointEvery = 1;
        });
        try (Trainer t = new Trainer(cfg, MODEL, data(12), dir, CPU, null)) {
            TrainingException e = assertThrows(TrainingException.class, () -> t.startFresh().run(40));
            List<Path> written;
            try (var files = Files.list(dir)) {
                written = files.filter(p -> p.getFileName().toString().startsWith("step-")).sorted().toList();
            } catch (java.io.IOException io) {
                throw new java.io.UncheckedIOException(io);
            }
            String expect = written.isEmpty() ? "no checkpoint was written yet" : "the last checkpoint, " + written.get(written.size() - 1).getFileName() + ", is intact";
            assertTrue(e.getMessage().contains(expect), e.getMessage() + " / expected " + expect);
            for (Path p : written) erw.model.Checkpoint.load(p, true, null); // every written checkpoint is finite (load checks)
        }
    }
}
