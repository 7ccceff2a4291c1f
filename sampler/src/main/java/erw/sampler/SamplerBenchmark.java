package erw.sampler;

import erw.engine.Backend;
import erw.engine.cpu.CpuBackend;
import erw.engine.host.WorkerPool;
import erw.model.SiT;

/** Sampling throughput of the graph-based SDE sampler (no guidance, random classes, seed 0). */
public final class SamplerBenchmark {
    private SamplerBenchmark() {}

    /**
     * {@code SamplerBenchmark [model=tiny] [batch=64] [steps=20] [cfg=1] [repeats=1]}: prints samples/s of a
     * randomly initialized model (the speed does not depend on the weights).
     */
    public static void main(String[] args) {
        String name = args.length > 0 ? args[0] : "tiny";
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 64;
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 20;
        double cfg = args.length > 3 ? Double.parseDouble(args[3]) : 1.0;
        int repeats = args.length > 4 ? Integer.parseInt(args[4]) : 1;
        SiT model = new SiT(erw.model.SiTConfig.named(name)).initialize(0);
        for (int r = 0; r < repeats; r++) {
            double sps = run(model, new CpuBackend(), batch, steps, cfg);
            System.out.printf(java.util.Locale.ROOT, "%s batch %d, %d SDE steps, cfg %s, %d threads: %.3f samples/s (%.3f s per step)%n",
                    name, batch, steps, cfg, WorkerPool.shared().threads(), sps, batch / sps / steps);
        }
    }

    /** Samples per second of {@code steps} SDE steps on a batch of {@code batch}, CPU backend on the shared pool. */
    public static double run(SiT model, int batch, int steps) {
        return run(model, new CpuBackend(), batch, steps, 1.0);
    }

    /**
     * Samples per second on {@code backend}: the graph is recorded and compiled and one warm-up
     * evaluation is run first (not timed); then a full run of {@code steps} SDE steps is timed.
     * With {@code cfg != 1} every step evaluates 2 x batch rows. The backend is closed.
     */
    public static double run(SiT model, Backend backend, int batch, int steps, double cfg) {
        if (batch < 1 || steps < 2) throw new IllegalArgumentException("benchmark needs batch >= 1 and steps >= 2");
        WorkerPool pool = backend.host();
        try (backend; SiTVelocity field = new SiTVelocity(model, backend)) {
            Sampler.Options opt = new Sampler.Options(SamplerKind.SDE, steps, cfg, 0, 1, 0);
            Sampler s = new Sampler(field, field.sampleSize(), opt, pool);
            float[] labels = Sampler.randomLabels(0, batch, model.config().numClasses());
            // warm-up: record, compile, JIT
            float[] x = new float[batch * field.sampleSize()];
            Sampler.initialNoise(0, 0, batch, field.sampleSize(), x, pool);
            float[] v = new float[x.length];
            if (opt.guided()) {
                float[] x2 = new float[2 * x.length], l2 = java.util.Arrays.copyOf(labels, 2 * batch), v2 = new float[x2.length];
                java.util.Arrays.fill(l2, batch, 2 * batch, field.nullClass());
                field.velocity(x2, 1.0, l2, v2);
            }
            field.velocity(x, 1.0, labels, v);
            long t0 = System.nanoTime();
            s.sample(labels, 0, null);
            double sec = (System.nanoTime() - t0) * 1e-9;
            return batch / sec;
        }
    }
}
