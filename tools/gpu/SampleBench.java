import erw.engine.Backend;
import erw.engine.Backends;
import erw.engine.host.WorkerPool;
import erw.model.Checkpoint;
import erw.model.SiT;
import erw.sampler.SampleOutput;
import erw.sampler.Sampler;
import erw.sampler.SamplerKind;
import erw.sampler.SiTVelocity;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * tools/gpu/check's sampling timer: erw's SDE sampler (the code path of {@code erw sample}) on one
 * checkpoint and one batch, with the velocity graph compiled and run once before the clock starts,
 * so that samples/s leaves out TornadoVM's kernel compilation (reported apart as compile_s).
 * Labels and noise are erw's seeded Philox streams (as {@code erw sample --seed S --n N --batch N}).
 * Built into the GPU bundle by tools/gpu/bundle; not part of erw.
 *
 * <pre>
 * SampleBench --checkpoint F --backend cpu|tornado --n N --steps K --cfg S --guidance-interval LO,HI
 *             --seed S [--threads T] [--precision fp32|tf32|bf16] --out samples.safetensors
 * </pre>
 * Prints one JSON line: samples_per_s, s_per_batch, compile_s, calls, rows, backend, device.
 */
public final class SampleBench {
    public static void main(String[] args) throws Exception {
        Map<String, String> a = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) throw new IllegalArgumentException("expected --option value pairs, got " + args[i]);
            a.put(args[i].substring(2), args[i + 1]);
        }
        Path ckpt = Path.of(req(a, "checkpoint")), out = Path.of(req(a, "out"));
        String backendName = a.getOrDefault("backend", "cpu");
        int n = Integer.parseInt(a.getOrDefault("n", "64")), steps = Integer.parseInt(a.getOrDefault("steps", "250"));
        double cfg = Double.parseDouble(a.getOrDefault("cfg", "1.0"));
        String[] gi = a.getOrDefault("guidance-interval", "0,1").split(",");
        long seed = Long.parseLong(a.getOrDefault("seed", "0"));
        int threads = Integer.parseInt(a.getOrDefault("threads", Integer.toString(WorkerPool.defaultThreads())));
        erw.engine.Precision precision = erw.engine.Precision.parse("--precision", a.getOrDefault("precision", "fp32"));

        SiT model = Checkpoint.load(ckpt, false, null);
        int numClasses = model.config().numClasses(), c = model.config().inChannels(), side = model.config().inputSize();
        Sampler.Options opt = new Sampler.Options(SamplerKind.SDE, steps, cfg, Double.parseDouble(gi[0]), Double.parseDouble(gi[1]), seed);
        float[] labels = Sampler.randomLabels(seed, n, numClasses);
        Backends.Choice choice = Backends.choose(backendName);
        long t0 = System.nanoTime();
        Backend backend = choice.create(threads);
        String device = backend.getClass().getSimpleName();
        if (!choice.isCpu()) {
            try {
                Class<?> check = Class.forName("erw.engine.tornado.TornadoRuntimeCheck");
                device = (String) check.getMethod("deviceDescription").invoke(null);
            } catch (ReflectiveOperationException | RuntimeException e) {
                device = "TornadoVM (device unknown: " + e + ")";
            }
        }
        WorkerPool pool = backend.host();
        try (backend; SiTVelocity field = new SiTVelocity(model, backend, precision)) {
            int d = field.sampleSize();
            Sampler s = new Sampler(field, d, opt, pool);
            // warm-up: record + compile the graphs of both batch sizes the run uses (2n rows guided, n unguided)
            float[] x = new float[n * d], v = new float[n * d];
            Sampler.initialNoise(seed, 0, n, d, x, pool);
            if (opt.guided()) {
                float[] x2 = new float[2 * n * d], l2 = Arrays.copyOf(labels, 2 * n), v2 = new float[x2.length];
                Arrays.fill(l2, n, 2 * n, field.nullClass());
                field.velocity(x2, 1.0, l2, v2);
            }
            boolean unguidedSteps = !opt.guided() || opt.guidanceLow() > 0 || opt.guidanceHigh() < 1;
            if (unguidedSteps) field.velocity(x, 1.0, labels, v);
            double compile = (System.nanoTime() - t0) * 1e-9;
            Sampler.initialNoise(seed, 0, n, d, x, pool);
            long t1 = System.nanoTime();
            Sampler.Stats st = s.sample(x, labels, 0, null);
            double sec = (System.nanoTime() - t1) * 1e-9;
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put(Checkpoint.CONFIG_KEY, model.config().toJson());
            meta.put("erw.sampler", "sde");
            meta.put("erw.steps", Integer.toString(steps));
            meta.put("erw.cfg", Double.toString(cfg));
            meta.put("erw.guidance_interval", opt.guidanceLow() + "," + opt.guidanceHigh());
            meta.put("erw.seed", Long.toString(seed));
            meta.put("erw.backend", backendName);
            SampleOutput.writeSafetensors(out, x, n, c, side, side, labels, meta);
            System.out.printf(Locale.ROOT,
                    "{\"samples_per_s\": %.4f, \"s_per_batch\": %.4f, \"s_per_call\": %.6f, \"compile_s\": %.3f, \"calls\": %d, \"rows\": %d, "
                            + "\"n\": %d, \"steps\": %d, \"cfg\": %s, \"backend\": \"%s\", \"precision\": \"%s\", \"device\": \"%s\", \"threads\": %d, \"out\": \"%s\"}%n",
                    n / sec, sec, sec / st.fieldCalls(), compile, st.fieldCalls(), st.rowsEvaluated(), n, steps, cfg, backendName, precision.id(),
                    device.replace("\\", "\\\\").replace("\"", "'"), threads, out.toString().replace("\\", "\\\\").replace("\"", "'"));
        }
    }

    private static String req(Map<String, String> a, String k) {
        String v = a.get(k);
        if (v == null) throw new IllegalArgumentException("--" + k + " is required");
        return v;
    }
}
