package erw.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.cpu.CpuBackend;
import erw.engine.host.Philox;
import erw.engine.ops.AdamW;
import erw.engine.ops.Randn;
import erw.engine.ops.ZeroGrad;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The buffer planner against its control: every tensor in its own array (planner off). */
class BufferPlannerTest {
    static final CpuBackend CPU = new CpuBackend(2);

    @AfterAll
    static void close() {
        CPU.close();
    }

    @AfterEach
    void restore() {
        BufferPlanner.setEnabled(true);
    }

    /** A residual MLP of three blocks, each a recompute segment, trained with AdamW. */
    static final class Net {
        final Tensor x = Tensor.input("x", 8, 16), target = Tensor.input("target", 8, 16), cond = Tensor.input("cond", 2, 8);
        final List<Tensor> params = new ArrayList<>();
        final Graph fwd = new Graph("fwd");
        final Tensor loss;
        final List<Tensor> hidden = new ArrayList<>();

        Net() {
            Tensor h = x;
            for (int b = 0; b < 3; b++) {
                Tensor w1 = param("b" + b + ".w1", 32, 16), w2 = param("b" + b + ".w2", 16, 32), bias = param("b" + b + ".bias", 32);
                fwd.beginSegment("b" + b);
                Tensor wqkv = param("b" + b + ".qkv", 48, 16);
                // adaLN: shift, scale and gate per sample from the conditioning (chunks of an activation, as in SiT)
                List<Tensor> ada = fwd.chunk("b" + b + ".ada_chunk", fwd.linear("b" + b + ".ada", cond, param("b" + b + ".ada.w", 48, 8), null), 3);
                Tensor shift = ada.get(0), scale = ada.get(1);
                Tensor normed = fwd.modulate("b" + b + ".modulate", fwd.layerNorm("b" + b + ".norm", h, null, null, 1e-6f), shift, scale);
                // attention over 2 samples of 4 tokens, 2 heads: its input gradient is written whole too
                Tensor att = fwd.attention("b" + b + ".attn", fwd.linear("b" + b + ".qkv", normed, wqkv, null), 2, 2);
                Tensor u = fwd.gelu("b" + b + ".act", fwd.linear("b" + b + ".fc1", fwd.add("b" + b + ".mix", normed, att), w1, bias));
                Tensor v = fwd.linear("b" + b + ".fc2", u, w2, null);
                Tensor gate = ada.get(2);
                h = fwd.gatedResidual("b" + b + ".residual", h, gate, fwd.silu("b" + b + ".silu", v));
                fwd.endSegment();
                hidden.add(h);
            }
            loss = fwd.mse("loss", h, target);
            float[] xs = new float[x.size()], ts = new float[target.size()];
            Philox.normal(5, 1, 0, xs, 0, xs.length);
            Philox.normal(5, 2, 0, ts, 0, ts.length);
            float[] cs = new float[cond.size()];
            Philox.normal(5, 3, 0, cs, 0, cs.length);
            cond.copyFrom(cs);
            x.copyFrom(xs);
            target.copyFrom(ts);
        }

        private Tensor param(String name, int... shape) {
            Tensor p = Tensor.param(name, shape);
            float[] v = new float[p.size()];
            Philox.normal(7, params.size(), 0, v, 0, v.length);
            for (int i = 0; i < v.length; i++) v[i] *= 0.3f;
            p.copyFrom(v);
            params.add(p);
            return p;
        }

        List<Graph> step(boolean recompute) {
            Graph bwd = fwd.backward(loss, recompute).readBack();
            Graph opt = new Graph("opt");
            opt.add(new AdamW("adamw", params, Tensor.scalar("lr", 1e-2f), Tensor.scalar("step", 1), 0.9f, 0.999f, 1e-8f, 0f));
            opt.add(new ZeroGrad("zero", params));
            return List.of(fwd.readBack(loss), bwd, opt.readBack());
        }

        /** Losses of {@code steps} steps, then every parameter appended. */
        float[] train(boolean recompute, int steps) {
            return train(step(recompute), steps);
        }

        /** The step with every first write turned back into a zeroing and an accumulation (the control). */
        List<Graph> stepWithoutFirstWrites() {
            Graph bwd = fwd.backward(loss, false), control = new Graph("bwd-control");
            for (Op op : bwd.ops()) {
                if (op instanceof Graph.BackwardOf b && !b.overwrite().isEmpty()) {
                    control.add(new ZeroGrad(b.name() + ".zero", b.overwrite()));
                    control.add(new Graph.BackwardOf(b.forward()));
                } else {
                    control.add(op);
                }
            }
            List<Graph> step = new ArrayList<>(step(false));
            step.set(1, control.readBack());
            return step;
        }

        float[] train(List<Graph> graphs, int steps) {
            List<Plan> plans = CPU.compileCycle("step", graphs);
            List<Float> out = new ArrayList<>();
            for (int s = 0; s < steps; s++) {
                for (Plan p : plans) p.run();
                out.add(loss.item());
            }
            for (Tensor p : params) for (float f : p.data()) out.add(f);
            float[] r = new float[out.size()];
            for (int i = 0; i < r.length; i++) r[i] = out.get(i);
            return r;
        }
    }

    /** A matmul's operand gradient is written whole by its first writer instead of zeroed and accumulated: same bits. */
    @Test
    void firstWritesReplaceZeroingWithTheSameBits() {
        Net net = new Net();
        Graph bwd = net.fwd.backward(net.loss, false);
        List<Tensor> written = new ArrayList<>(), zeroed = new ArrayList<>();
        for (Op op : bwd.ops()) {
            if (op instanceof Graph.BackwardOf b) written.addAll(b.overwrite());
            if (op instanceof ZeroGrad z) zeroed.addAll(z.tensors());
        }
        // per block: the inputs of fc2 (the GELU output), fc1 (the mix) and the attention (the qkv projection),
        // the GELU's and SiLU's inputs (fc1's and fc2's outputs), the gated residual's h (the SiLU output); in
        // blocks 1 and 2 (block 0 starts from the input x, needing no gradient) also the gated residual's x (the
        // block's input) and the modulation's x (the LayerNorm output): 22 gradients; and in every block the adaLN
        // chunks' (shift, scale: sums over tokens in the modulation; gate: in the gated residual): 31. The modulation's
        // output feeds the mix (an add, which accumulates) and the qkv projection, so it is zeroed.
        assertEquals(31, written.size(), written.toString());
        for (Tensor t : written) assertTrue(zeroed.stream().noneMatch(z -> z == t), t + " is written whole and zeroed as well");
        Net c = new Net();
        float[] control = c.train(c.stepWithoutFirstWrites(), 3);
        assertArrayEquals(control, new Net().train(false, 3));
        BufferPlanner.setEnabled(false);
        assertArrayEquals(control, new Net().train(false, 3), "planner off");
    }

    @Test
    void sharedArraysTrainBitIdenticallyToPrivateOnes() {
        BufferPlanner.setEnabled(false);
        float[] control = new Net().train(false, 4);
        BufferPlanner.setEnabled(true);
        Net planned = new Net();
        float[] shared = planned.train(false, 4);
        assertArrayEquals(control, shared);
        // the gradients of the late blocks reuse arrays of activations backward has finished with
        BufferPlanner.Summary s = BufferPlanner.analyze("again", new Net().step(false));
        assertTrue(s.sharedArrays() > 0 && s.sharedTensors() > s.sharedArrays(), s.describe());
        assertTrue(s.activationBytes() < s.unsharedBytes(), s.describe());
    }

    @Test
    void recomputationIsBitIdenticalAndPlansLessMemory() {
        BufferPlanner.setEnabled(false);
        float[] control = new Net().train(false, 4);
        BufferPlanner.setEnabled(true);
        assertArrayEquals(control, new Net().train(true, 4));
        BufferPlanner.setEnabled(false);
        assertArrayEquals(control, new Net().train(true, 4), "replaying the segments with private arrays");
        BufferPlanner.setEnabled(true);
        long keep = BufferPlanner.analyze("keep", new Net().step(false)).activationBytes();
        long replay = BufferPlanner.analyze("replay", new Net().step(true)).activationBytes();
        assertTrue(replay < keep, "recompute plans " + replay + " bytes, keeping " + keep);
    }

    @Test
    void replayedSegmentsRunBeforeTheirGradients() {
        Net n = new Net();
        Graph bwd = n.fwd.backward(n.loss, true);
        List<String> names = bwd.ops().stream().map(Op::name).toList();
        // block 2's forward is replayed first (the last block's gradients come first), block 0's last
        int replay2 = names.indexOf("b2.norm"), replay0 = names.indexOf("b0.norm"), grad2 = names.indexOf("b2.norm.backward");
        assertTrue(replay2 >= 0 && replay2 < grad2 && grad2 < replay0, names.toString());
        assertEquals(n.fwd.backward(n.loss, false).ops().size() + 3 * 12, names.size(), "every segment's 12 ops replayed once: " + names);
    }

    @Test
    void readBackTensorsKeepTheirOwnArrays() {
        Net n = new Net();
        List<Graph> step = n.step(false);
        step.get(0).readBack(n.loss, n.hidden.get(0));
        List<Plan> plans = CPU.compileCycle("step", step);
        for (Plan p : plans) p.run();
        float[] h0 = n.hidden.get(0).toArray();
        BufferPlanner.setEnabled(false);
        Net control = new Net();
        List<Plan> cp = CPU.compileCycle("control", control.step(false));
        for (Plan p : cp) p.run();
        assertArrayEquals(control.hidden.get(0).toArray(), h0, "the declared tensor survives the rest of the cycle");
        assertNotSame(n.hidden.get(0).data(), n.hidden.get(1).data());
    }

    @Test
    void aLaterPlanThatWouldBreakTheSharingIsRefused() {
        Net n = new Net();
        List<Graph> step = n.step(false);
        CPU.compileCycle("step", step);
        // the forward alone, reading back an intermediate the cycle shares with a later tensor
        Graph again = new Graph("eval").append(n.fwd).readBack(n.hidden.get(0), n.loss);
        EngineException e = assertThrows(EngineException.class, () -> CPU.compile(again));
        assertTrue(e.getMessage().contains("'step'") && e.getMessage().contains("at once"), e.getMessage());
        // a plan reading a shared tensor it does not compute
        Graph reader = new Graph("reader").readBack();
        reader.mean("m", n.hidden.get(1));
        EngineException r = assertThrows(EngineException.class, () -> CPU.compile(reader));
        assertTrue(r.getMessage().contains("reads 'b1.residual' before writing it"), r.getMessage());
    }

    @Test
    void inferenceGraphsShareAloneAndOffMeansPrivate() {
        Tensor x = Tensor.input("x", 4, 8);
        Graph g = Graph.inference("infer");
        Tensor a = g.silu("a", x), b = g.silu("b", a), c = g.silu("c", b), d = g.mean("d", c);
        g.readBack(d);
        CPU.compile(g);
        assertSame(a.data(), c.data(), "a is dead when c is written");
        assertNotSame(a.data(), b.data());
        BufferPlanner.setEnabled(false);
        Graph h = Graph.inference("private");
        Tensor p = h.silu("p", x), q = h.silu("q", p), r = h.silu("r", q);
        h.readBack(h.mean("s", r));
        CPU.compile(h);
        assertNotSame(p.data(), r.data());
    }

    @Test
    void aSegmentThatDrawsNoiseCannotBeReplayed() {
        Graph g = new Graph("noisy");
        Tensor w = Tensor.param("w", 4, 4);
        Tensor noise = Tensor.create("noise", Tensor.Kind.ACTIVATION, false, 2, 4);
        g.beginSegment("s");
        g.add(new Randn("draw", noise, 1, 1, Tensor.scalar("counter", 0), 0));
        Tensor y = g.linear("lin", noise, w, null);
        g.endSegment();
        Tensor loss = g.mean("loss", y);
        EngineException e = assertThrows(EngineException.class, () -> g.backward(loss, true));
        assertTrue(e.getMessage().contains("segment 's' draws noise"), e.getMessage());
        g.backward(loss, false); // without recomputation it is fine
    }
}
