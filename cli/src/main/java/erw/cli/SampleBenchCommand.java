package erw.cli;

import com.fasterxml.jackson.databind.JsonNode;
import erw.engine.Backend;
import erw.engine.Backends;
import erw.engine.host.WorkerPool;
import erw.model.Checkpoint;
import erw.model.SiT;
import erw.model.SiTConfig;
import erw.sampler.Sampler;
import erw.sampler.SamplerKind;
import erw.sampler.SiTVelocity;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code erw bench sample}: the Euler-Maruyama SDE sampler's samples/s (the code path of {@code erw sample})
 * next to PyTorch's ({@code bench/torch_sample.py}) on the same weights, batch, schedule and threads, in one
 * run. The weights are PyTorch's seeded random model written as an erw checkpoint
 * ({@code torch_sample.py --write-checkpoint}), so both sides sample from the same model; PyTorch runs with the
 * BLAS configuration that runs numpy's GEMM fastest here, as {@code erw bench train} does.
 */
@Command(name = "sample", mixinStandardHelpOptions = true,
        description = "SDE sampling samples/s on the CPU (or a device backend) with PyTorch's on the same weights in the same run.")
final class SampleBenchCommand implements Callable<Integer> {
    @Option(names = "--preset", defaultValue = "tiny", description = "Model: tiny (the Fashion-MNIST SiT) or a SiT name such as SiT-S/2 (default ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--batch", defaultValue = "64", description = "Samples per batch (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--steps", defaultValue = "250", description = "SDE steps, each one model call (default ${DEFAULT-VALUE}); the whole schedule is timed on both sides.")
    int steps;

    @Option(names = "--threads", description = "Worker threads, also the peer's (default: cores).")
    Integer threads;

    @Option(names = "--backend", defaultValue = "cpu", description = "cpu | tornado | auto (default ${DEFAULT-VALUE}); the peer runs on the CPU.")
    String backend;

    @Option(names = "--no-peer", description = "Skip PyTorch (erw samples from its own seeded random weights).")
    boolean noPeer;

    @Override
    public Integer call() throws Exception {
        if (batch < 1 || steps < 1) throw new IllegalArgumentException("--batch and --steps must be >= 1");
        Backends.Choice choice = Backends.choose(backend);
        int t = threads != null ? threads : WorkerPool.defaultThreads();
        Path script = Path.of(TrainBenchCommand.TORCH_SCRIPT).resolveSibling("torch_sample.py");
        boolean peer = !noPeer && Files.isRegularFile(script) && Files.isExecutable(Path.of(TrainBenchCommand.PYTHON));
        if (!noPeer && !peer) System.out.println("PyTorch peer unavailable (" + TrainBenchCommand.PYTHON + " and " + script + " needed; run from the repository root): erw only");
        Path dir = Files.createTempDirectory("erw-bench-sample");
        try {
            SiT model;
            Path ck = dir.resolve("model.safetensors");
            if (peer) {
                ProcessBuilder pb = new ProcessBuilder(TrainBenchCommand.PYTHON, script.toString(), "--preset", preset, "--seed", "0",
                        "--write-checkpoint", ck.toString());
                pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
                pb.redirectError(ProcessBuilder.Redirect.INHERIT);
                if (pb.start().waitFor() != 0 || !Files.isRegularFile(ck)) throw new IllegalArgumentException("--preset " + preset + ": PyTorch could not write that model (its message is above)");
                model = Checkpoint.load(ck, false, null);
            } else {
                model = new SiT(preset.equalsIgnoreCase("tiny") ? erw.training.Recipes.fashionModel(768) : SiTConfig.named(preset)).initialize(0);
            }
            double erwSec = erw(model, choice, t);
            System.out.printf(Locale.ROOT, "erw:     %.2f s per batch of %d, %d SDE steps, %.3f samples/s (%s, backend %s, %d threads)%n",
                    erwSec, batch, steps, batch / erwSec, preset, backend, t);
            if (!peer) return 0;
            erw.engine.cpu.GemmBenchmark.Peer blas = TrainBenchCommand.peerBlas(t);
            List<String> cmd = new ArrayList<>(List.of(TrainBenchCommand.PYTHON, script.toString(), "--checkpoint", ck.toString(), "--batch", Integer.toString(batch),
                    "--steps", Integer.toString(steps), "--timed-steps", "0", "--threads", Integer.toString(t), "--seed", "0"));
            ProcessBuilder pb = new ProcessBuilder(cmd);
            Map<String, String> env = pb.environment();
            env.put("OMP_NUM_THREADS", Integer.toString(t));
            env.put("OPENBLAS_NUM_THREADS", Integer.toString(t));
            if (blas != null) blas.applyTo(env);
            JsonNode j = TrainBenchCommand.runJson(pb, "PyTorch (SDE sampling)");
            double torchSec = j.get("s_per_batch").asDouble();
            System.out.printf(Locale.ROOT, "PyTorch: %.2f s per batch, %.3f samples/s (bench/torch_sample.py, passive OpenMP%s)%n", torchSec, batch / torchSec,
                    blas == null ? "" : "; BLAS " + blas.config());
            System.out.printf(Locale.ROOT, "ratio (PyTorch time / erw time): %.2f%n", torchSec / erwSec);
            return 0;
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** Seconds for one batch over the whole schedule, after one model call of that batch (compiles the graph). */
    private double erw(SiT model, Backends.Choice choice, int t) throws Exception {
        Sampler.Options opt = new Sampler.Options(SamplerKind.SDE, steps, 1.0, 0, 1, 0);
        float[] labels = Sampler.randomLabels(0, batch, model.config().numClasses());
        try (Backend engine = choice.create(t); SiTVelocity field = new SiTVelocity(model, engine)) {
            WorkerPool pool = engine.host();
            int d = field.sampleSize();
            float[] x = new float[batch * d], v = new float[batch * d];
            Sampler.initialNoise(0, 0, batch, d, x, pool);
            field.velocity(x, 1.0, labels, v);
            Sampler.initialNoise(0, 0, batch, d, x, pool);
            Sampler s = new Sampler(field, d, opt, pool);
            long t0 = System.nanoTime();
            s.sample(x, labels, 0, null);
            double sec = (System.nanoTime() - t0) * 1e-9;
            for (float f : x) if (!Float.isFinite(f)) throw new IllegalStateException("erw's samples are not finite");
            return sec;
        }
    }
}
