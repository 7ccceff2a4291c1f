package erw.sampler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.Graph;
import erw.engine.Plan;
import erw.engine.Tensor;
import erw.engine.cpu.CpuBackend;
import erw.engine.host.Philox;
import erw.model.SiT;
import erw.model.SiTConfig;
import java.util.Arrays;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The graph-based sampler on a tiny SiT. */
class SiTSamplerTest {
    static final SiTConfig TINY = new SiTConfig(2, 32, 2, 2, 8, 1, 3, 1, 16, 8, 4.0, false, false, 0);

    /** A tiny SiT with every parameter random (the zero-initialized final layer would give v = 0). */
    static SiT randomTiny() {
        SiT m = new SiT(TINY).initialize(0);
        int stream = 1000;
        for (Tensor p : m.parameters().trainable()) {
            float[] v = p.data();
            float[] r = new float[v.length];
            Philox.normal(7, stream++, 0, r, 0, r.length);
            for (int i = 0; i < v.length; i++) v[i] += 0.2f * r[i];
        }
        return m;
    }

    @Test
    void tinySiTSamplesEndToEnd() {
        SiT model = randomTiny();
        CpuBackend backend = new CpuBackend();
        float[] labels = {0, 1, 2, 1};
        int n = labels.length;
        for (SamplerKind kind : SamplerKind.values()) {
            try (SiTVelocity field = new SiTVelocity(model, backend)) {
                assertEquals(64, field.sampleSize());
                assertEquals(3, field.nullClass());
                Sampler s = new Sampler(field, field.sampleSize(), Sampler.Options.of(kind, 6, 1).withCfg(1.5, 0, 0.5), backend.pool());
                float[] x = new float[n * 64];
                Sampler.initialNoise(1, 0, n, 64, x, null);
                float[] init = x.clone();
                Sampler.Stats st = s.sample(x, labels, 0, null);
                for (float v : x) assertTrue(Float.isFinite(v), kind + ": finite samples");
                assertFalse(Arrays.equals(init, x), kind + ": the model moved the state");
                assertEquals(Sampler.fieldCalls(kind, 6), field.runs(), kind + ": one graph run per evaluation");
                assertEquals(st.rowsEvaluated(), field.rowsEvaluated());
                assertEquals(Set.of(n, 2 * n), field.recordedBatchSizes(), kind + ": one graph per batch size (N outside the interval, 2N inside)");
            }
        }
    }

    /**
     * Memoizes a field by the exact bits of its inputs. The CPU kernels' results can change in the
     * last bit once the JIT compiles them (Vector API EXP/TANH and lane reductions), so two runs
     * through the model are compared by the calls they make: a second run that only hits the
     * memo made exactly the same calls with exactly the same inputs.
     */
    static final class Memo implements VelocityField {
        final VelocityField inner;
        final java.util.Map<String, float[]> cache = new java.util.HashMap<>();
        int misses;

        Memo(VelocityField inner) {
            this.inner = inner;
        }

        @Override
        public void velocity(float[] x, double t, float[] labels, float[] out) {
            String key = Arrays.hashCode(x) + "/" + Double.doubleToLongBits(t) + "/" + Arrays.toString(labels) + "/" + Arrays.toString(x);
            float[] v = cache.get(key);
            if (v == null) {
                misses++;
                v = new float[out.length];
                inner.velocity(x, t, labels, v);
                cache.put(key, v);
            }
            System.arraycopy(v, 0, out, 0, out.length);
        }

        @Override
        public int nullClass() {
            return inner.nullClass();
        }
    }

    @Test
    void cfgScaleOneEqualsUnguidedOnSiT() {
        SiT model = randomTiny();
        CpuBackend backend = new CpuBackend();
        float[] labels = {2, 0, 1};
        try (SiTVelocity f = new SiTVelocity(model, backend)) {
            Memo memo = new Memo(f);
            float[] a = new Sampler(memo, 64, Sampler.Options.of(SamplerKind.SDE, 5, 3)).sample(labels, 0, null);
            assertEquals(5, memo.misses);
            float[] b = new Sampler(memo, 64, Sampler.Options.of(SamplerKind.SDE, 5, 3).withCfg(1.0, 0, 1)).sample(labels, 0, null);
            assertEquals(5, memo.misses, "scale 1 makes exactly the unguided calls");
            assertArrayEquals(a, b);
            assertEquals(Set.of(3), f.recordedBatchSizes(), "no 2N graph at scale 1");
            float[] c = new Sampler(memo, 64, Sampler.Options.of(SamplerKind.SDE, 5, 3).withCfg(4.0, 0, 1)).sample(labels, 0, null);
            assertFalse(Arrays.equals(a, c), "guidance changes a label-dependent model's samples");
            assertEquals(Set.of(3, 6), f.recordedBatchSizes());
        }
    }

    @Test
    void sameSeedSameCallsOnSiT() {
        try (SiTVelocity f = new SiTVelocity(randomTiny(), new CpuBackend())) {
            Memo memo = new Memo(f);
            float[] labels = {1, 1, 0};
            float[] a = new Sampler(memo, 64, Sampler.Options.of(SamplerKind.SDE, 4, 8).withCfg(2, 0, 0.6)).sample(labels, 0, null);
            int calls = memo.misses;
            float[] b = new Sampler(memo, 64, Sampler.Options.of(SamplerKind.SDE, 4, 8).withCfg(2, 0, 0.6)).sample(labels, 0, null);
            assertEquals(calls, memo.misses);
            assertArrayEquals(a, b);
            float[] c = new Sampler(memo, 64, Sampler.Options.of(SamplerKind.SDE, 4, 9).withCfg(2, 0, 0.6)).sample(labels, 0, null);
            assertTrue(memo.misses > calls);
            assertFalse(Arrays.equals(a, c));
        }
    }

    @Test
    void prunedGraphGivesTheFullForwardVelocityAndDropsTheProjector() {
        SiT model = randomTiny();
        CpuBackend backend = new CpuBackend();
        int n = 3;
        Tensor x = Tensor.input("x", n, 1, 8, 8), t = Tensor.input("t", n), y = Tensor.input("y", n);
        Philox.normal(5, 0, 0, x.data(), 0, x.size());
        Arrays.fill(t.data(), 0.3f);
        y.data()[1] = 2;
        y.data()[2] = 3; // null class
        Graph g = new Graph("full");
        SiT.Outputs o = model.forward(g, x, t, y);
        try (Plan p = backend.compile(g)) {
            p.run();
        }
        float[] expect = o.velocity().toArray();
        float[] got = new float[expect.length];
        try (SiTVelocity f = new SiTVelocity(model, backend)) {
            f.velocity(x.toArray(), 0.3, y.toArray(), got);
            assertTrue(f.opCount(n) < g.ops().size(), "projector ops pruned: " + f.opCount(n) + " of " + g.ops().size());
            assertTrue(f.opCount(n) > 0);
        }
        // same ops on the same data; only JIT tiering (Vector API EXP/TANH, lane reductions) may move the last bit
        assertArrayEquals(expect, got, 1e-5f);
    }

    @Test
    void velocityRejectsBadInput() {
        try (SiTVelocity f = new SiTVelocity(randomTiny(), new CpuBackend())) {
            assertThrows(IllegalArgumentException.class, () -> f.velocity(new float[64], 0.5, new float[]{4}, new float[64]));
            assertThrows(IllegalArgumentException.class, () -> f.velocity(new float[63], 0.5, new float[]{0}, new float[63]));
        }
        assertThrows(IllegalArgumentException.class, () -> new SiTVelocity(new SiT(TINY.truncatedTo(1)), new CpuBackend()));
    }

    @Test
    void benchmarkReportsAPositiveRate() {
        double r = SamplerBenchmark.run(randomTiny(), 4, 3);
        assertTrue(r > 0 && Double.isFinite(r));
    }
}
