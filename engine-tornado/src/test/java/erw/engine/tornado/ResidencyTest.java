package erw.engine.tornado;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.Backend;
import erw.engine.EngineException;
import erw.engine.Graph;
import erw.engine.Plan;
import erw.engine.Tensor;
import erw.engine.cpu.CpuBackend;
import erw.engine.ops.AdamW;
import erw.engine.ops.ZeroGrad;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Device residency of a training cycle (a two-layer MLP: forward, backward, AdamW): weights,
 * gradients and moments stay on the device between rounds, only inputs, scalars and the loss cross;
 * syncToHost and syncToDevice (a resume) agree with the CPU backend.
 */
class ResidencyTest {
    private static final int ROWS = 8, IN = 16, HIDDEN = 32, OUT = 4;

    /** The MLP's tensors and its cycle on one backend. */
    private static final class Mlp implements AutoCloseable {
        final Tensor x = Tensor.input("x", ROWS, IN), target = Tensor.input("target", ROWS, OUT);
        final Tensor w1 = Tensor.param("w1", HIDDEN, IN), b1 = Tensor.param("b1", HIDDEN);
        final Tensor w2 = Tensor.param("w2", OUT, HIDDEN), b2 = Tensor.param("b2", OUT);
        final Tensor lr = Tensor.scalar("lr", 1e-2f), step = Tensor.scalar("step", 0);
        final Tensor loss, hidden;
        final AdamW adam;
        final List<Plan> plans;

        Mlp(Backend backend) {
            SplittableRandom r = new SplittableRandom(42);
            for (Tensor p : params()) for (int i = 0; i < p.size(); i++) p.data()[i] = (float) ((r.nextDouble() * 2 - 1) * 0.3);
            Graph fwd = new Graph("mlp");
            hidden = fwd.silu("act", fwd.linear("l1", x, w1, b1));
            loss = fwd.mse("loss", fwd.linear("l2", hidden, w2, b2), target);
            Graph bwd = fwd.backward(loss);
            Graph opt = new Graph("mlp.optimizer");
            adam = opt.add(new AdamW("adamw", params(), lr, step, 0.9f, 0.999f, 1e-8f, 0.01f));
            opt.add(new ZeroGrad("zero", params()));
            plans = backend.compileCycle("mlp.step", List.of(fwd.readBack(loss), bwd.readBack(), opt.readBack()));
        }

        List<Tensor> params() {
            return List.of(w1, b1, w2, b2);
        }

        List<Tensor> state() {
            List<Tensor> s = new ArrayList<>(params());
            s.addAll(adam.firstMoments());
            s.addAll(adam.secondMoments());
            return s;
        }

        /** One training step on a batch drawn from the seed; returns the loss. */
        float step(long seed, int n) {
            SplittableRandom r = new SplittableRandom(seed);
            for (int i = 0; i < x.size(); i++) x.data()[i] = (float) (r.nextDouble() * 2 - 1);
            for (int i = 0; i < target.size(); i++) target.data()[i] = (float) (r.nextDouble() * 2 - 1);
            step.set(n);
            plans.get(0).run();
            float l = loss.item();
            plans.get(1).run();
            plans.get(2).run();
            return l;
        }

        @Override
        public void close() {
            for (Plan p : plans) p.close();
        }
    }

    private static List<float[]> copies(List<Tensor> ts) {
        List<float[]> out = new ArrayList<>();
        for (Tensor t : ts) out.add(t.toArray());
        return out;
    }

    @Test
    void weightsAndMomentsStayOnTheDeviceAndMatchTheCpuWhenSynced() {
        TornadoBackend tv = Parity.tornado();
        List<Float> cpuLoss = new ArrayList<>(), tvLoss = new ArrayList<>();
        List<float[]> cpuState;
        try (CpuBackend c = new CpuBackend(1); Mlp m = new Mlp(c)) {
            for (int s = 1; s <= 4; s++) cpuLoss.add(m.step(s, s));
            cpuState = copies(m.state());
        }
        try (Mlp m = new Mlp(tv)) {
            List<float[]> initial = copies(m.params());
            for (int s = 1; s <= 4; s++) tvLoss.add(m.step(s, s));
            // activations and their gradients never cross: no heap array (on a GPU they take device memory only)
            assertEquals(null, m.hidden.storage(false).arrayIfMade(), "host array of the hidden activation");
            assertEquals(null, m.hidden.storage(true).arrayIfMade(), "host array of the hidden activation's gradient");
            // the host's weights are those of before training until synced: they never crossed
            for (int k = 0; k < initial.size(); k++) assertArrayEquals(initial.get(k), m.params().get(k).data(), "host copy of " + m.params().get(k).name());
            TornadoCycle cycle = ((TornadoPlan) m.plans.get(0)).cycle();
            long[] n = cycle.counters();
            assertEquals(4, n[1], "rounds");
            tv.syncToHost(m.state());
            Parity.compare("MLP weights and AdamW moments after 4 steps", null, cpuState, copies(m.state()), 1e-4, 1e-6);
            String summary = cycle.summary();
            assertTrue(summary.contains("per round"), summary);
        }
        for (int s = 0; s < cpuLoss.size(); s++) assertEquals(cpuLoss.get(s), tvLoss.get(s), 1e-5 + 1e-4 * Math.abs(cpuLoss.get(s)), "loss of step " + (s + 1));
    }

    @Test
    void perRoundTransfersAreOnlyInputsScalarsAndTheLoss() {
        TornadoBackend tv = Parity.tornado();
        try (Mlp m = new Mlp(tv)) {
            List<java.util.Set<Tensor.Storage>> io = ((TornadoPlan) m.plans.get(0)).cycle().perRoundStorages();
            java.util.Set<Tensor.Storage> expectedIn = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
            for (Tensor t : List.of(m.x, m.target, m.lr, m.step)) expectedIn.add(t.storage(false));
            assertEquals(expectedIn, io.get(0), "host-to-device each round: x, target, lr, step");
            assertEquals(1, io.get(1).size(), "device-to-host each round: the loss");
            assertTrue(io.get(1).contains(m.loss.storage(false)), "device-to-host each round: the loss");
        }
    }

    @Test
    void graphsOfACycleRunInOrder() {
        TornadoBackend tv = Parity.tornado();
        try (Mlp m = new Mlp(tv)) {
            EngineException e = assertThrows(EngineException.class, () -> m.plans.get(2).run());
            assertTrue(e.getMessage().contains("must run in the order"), e.getMessage());
            assertTrue(e.getMessage().contains("'mlp.optimizer' ran when 'mlp' was due"), e.getMessage());
        }
    }

    /** A resume: the host restores weights and moments after the device has run; the next steps start from them. */
    @Test
    void syncToDeviceAfterRunsRestoresHostState() {
        TornadoBackend tv = Parity.tornado();
        List<float[]> saved, cpuAfter, tvAfter;
        List<Float> cpuLoss = new ArrayList<>(), tvLoss = new ArrayList<>();
        try (CpuBackend c = new CpuBackend(1); Mlp m = new Mlp(c)) {
            m.step(1, 1);
            m.step(2, 2);
            saved = copies(m.state());
            cpuLoss.add(m.step(3, 3));
            cpuLoss.add(m.step(4, 4));
            cpuAfter = copies(m.state());
        }
        try (Mlp m = new Mlp(tv)) {
            for (int s = 1; s <= 5; s++) m.step(100 + s, s); // diverge first, on the device
            List<Tensor> state = m.state();
            for (int k = 0; k < state.size(); k++) System.arraycopy(saved.get(k), 0, state.get(k).data(), 0, saved.get(k).length);
            tv.syncToDevice(state);
            tvLoss.add(m.step(3, 3));
            tvLoss.add(m.step(4, 4));
            tv.syncToHost(state);
            tvAfter = copies(state);
        }
        for (int s = 0; s < cpuLoss.size(); s++) assertEquals(cpuLoss.get(s), tvLoss.get(s), 1e-5 + 1e-4 * Math.abs(cpuLoss.get(s)), "loss after resume, step " + (s + 3));
        Parity.compare("MLP state two steps after a resume", null, cpuAfter, tvAfter, 1e-4, 1e-6);
        assertFalse(cpuAfter.isEmpty());
    }
}
