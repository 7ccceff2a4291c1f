package erw.sampler;

import erw.engine.host.Philox;
import erw.engine.host.WorkerPool;
import java.util.Arrays;

/**
 * The integrators of SPEC section 6 over a {@link VelocityField}: Euler-Maruyama SDE, ODE Euler
 * and ODE Heun, with classifier-free guidance on a time interval. The time grid is kept in double
 * on the host, the state x in fp32, the model sees t as fp32; each update is computed in double
 * and rounded once.
 *
 * <ul>
 *   <li>SDE: t = linspace(1, 0.04, K) then 0 (K+1 points, K model evaluations). For every step
 *       t -> t' but the last: w = 2t, score = -(x + (1-t) v)/t, d = v - (w/2) score,
 *       x <- x + d (t'-t) + sqrt(w) sqrt(|t'-t|) e. Last step (0.04 -> 0): x <- x + d (t'-t).</li>
 *   <li>ODE Euler: t = linspace(1, 0, K+1), x <- x + (t'-t) v (K evaluations).</li>
 *   <li>Heun: x~ = x + (t'-t) v, x <- x + (t'-t)(v + v(x~, t'))/2, plain Euler on the last step
 *       (2K-1 evaluations).</li>
 *   <li>CFG: with scale s != 1 and guidance_low <= t <= guidance_high (t = the step's start time,
 *       also for Heun's second slope, as in the published code), the field is evaluated on 2N
 *       rows (conditional, then null class) and v = v_u + s (v_c - v_u). Outside the interval,
 *       or with s = 1, only the N conditional rows are evaluated, so s = 1 is bit for bit the
 *       unguided sampler. (The published SDE guides the drift d; d is affine in v, so this is the
 *       same up to rounding.)</li>
 * </ul>
 *
 * <p>Randomness is Philox keyed by the seed: the initial noise of sample j is stream
 * {@link #STREAM_INITIAL}, the SDE noise of step i is stream {@code 1 + i}, and within a stream
 * sample j uses the counter blocks [j * ceil(D/4), (j+1) * ceil(D/4)). A sample therefore depends
 * only on (seed, its global index, its label), not on how the samples are split into batches.
 */
public final class Sampler {
    /** Philox stream of the initial noise x(t=1). */
    public static final long STREAM_INITIAL = 0;
    /** Philox stream of randomly drawn class labels. */
    public static final long STREAM_CLASSES = Long.MAX_VALUE;
    /** Last point of the SDE's linspace before the final noiseless step to 0 (published value). */
    public static final double SDE_LAST_T = 0.04;

    /** Sampler settings. {@code cfgScale = 1} disables guidance. */
    public record Options(SamplerKind kind, int steps, double cfgScale, double guidanceLow, double guidanceHigh, long seed) {
        public Options {
            if (kind == null) throw new IllegalArgumentException("sampler kind is missing");
            if (steps < 2) throw new IllegalArgumentException("--steps must be >= 2, got " + steps);
            if (!(cfgScale >= 0) || Double.isInfinite(cfgScale)) throw new IllegalArgumentException("--cfg must be a finite number >= 0, got " + cfgScale);
            if (!(guidanceLow >= 0 && guidanceLow <= guidanceHigh && guidanceHigh <= 1)) {
                throw new IllegalArgumentException("--guidance-interval " + guidanceLow + "," + guidanceHigh + " must satisfy 0 <= lo <= hi <= 1");
            }
        }

        /** No guidance, the full interval. */
        public static Options of(SamplerKind kind, int steps, long seed) {
            return new Options(kind, steps, 1.0, 0.0, 1.0, seed);
        }

        public Options withCfg(double scale, double low, double high) {
            return new Options(kind, steps, scale, low, high, seed);
        }

        public Options withSeed(long s) {
            return new Options(kind, steps, cfgScale, guidanceLow, guidanceHigh, s);
        }

        public boolean guided() {
            return cfgScale != 1.0;
        }

        /** Whether a step starting at {@code t} is guided. */
        public boolean guidedAt(double t) {
            return guided() && t >= guidanceLow && t <= guidanceHigh;
        }
    }

    /** Called after every integration step. */
    @FunctionalInterface
    public interface Listener {
        void step(int done, int total);
    }

    /** What one {@link #sample} call did: field calls, rows evaluated (2N per guided call), wall time. */
    public record Stats(int fieldCalls, long rowsEvaluated, double seconds) {}

    private final VelocityField field;
    private final int sampleSize;
    private final Options opt;
    private final WorkerPool pool;
    private final double[] grid;

    /**
     * @param sampleSize values per sample (C*H*W)
     * @param pool       threads for noise generation and updates, or null for the calling thread
     */
    public Sampler(VelocityField field, int sampleSize, Options options, WorkerPool pool) {
        if (sampleSize < 1) throw new IllegalArgumentException("sample size must be >= 1, got " + sampleSize);
        if (options.guided() && field.nullClass() < 0) {
            throw new IllegalArgumentException("classifier-free guidance (--cfg " + options.cfgScale() + ") needs a model with a null class");
        }
        this.field = field;
        this.sampleSize = sampleSize;
        this.opt = options;
        this.pool = pool;
        this.grid = timeGrid(options.kind(), options.steps());
    }

    public Sampler(VelocityField field, int sampleSize, Options options) {
        this(field, sampleSize, options, null);
    }

    public Options options() {
        return opt;
    }

    /** torch.linspace in float64: start + i*step in the first half, end - (n-1-i)*step in the second. */
    public static double[] linspace(double start, double end, int n) {
        double[] out = new double[n];
        if (n == 1) {
            out[0] = start;
            return out;
        }
        double step = (end - start) / (n - 1);
        int half = n / 2;
        for (int i = 0; i < n; i++) out[i] = i < half ? start + step * i : end - step * (n - 1 - i);
        return out;
    }

    /** The K+1 time points of a sampler with K steps. */
    public static double[] timeGrid(SamplerKind kind, int steps) {
        if (steps < 2) throw new IllegalArgumentException("--steps must be >= 2, got " + steps);
        if (kind == SamplerKind.SDE) return Arrays.copyOf(linspace(1.0, SDE_LAST_T, steps), steps + 1); // last = 0
        return linspace(1.0, 0.0, steps + 1);
    }

    /** Field calls of one run (each of N rows, or 2N when guided): K, or 2K-1 for Heun. */
    public static int fieldCalls(SamplerKind kind, int steps) {
        return kind == SamplerKind.HEUN ? 2 * steps - 1 : steps;
    }

    /** Standard normals for samples [first, first+n) of a Philox stream, sample j at blocks j*ceil(D/4). */
    public static void noise(long seed, long stream, long firstSample, int n, int sampleSize, float[] out, WorkerPool pool) {
        if (out.length < (long) n * sampleSize) throw new IllegalArgumentException("noise buffer too small");
        long blocks = (sampleSize + 3) / 4;
        if (pool == null || n == 1) {
            for (int j = 0; j < n; j++) Philox.normal(seed, stream, (firstSample + j) * blocks, out, j * sampleSize, sampleSize);
        } else {
            pool.parallelFor(n, 1, (lo, hi) -> {
                for (int j = lo; j < hi; j++) Philox.normal(seed, stream, (firstSample + j) * blocks, out, j * sampleSize, sampleSize);
            });
        }
    }

    /** The initial state x(t=1) of samples [first, first+n). */
    public static void initialNoise(long seed, long firstSample, int n, int sampleSize, float[] out, WorkerPool pool) {
        noise(seed, STREAM_INITIAL, firstSample, n, sampleSize, out, pool);
    }

    /** {@code n} labels drawn uniformly from [0, numClasses) with Philox (stream {@link #STREAM_CLASSES}). */
    public static float[] randomLabels(long seed, int n, int numClasses) {
        float[] u = new float[n];
        Philox.uniform(seed, STREAM_CLASSES, 0, u, 0, n);
        float[] y = new float[n];
        for (int i = 0; i < n; i++) y[i] = Math.min(numClasses - 1, (int) (u[i] * numClasses));
        return y;
    }

    /**
     * Integrates {@code x} (n rows, the state at t = 1, overwritten with the samples at t = 0).
     * {@code firstSample} is the global index of row 0 (keys the SDE noise); {@code listener} may be null.
     */
    public Stats sample(float[] x, float[] labels, long firstSample, Listener listener) {
        int n = labels.length;
        int len = n * sampleSize;
        if (x.length != len) {
            throw new IllegalArgumentException("state has " + x.length + " values, expected " + n + " samples x " + sampleSize);
        }
        long t0 = System.nanoTime();
        Eval ev = new Eval(n, labels);
        float[] v = new float[len];
        float[] tmp = new float[len];
        int k = opt.steps();
        for (int i = 0; i < k; i++) {
            double t = grid[i], tn = grid[i + 1], dt = tn - t;
            boolean last = i == k - 1;
            ev.velocity(x, t, opt.guidedAt(t), v);
            switch (opt.kind()) {
                case SDE -> {
                    double w = 2.0 * t; // published compute_diffusion: 2 t
                    double halfW = 0.5 * w, oneMinusT = 1.0 - t;
                    if (last) {
                        range(len, (lo, hi) -> {
                            for (int j = lo; j < hi; j++) {
                                double xv = x[j], vv = v[j];
                                double score = -(xv + oneMinusT * vv) / t;
                                double d = vv - halfW * score;
                                x[j] = (float) (xv + d * dt);
                            }
                        });
                    } else {
                        noise(opt.seed(), 1L + i, firstSample, n, sampleSize, tmp, pool);
                        double sw = Math.sqrt(w), sdt = Math.sqrt(Math.abs(dt));
                        range(len, (lo, hi) -> {
                            for (int j = lo; j < hi; j++) {
                                double xv = x[j], vv = v[j];
                                double score = -(xv + oneMinusT * vv) / t;
                                double d = vv - halfW * score;
                                x[j] = (float) (xv + d * dt + sw * (tmp[j] * sdt));
                            }
                        });
                    }
                }
                case ODE -> euler(x, v, dt, len);
                case HEUN -> {
                    if (last) {
                        euler(x, v, dt, len);
                    } else {
                        range(len, (lo, hi) -> {
                            for (int j = lo; j < hi; j++) tmp[j] = (float) (x[j] + dt * v[j]);
                        });
                        float[] v2 = ev.second();
                        ev.velocity(tmp, tn, opt.guidedAt(t), v2);
                        range(len, (lo, hi) -> {
                            for (int j = lo; j < hi; j++) x[j] = (float) (x[j] + dt * (0.5 * v[j] + 0.5 * v2[j]));
                        });
                    }
                }
            }
            if (listener != null) listener.step(i + 1, k);
        }
        return new Stats(ev.calls, ev.rows, (System.nanoTime() - t0) * 1e-9);
    }

    /** Samples from fresh noise: n = labels.length rows of the seed's initial noise, starting at {@code firstSample}. */
    public float[] sample(float[] labels, long firstSample, Listener listener) {
        float[] x = new float[labels.length * sampleSize];
        initialNoise(opt.seed(), firstSample, labels.length, sampleSize, x, pool);
        sample(x, labels, firstSample, listener);
        return x;
    }

    private void euler(float[] x, float[] v, double dt, int len) {
        range(len, (lo, hi) -> {
            for (int j = lo; j < hi; j++) x[j] = (float) (x[j] + dt * v[j]);
        });
    }

    private void range(int len, WorkerPool.RangeBody body) {
        if (pool == null || len < 1 << 15) body.run(0, len);
        else pool.parallelFor(len, 1 << 13, body);
    }

    /** Field evaluation with CFG: N conditional rows, or 2N rows (conditional, then null class) when guided. */
    private final class Eval {
        final int n, len;
        final float[] labels, labels2;
        float[] x2, v2, second;
        int calls;
        long rows;

        Eval(int n, float[] labels) {
            this.n = n;
            this.len = n * sampleSize;
            this.labels = labels.clone();
            this.labels2 = Arrays.copyOf(labels, 2 * n);
            Arrays.fill(labels2, n, 2 * n, (float) field.nullClass());
        }

        float[] second() {
            if (second == null) second = new float[len];
            return second;
        }

        void velocity(float[] x, double t, boolean guided, float[] out) {
            calls++;
            if (!guided) {
                rows += n;
                field.velocity(x, t, labels, out);
                return;
            }
            rows += 2L * n;
            if (x2 == null) {
                x2 = new float[2 * len];
                v2 = new float[2 * len];
            }
            System.arraycopy(x, 0, x2, 0, len);
            System.arraycopy(x, 0, x2, len, len);
            field.velocity(x2, t, labels2, v2);
            double s = opt.cfgScale();
            float[] vv = v2;
            range(len, (lo, hi) -> {
                for (int j = lo; j < hi; j++) {
                    double vc = vv[j], vu = vv[len + j];
                    out[j] = (float) (vu + s * (vc - vu));
                }
            });
        }
    }
}
