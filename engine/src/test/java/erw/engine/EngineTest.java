package erw.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.cpu.CpuBackend;
import erw.engine.host.Philox;
import erw.engine.ops.AdamW;
import erw.engine.ops.ClipGradNorm;
import erw.engine.ops.EmaUpdate;
import erw.engine.ops.Randn;
import erw.engine.ops.ZeroGrad;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Determinism, the RNG, the optimizer ops and the errors of the engine. */
class EngineTest {

    /** A transformer-block-shaped graph with parameters, so determinism covers every kernel family. */
    private static float[][] runBlock(int threads) {
        return runBlock(threads, Precision.FP32);
    }

    private static float[][] runBlock(int threads, Precision precision) {
        try (CpuBackend cpu = new CpuBackend(threads)) {
            int n = 4, t = 16, d = 32;
            Tensor x = Tensor.input("x", n, t, d);
            GradCheck.fill(x, 1, 1f);
            Tensor wqkv = Tensor.param("wqkv", 3 * d, d), wo = Tensor.param("wo", d, d), c = Tensor.param("c", n, 2 * d);
            GradCheck.fill(wqkv, 2, 0.2f);
            GradCheck.fill(wo, 3, 0.2f);
            GradCheck.fill(c, 4, 0.5f);
            Graph g = new Graph("block").precision(precision);
            List<Tensor> mod = g.chunk("mod", g.silu("act", c), 2);
            Tensor h = g.modulate("m", g.layerNorm("ln", x, null, null, 1e-6f), mod.get(0), mod.get(1));
            Tensor a = g.linear("proj", g.attention("attn", g.linear("qkv", h, wqkv, null), n, 4), wo, null);
            Tensor y = g.gatedResidual("res", x, mod.get(1), g.gelu("gelu", a));
            Tensor target = Tensor.input("target", n, t, d);
            GradCheck.fill(target, 5, 1f);
            Tensor loss = g.mse("loss", y, target);
            Graph bwd = g.backward(loss);
            Tensor norm = Tensor.scalar("norm", 0);
            Graph opt = new Graph("opt");
            List<Tensor> params = List.of(wqkv, wo, c);
            opt.add(new ClipGradNorm("clip", params, 1.0f, norm));
            opt.add(new AdamW("adamw", params, Tensor.scalar("lr", 1e-2f), Tensor.scalar("step", 1), 0.9f, 0.999f, 1e-8f, 0f));
            opt.add(new ZeroGrad("zero", params));
            Plan pf = cpu.compile(g), pb = cpu.compile(bwd), po = cpu.compile(opt);
            for (int step = 0; step < 3; step++) {
                pf.run();
                pb.run();
                po.run();
            }
            pf.run();
            return new float[][]{loss.toArray(), wqkv.toArray(), wo.toArray(), c.toArray(), norm.toArray()};
        }
    }

    /**
     * The block in TF32 and BF16 (every matmul and the attention, forward and backward): deterministic like fp32,
     * different from it, and within the formats' precision of it after three optimizer steps: the loss within
     * 1e-3 relative (TF32) and 1e-2 (BF16), the weights within 1e-3 and 1e-2 of their norm.
     */
    @Test
    void reducedPrecisionBlockIsDeterministicAndNearFp32() {
        float[][] ref = runBlock(2);
        for (Precision pr : new Precision[] {Precision.TF32, Precision.BF16}) {
            float[][] one = runBlock(1, pr), two = runBlock(2, pr);
            double tol = pr == Precision.TF32 ? 1e-3 : 1e-2;
            for (int i = 0; i < one.length; i++) assertArrayEquals(one[i], two[i], pr + " 1 vs 2 threads, tensor " + i);
            assertNotEquals(ref[0][0], one[0][0], pr + " loss equals fp32's");
            assertEquals(ref[0][0], one[0][0], tol * Math.abs(ref[0][0]), pr + " loss");
            for (int i = 1; i <= 3; i++) {
                double diff = 0, norm = 0;
                for (int j = 0; j < ref[i].length; j++) {
                    diff += (one[i][j] - ref[i][j]) * (double) (one[i][j] - ref[i][j]);
                    norm += ref[i][j] * (double) ref[i][j];
                }
                assertTrue(Math.sqrt(diff / norm) < tol, pr + " tensor " + i + ": relative difference " + Math.sqrt(diff / norm));
            }
        }
    }

    /** A BF16 matmul's gradients are the fp32 products of the rounded output gradient and rounded operands, exactly. */
    @Test
    void bf16MatmulGradientsRoundTheirOperands() {
        try (CpuBackend cpu = new CpuBackend(2)) {
            int m = 37, k = 29, n = 23;
            Tensor x = Tensor.param("x", m, k), w = Tensor.param("w", n, k), target = Tensor.input("target", m, n);
            GradCheck.fill(x, 1, 1f);
            GradCheck.fill(w, 2, 1f);
            GradCheck.fill(target, 3, 1f);
            Graph g = new Graph("lin").precision(Precision.BF16);
            Tensor y = g.linear("lin", x, w, null);
            Tensor loss = g.mse("loss", y, target);
            Plan f = cpu.compile(g), b = cpu.compile(g.backward(loss));
            f.run();
            b.run();
            float[] xr = x.toArray(), wr = w.toArray(), dy = y.grad().clone();
            for (float[] v : List.of(xr, wr, dy)) for (int i = 0; i < v.length; i++) v[i] = Precision.BF16.round(v[i]);
            float[] yWant = new float[m * n], dxWant = new float[m * k], dwWant = new float[n * k];
            try (var pool = new erw.engine.host.WorkerPool(1)) {
                erw.engine.cpu.Sgemm.gemm(pool, false, true, m, n, k, xr, 0, wr, 0, yWant, 0, false);
                erw.engine.cpu.Sgemm.gemm(pool, false, false, m, k, n, dy, 0, wr, 0, dxWant, 0, false);
                erw.engine.cpu.Sgemm.gemm(pool, true, false, n, k, m, dy, 0, xr, 0, dwWant, 0, false);
            }
            assertArrayEquals(yWant, y.toArray(), "y");
            assertArrayEquals(dxWant, x.grad(), "dx");
            assertArrayEquals(dwWant, w.grad(), "dw");
        }
    }

    @Test
    void sameGraphSameResultsAcrossRunsAndThreadCounts() {
        float[][] one = runBlock(1), two = runBlock(2), twoAgain = runBlock(2);
        for (int i = 0; i < one.length; i++) {
            assertArrayEquals(one[i], two[i], "1 vs 2 threads, tensor " + i);
            assertArrayEquals(two[i], twoAgain[i], "run vs rerun, tensor " + i);
        }
    }

    @Test
    void philoxKnownAnswers() {
        // Random123's published known-answer vectors for philox4x32-10
        int[] out = new int[4];
        Philox.block(0L, 0L, 0L, out);
        assertArrayEquals(new int[]{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}, out);
        Philox.block(-1L, -1L, -1L, out);
        assertArrayEquals(new int[]{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}, out);
    }

    @Test
    void normalsAreStandardAndKeyed() {
        int n = 200_000;
        float[] a = new float[n], b = new float[n], c = new float[n];
        Philox.normal(42, 1, 0, a, 0, n);
        try (CpuBackend cpu = new CpuBackend(2)) {
            Philox.normal(cpu.pool(), 42, 1, 0, b, 0, n);
        }
        assertArrayEquals(a, b, "parallel draw equals serial draw");
        Philox.normal(42, 2, 0, c, 0, n);
        assertNotEquals(a[0], c[0], "another stream gives other numbers");
        double s = 0, s2 = 0;
        for (float v : a) { s += v; s2 += v * v; }
        assertEquals(0, s / n, 0.01);
        assertEquals(1, s2 / n, 0.01);
    }

    @Test
    void randnOpDependsOnCounterOnly() {
        try (CpuBackend cpu = new CpuBackend(2)) {
            Tensor out = Tensor.state("e", 1000), step = Tensor.scalar("step", 3);
            Graph g = new Graph("noise");
            g.add(new Randn("randn", out, 7, 11, step));
            Plan p = cpu.compile(g);
            p.run();
            float[] first = out.toArray();
            step.set(4);
            p.run();
            assertNotEquals(first[0], out.data()[0]);
            step.set(3);
            p.run();
            assertArrayEquals(first, out.toArray());
        }
    }

    @Test
    void randnWithAnOffsetDrawsTheSliceOfTheWholeStream() {
        // a data-parallel rank's noise: elements [offset, offset + n) of what one process draws for the whole batch
        try (CpuBackend cpu = new CpuBackend(2)) {
            Tensor whole = Tensor.state("whole", 1000), slice = Tensor.state("slice", 500), step = Tensor.scalar("step", 9);
            Graph g = new Graph("noise");
            g.add(new Randn("all", whole, 7, 11, step));
            g.add(new Randn("rank1", slice, 7, 11, step, 500));
            cpu.compile(g).run();
            assertArrayEquals(java.util.Arrays.copyOfRange(whole.data(), 500, 1000), slice.toArray());
            assertThrows(RuntimeException.class, () -> new Randn("bad", slice, 7, 11, step, 6));
        }
    }

    @Test
    void adamwClipAndEmaMatchTheirFormulas() {
        try (CpuBackend cpu = new CpuBackend(1)) {
            Tensor p = Tensor.param("p", 3);
            p.copyFrom(new float[]{1f, -2f, 0.5f});
            float[] grad = {3f, 4f, 0f};
            Tensor lr = Tensor.scalar("lr", 0.1f), step = Tensor.scalar("step", 1), norm = Tensor.scalar("norm", 0);
            Tensor ema = Tensor.state("ema", 3), decay = Tensor.scalar("decay", 0.9f);
            ema.copyFrom(p.toArray());
            Graph g = new Graph("opt");
            g.add(new ClipGradNorm("clip", List.of(p), 1f, norm));
            AdamW adam = g.add(new AdamW("adamw", List.of(p), lr, step, 0.9f, 0.999f, 1e-8f, 0.01f));
            g.add(new EmaUpdate("ema", List.of(p), List.of(ema), decay));
            System.arraycopy(grad, 0, p.grad(), 0, 3);
            float[] before = p.toArray();
            cpu.compile(g).run();
            assertEquals(5f, norm.item(), 1e-6f, "pre-clip norm");
            double coef = 1.0 / (5 + 1e-6);
            for (int i = 0; i < 3; i++) {
                double gi = grad[i] * coef;
                double m = 0.1 * gi, v = 0.001 * gi * gi;
                double mh = m / 0.1, vh = v / 0.001;
                double expect = before[i] * (1 - 0.1 * 0.01) - 0.1 * mh / (Math.sqrt(vh) + 1e-8);
                assertEquals(expect, p.data()[i], 1e-5, "adamw p[" + i + "]");
                assertEquals(m, adam.firstMoments().get(0).data()[i], 1e-6);
                assertEquals(0.9 * before[i] + 0.1 * p.data()[i], ema.data()[i], 1e-6, "ema[" + i + "]");
            }
        }
    }

    @Test
    void recordingAShapeMismatchNamesTheOpAndShapes() {
        Graph g = new Graph("g");
        Tensor x = Tensor.input("x", 4, 8), w = Tensor.param("blocks.0.attn.qkv.weight", 24, 7);
        EngineException e = assertThrows(EngineException.class, () -> g.linear("blocks.0.attn.qkv", x, w, null));
        assertTrue(e.getMessage().contains("blocks.0.attn.qkv") && e.getMessage().contains("[4, 8]") && e.getMessage().contains("[24, 7]"), e.getMessage());
        EngineException m = assertThrows(EngineException.class, () -> g.modulate("mod", x, Tensor.input("shift", 3, 8), Tensor.input("scale", 3, 8)));
        assertTrue(m.getMessage().contains("modulate 'mod'"), m.getMessage());
        assertThrows(EngineException.class, () -> g.attention("attn", Tensor.input("qkv", 4, 10), 1, 2));
    }

    @Test
    void aBufferOfTheWrongSizeIsRefused() {
        Tensor x = Tensor.input("batch.x", 2, 3);
        EngineException e = assertThrows(EngineException.class, () -> x.copyFrom(new float[5]));
        assertTrue(e.getMessage().contains("batch.x") && e.getMessage().contains("[2, 3]") && e.getMessage().contains("5"), e.getMessage());
    }

    @Test
    void aClosedPlanRefusesToRun() {
        try (CpuBackend cpu = new CpuBackend(1)) {
            Graph g = new Graph("train_step");
            g.silu("act", Tensor.input("x", 2));
            Plan p = cpu.compile(g);
            p.run();
            p.close();
            EngineException e = assertThrows(EngineException.class, p::run);
            assertTrue(e.getMessage().contains("train_step"), e.getMessage());
        }
    }

    @Test
    void embeddingIndexOutOfRangeIsNamed() {
        try (CpuBackend cpu = new CpuBackend(1)) {
            Graph g = new Graph("g");
            Tensor idx = Tensor.input("y", 2);
            idx.copyFrom(new float[]{1, 11});
            g.embedding("y_embedder", Tensor.param("table", 11, 4), idx);
            EngineException e = assertThrows(EngineException.class, () -> cpu.compile(g).run());
            assertTrue(e.getMessage().contains("y_embedder") && e.getMessage().contains("11"), e.getMessage());
        }
    }

    @Test
    void backwardNeedsAScalarLossFromTheGraph() {
        Graph g = new Graph("g");
        Tensor x = Tensor.inputWithGrad("x", 3);
        Tensor y = g.silu("act", x);
        assertThrows(EngineException.class, () -> g.backward(y));
        assertThrows(EngineException.class, () -> g.backward(Tensor.scalar("other", 1)));
    }

    @Test
    void parameterGradientsAccumulateAcrossBackwardRuns() {
        try (CpuBackend cpu = new CpuBackend(1)) {
            Tensor w = Tensor.param("w", 2);
            w.copyFrom(new float[]{1, 2});
            Graph g = new Graph("g");
            Tensor loss = g.sum("s", g.scale("sc", w, 3f));
            Plan f = cpu.compile(g), b = cpu.compile(g.backward(loss));
            f.run();
            b.run();
            b.run();
            assertArrayEquals(new float[]{6, 6}, w.grad());
        }
    }

    @Test
    void resultsDoNotChangeWhenTheJitCompilesTheKernels() {
        // the same plan run many times (interpreted, then C1, then C2 code) gives the same bits
        try (CpuBackend cpu = new CpuBackend(2)) {
            Tensor x = Tensor.input("x", 64, 48);
            GradCheck.fill(x, 3, 2f);
            Graph g = Graph.inference("jit");
            Tensor y = g.gelu("gelu", g.silu("silu", x));
            Tensor a = g.attention("attn", g.concat("qkv", List.of(y, x, y)), 4, 2);
            Tensor s = g.softmax("sm", a);
            Plan p = cpu.compile(g);
            p.run();
            float[] first = s.toArray();
            for (int i = 0; i < 3000; i++) {
                p.run();
                if (i % 500 == 0) assertArrayEquals(first, s.toArray(), "run " + i);
            }
            assertArrayEquals(first, s.toArray());
        }
    }
}
