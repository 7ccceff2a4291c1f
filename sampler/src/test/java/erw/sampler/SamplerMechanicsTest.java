package erw.sampler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Time grids, evaluation counts, determinism, batching, and CFG plumbing on closed-form fields. */
class SamplerMechanicsTest {

    /** A label-dependent field with a null class, counting calls and rows. */
    static final class LabelField implements VelocityField {
        final int d;
        int calls;
        long rows;

        LabelField(int d) {
            this.d = d;
        }

        @Override
        public void velocity(float[] x, double t, float[] labels, float[] out) {
            calls++;
            rows += labels.length;
            assertEquals(labels.length * d, x.length);
            for (int i = 0; i < x.length; i++) {
                float y = labels[i / d];
                out[i] = (float) (-x[i] * (1 + 0.1 * y) + 0.3 * y - 0.2 * t + 0.01 * (i % d));
            }
        }

        @Override
        public int nullClass() {
            return 4;
        }
    }

    static final float[] LABELS = {0, 1, 2, 3, 1};

    @Test
    void sdeGridIsLinspaceToPoint04ThenZero() {
        double[] g = Sampler.timeGrid(SamplerKind.SDE, 250);
        assertEquals(251, g.length);
        assertEquals(1.0, g[0]);
        assertEquals(0.04, g[249], 1e-15);
        assertEquals(0.0, g[250]);
        assertEquals(1.0 - 0.96 / 249, g[1], 1e-15);
        double[] o = Sampler.timeGrid(SamplerKind.ODE, 4);
        assertArrayEquals(new double[]{1.0, 0.75, 0.5, 0.25, 0.0}, o);
        assertArrayEquals(o, Sampler.timeGrid(SamplerKind.HEUN, 4));
        // torch.linspace's symmetric formula: the end point is exact
        double[] l = Sampler.linspace(1.0, 0.04, 7);
        assertEquals(0.04, l[6]);
        for (int i = 1; i < l.length; i++) assertTrue(l[i] < l[i - 1]);
    }

    @Test
    void fieldEvaluationsAreKAndDoubledInsideTheCfgInterval() {
        int d = 3, n = LABELS.length, k = 10;
        for (SamplerKind kind : SamplerKind.values()) {
            int calls = kind == SamplerKind.HEUN ? 2 * k - 1 : k;
            assertEquals(calls, Sampler.fieldCalls(kind, k));

            LabelField f = new LabelField(d);
            Sampler.Stats st = new Sampler(f, d, Sampler.Options.of(kind, k, 0)).sample(noise(n, d), LABELS.clone(), 0, null);
            assertEquals(calls, f.calls, kind + ": field calls");
            assertEquals((long) calls * n, f.rows, kind + ": rows without guidance");
            assertEquals(f.rows, st.rowsEvaluated());
            assertEquals(calls, st.fieldCalls());

            LabelField g = new LabelField(d);
            new Sampler(g, d, Sampler.Options.of(kind, k, 0).withCfg(1.8, 0, 1)).sample(noise(n, d), LABELS.clone(), 0, null);
            assertEquals(calls, g.calls, kind + ": guided field calls");
            assertEquals(2L * calls * n, g.rows, kind + ": rows with guidance everywhere");

            // guidance on [0, 0.5]: only steps starting at t <= 0.5 (for Heun both evaluations of such a step)
            double[] grid = Sampler.timeGrid(kind, k);
            long expected = 0;
            for (int i = 0; i < k; i++) {
                int evals = kind == SamplerKind.HEUN && i < k - 1 ? 2 : 1;
                expected += (long) evals * n * (grid[i] <= 0.5 ? 2 : 1);
            }
            LabelField h = new LabelField(d);
            Sampler.Stats sh = new Sampler(h, d, Sampler.Options.of(kind, k, 0).withCfg(1.8, 0, 0.5)).sample(noise(n, d), LABELS.clone(), 0, null);
            assertEquals(expected, h.rows, kind + ": rows with guidance on [0, 0.5]");
            assertEquals(expected, sh.rowsEvaluated());
            assertTrue(expected > (long) calls * n && expected < 2L * calls * n);
        }
    }

    static float[] noise(int n, int d) {
        float[] x = new float[n * d];
        Sampler.initialNoise(123, 0, n, d, x, null);
        return x;
    }

    @Test
    void cfgScaleOneIsTheUnguidedSamplerBitForBit() {
        int d = 6, n = LABELS.length;
        for (SamplerKind kind : SamplerKind.values()) {
            float[] plain = new Sampler(new LabelField(d), d, Sampler.Options.of(kind, 12, 9)).sample(LABELS.clone(), 0, null);
            LabelField f = new LabelField(d);
            float[] cfg1 = new Sampler(f, d, Sampler.Options.of(kind, 12, 9).withCfg(1.0, 0.0, 1.0)).sample(LABELS.clone(), 0, null);
            assertArrayEquals(plain, cfg1, kind.toString());
            assertEquals((long) Sampler.fieldCalls(kind, 12) * n, f.rows, "scale 1 evaluates no null-class rows");
            // and guidance does change the result
            float[] cfg2 = new Sampler(new LabelField(d), d, Sampler.Options.of(kind, 12, 9).withCfg(2.0, 0.0, 1.0)).sample(LABELS.clone(), 0, null);
            assertFalse(Arrays.equals(plain, cfg2));
        }
    }

    @Test
    void cfgScaleZeroIsTheNullClassAndScaleTwoExtrapolates() {
        int d = 4, n = LABELS.length;
        float[] nulls = new float[n];
        Arrays.fill(nulls, 4);
        for (SamplerKind kind : SamplerKind.values()) {
            float[] uncond = new Sampler(new LabelField(d), d, Sampler.Options.of(kind, 8, 2)).sample(nulls, 0, null);
            float[] cfg0 = new Sampler(new LabelField(d), d, Sampler.Options.of(kind, 8, 2).withCfg(0.0, 0, 1)).sample(LABELS.clone(), 0, null);
            assertArrayEquals(uncond, cfg0, kind + ": v_u + 0 (v_c - v_u) = v_u");
        }
        // one ODE step by hand: x' = x + dt (v_u + s (v_c - v_u)) with dt = -1/2 at t = 1
        LabelField f = new LabelField(d);
        float[] x = noise(n, d), x0 = x.clone();
        Sampler s = new Sampler(f, d, Sampler.Options.of(SamplerKind.ODE, 2, 0).withCfg(2.5, 0.6, 1.0));
        float[] xc = x0.clone(), vc = new float[x.length], vu = new float[x.length], v1 = new float[x.length];
        f.velocity(xc, 1.0, LABELS, vc);
        f.velocity(xc, 1.0, nulls, vu);
        float[] mid = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            float v = (float) (vu[i] + 2.5 * ((double) vc[i] - vu[i]));
            mid[i] = (float) (x0[i] - 0.5 * v);
        }
        f.velocity(mid, 0.5, LABELS, v1); // t = 0.5 is outside [0.6, 1]: conditional only
        float[] expect = new float[x.length];
        for (int i = 0; i < x.length; i++) expect[i] = (float) (mid[i] - 0.5 * v1[i]);
        s.sample(x, LABELS.clone(), 0, null);
        assertArrayEquals(expect, x);
    }

    @Test
    void sameSeedSameSamplesOtherSeedOthers() {
        int d = 5;
        for (SamplerKind kind : SamplerKind.values()) {
            float[] a = new Sampler(new LabelField(d), d, Sampler.Options.of(kind, 20, 42)).sample(LABELS.clone(), 0, null);
            float[] b = new Sampler(new LabelField(d), d, Sampler.Options.of(kind, 20, 42)).sample(LABELS.clone(), 0, null);
            float[] c = new Sampler(new LabelField(d), d, Sampler.Options.of(kind, 20, 43)).sample(LABELS.clone(), 0, null);
            assertArrayEquals(a, b, kind.toString());
            assertFalse(Arrays.equals(a, c), kind + ": another seed gives other samples");
            for (float v : a) assertTrue(Float.isFinite(v));
        }
    }

    @Test
    void samplesDoNotDependOnHowTheBatchIsSplit() {
        int d = 7, n = LABELS.length; // d not a multiple of 4: per-sample Philox blocks
        Sampler.Options o = Sampler.Options.of(SamplerKind.SDE, 15, 5).withCfg(1.5, 0, 0.7);
        float[] whole = new Sampler(new LabelField(d), d, o).sample(LABELS.clone(), 0, null);
        float[] first = new Sampler(new LabelField(d), d, o).sample(Arrays.copyOfRange(LABELS, 0, 2), 0, null);
        float[] rest = new Sampler(new LabelField(d), d, o).sample(Arrays.copyOfRange(LABELS, 2, n), 2, null);
        float[] joined = Arrays.copyOf(first, n * d);
        System.arraycopy(rest, 0, joined, 2 * d, rest.length);
        assertArrayEquals(whole, joined);
    }

    @Test
    void parallelAndSerialUpdatesAgree() {
        int d = 4096, n = 16; // large enough for the pool path
        float[] labels = new float[n];
        Sampler.Options o = Sampler.Options.of(SamplerKind.SDE, 6, 1).withCfg(1.7, 0, 1);
        float[] serial = new Sampler(new LabelField(d), d, o, null).sample(labels, 0, null);
        float[] parallel;
        try (var pool = new erw.engine.host.WorkerPool(3)) {
            parallel = new Sampler(new LabelField(d), d, o, pool).sample(labels.clone(), 0, null);
        }
        assertArrayEquals(serial, parallel);
    }

    @Test
    void listenerSeesEveryStep() {
        int[] seen = new int[1];
        new Sampler(new LabelField(2), 2, Sampler.Options.of(SamplerKind.HEUN, 7, 0)).sample(LABELS.clone(), 0, (done, total) -> {
            assertEquals(++seen[0], done);
            assertEquals(7, total);
        });
        assertEquals(7, seen[0]);
    }

    @Test
    void badOptionsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> Sampler.Options.of(SamplerKind.SDE, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> Sampler.Options.of(SamplerKind.SDE, 10, 0).withCfg(-0.5, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> Sampler.Options.of(SamplerKind.SDE, 10, 0).withCfg(2, 0.8, 0.2));
        assertThrows(IllegalArgumentException.class, () -> Sampler.Options.of(SamplerKind.SDE, 10, 0).withCfg(2, 0, 1.5));
        // guidance needs a null class
        VelocityField noNull = (x, t, y, out) -> {};
        assertThrows(IllegalArgumentException.class, () -> new Sampler(noNull, 1, Sampler.Options.of(SamplerKind.ODE, 4, 0).withCfg(2, 0, 1)));
        // state of the wrong size
        Sampler s = new Sampler(noNull, 3, Sampler.Options.of(SamplerKind.ODE, 4, 0));
        assertThrows(IllegalArgumentException.class, () -> s.sample(new float[5], new float[2], 0, null));
    }

    @Test
    void randomLabelsAreSeededAndInRange() {
        float[] a = Sampler.randomLabels(3, 200, 10), b = Sampler.randomLabels(3, 200, 10);
        assertArrayEquals(a, b);
        boolean[] seen = new boolean[10];
        for (float y : a) {
            assertTrue(y >= 0 && y < 10 && y == Math.rint(y));
            seen[(int) y] = true;
        }
        for (boolean s : seen) assertTrue(s);
        assertFalse(Arrays.equals(a, Sampler.randomLabels(4, 200, 10)));
    }

    @Test
    void sdeStepsFollowTheSpecFormula() {
        // K = 2: grid (1, 0.04, 0). Step 0: w = 2t, d = v - (w/2) score, score = -(x + (1-t) v)/t,
        // x += d dt + sqrt(w) sqrt|dt| e with e from Philox stream 1; step 1 (0.04 -> 0) has no noise.
        int d = 5, n = LABELS.length;
        LabelField f = new LabelField(d);
        float[] x = noise(n, d), expect = x.clone(), v = new float[x.length], e = new float[x.length];
        Sampler.noise(77, 1, 0, n, d, e, null);
        double[][] steps = {{1.0, 0.04}, {0.04, 0.0}};
        for (int s = 0; s < 2; s++) {
            double t = steps[s][0], dt = steps[s][1] - t;
            f.velocity(expect.clone(), t, LABELS, v);
            for (int i = 0; i < x.length; i++) {
                double score = -(expect[i] + (1 - t) * v[i]) / t;
                double drift = v[i] - 0.5 * (2 * t) * score;
                double noise = s == 0 ? Math.sqrt(2 * t) * (e[i] * Math.sqrt(Math.abs(dt))) : 0;
                expect[i] = (float) (expect[i] + drift * dt + noise);
            }
        }
        new Sampler(new LabelField(d), d, Sampler.Options.of(SamplerKind.SDE, 2, 77)).sample(x, LABELS.clone(), 0, null);
        assertArrayEquals(expect, x);
    }
}
