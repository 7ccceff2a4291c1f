package erw.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.BufferPlanner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Shared arrays and activation recomputation change no bits: metrics, weights and checkpoints of a
 * run across ERW's phase boundary are identical with the planner on or off, recomputing or not.
 */
class MemoryPlanTrainingTest {
    @AfterEach
    void restore() {
        BufferPlanner.setEnabled(true);
    }

    record Outcome(List<double[]> metrics, Map<String, float[]> weights, byte[] checkpoint) {}

    static Outcome run(Path dir, String method, boolean plan, Recompute recompute) throws Exception {
        BufferPlanner.setEnabled(plan);
        TrainConfig cfg = TrainerTest.config(method, 7, 3);
        List<double[]> metrics = new ArrayList<>();
        try (Trainer t = new Trainer(cfg, TrainerTest.MODEL, TrainerTest.data(30), dir, TrainerTest.CPU, new Trainer.Listener() {
            @Override public void onStep(Trainer.StepLog l) {
                metrics.add(new double[]{l.step(), l.loss(), l.lossV(), l.lossAlign(), l.lambda(), l.gradNorm()});
            }
        })) {
            t.recompute(recompute).startFresh().run(7);
            Path ckpt = t.saveCheckpoint();
            return new Outcome(metrics, TrainerTest.snapshot(t), Files.readAllBytes(ckpt));
        }
    }

    @Test
    void metricsWeightsAndCheckpointsAreBitIdentical(@TempDir Path dir) throws Exception {
        for (String method : List.of("erw", "repa")) {
            Outcome control = run(dir.resolve(method + "-off-none"), method, false, Recompute.NONE);
            assertEquals(7, control.metrics().size());
            for (boolean plan : new boolean[]{true, false}) {
                for (Recompute r : Recompute.values()) {
                    if (!plan && r == Recompute.NONE) continue;
                    String what = method + (plan ? " planned" : " private") + ", recompute " + r.id();
                    Outcome o = run(dir.resolve(method + "-" + plan + "-" + r.id()), method, plan, r);
                    for (int i = 0; i < control.metrics().size(); i++) assertArrayEquals(control.metrics().get(i), o.metrics().get(i), what + " step " + (i + 1));
                    for (String n : control.weights().keySet()) assertArrayEquals(control.weights().get(n), o.weights().get(n), what + " " + n);
                    assertArrayEquals(control.checkpoint(), o.checkpoint(), what + ": checkpoint bytes");
                }
            }
        }
    }

    @Test
    void recomputeBlocksPlansLessThanKeepingThem() {
        TrainConfig cfg = TrainerTest.config("erw", 7, 3);
        long keep = PhaseProgram.plannedMemory(TrainerTest.MODEL, Phase.FULL, cfg, 6, true, Recompute.NONE).activations().activationBytes();
        long replay = PhaseProgram.plannedMemory(TrainerTest.MODEL, Phase.FULL, cfg, 6, true, Recompute.BLOCKS).activations().activationBytes();
        assertTrue(replay < 0.7 * keep, "recompute " + replay + " vs " + keep);
    }
}
