package erw.cli;

import com.fasterxml.jackson.databind.JsonNode;
import erw.engine.Backend;
import erw.engine.Backends;
import erw.engine.cpu.CpuBackend;
import erw.engine.host.Philox;
import erw.engine.host.WorkerPool;
import erw.model.Vae;
import erw.model.VaeConfig;
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
 * {@code erw bench vae}: seconds to decode a batch of latents with the SD-VAE (CPU, or a device backend; erw decodes
 * one image per compiled run, as {@code erw sample --vae} does), next to PyTorch's best memory format on
 * the same machine in the same run ({@code bench/torch_vae.py}).
 */
@Command(name = "vae", mixinStandardHelpOptions = true, description = "SD-VAE decoding speed on the CPU (latents -> images), with PyTorch's in the same run.")
final class VaeBenchCommand implements Callable<Integer> {
    @Option(names = "--vae", paramLabel = "FILE", description = "VAE weights (default: random weights of the SD VAE's shape).")
    Path vae;

    @Option(names = "--batch", defaultValue = "8", description = "Latents per batch (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--latent-side", defaultValue = "32", description = "Latent side (default ${DEFAULT-VALUE}: 256x256 images).")
    int side;

    @Option(names = "--threads", description = "Worker threads, also the peer's (default: cores).")
    Integer threads;

    @Option(names = "--backend", defaultValue = "cpu", description = "cpu | tornado | auto (default ${DEFAULT-VALUE}); the peer runs on the CPU, or with --peer-device cuda on the GPU.")
    String backend;

    @Option(names = "--peer-device", defaultValue = "cpu", description = "cpu | cuda: where PyTorch decodes (default ${DEFAULT-VALUE}).")
    String peerDevice;

    @Option(names = "--repeats", defaultValue = "2", description = "Timed batches, best kept (default ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--no-peer", description = "Skip PyTorch.")
    boolean noPeer;

    @Option(names = "--profile", description = "Also print erw's time per op type.")
    boolean profile;

    @Option(names = "--json", description = "Also print the figures as one JSON line (last line; for tools/gpu/check).")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (batch < 1 || side < 1 || repeats < 1) throw new IllegalArgumentException("--batch, --latent-side and --repeats must be >= 1");
        if (!peerDevice.equals("cpu") && !peerDevice.equals("cuda")) throw new IllegalArgumentException("--peer-device " + peerDevice + ": use cpu or cuda");
        int t = threads != null ? threads : WorkerPool.defaultThreads();
        Vae model = vae != null ? Vae.load(vae, Vae.Part.DECODER) : new Vae(VaeConfig.SD, Vae.Part.DECODER).initialize(0);
        float[] z = new float[batch * model.config().latentChannels() * side * side];
        Philox.normal(1, 1, 0, z, 0, z.length);
        double best = Double.MAX_VALUE;
        int outSide = side * model.config().downsampling();
        String backendName;
        Backend engine = backend.equals("cpu") ? new CpuBackend(new WorkerPool(t), true, profile) : Backends.choose(backend).create(t);
        backendName = engine.name();
        try (engine; Vae.Runner dec = model.decoder(engine, 1, side, side)) {
            dec.run(java.util.Arrays.copyOf(z, z.length / batch), 1, null); // warmup (compiles the kernels on a device)
            if (engine instanceof CpuBackend cpu) cpu.resetProfile();
            for (int r = 0; r < repeats; r++) {
                long t0 = System.nanoTime();
                dec.run(z, batch, null);
                best = Math.min(best, (System.nanoTime() - t0) * 1e-9);
            }
            if (profile && engine instanceof CpuBackend cpu) BenchCommand.printProfile(cpu.profile());
        }
        System.out.printf(Locale.ROOT, "erw:     %.2f s per batch of %d (%dx%dx%d -> %dx%dx3), %.3f images/s, backend %s, %d threads%n",
                best, batch, side, side, model.config().latentChannels(), outSide, outSide, batch / best, backendName, t);
        String erwJson = String.format(Locale.ROOT, "\"backend\": \"%s\", \"batch\": %d, \"latent_side\": %d, \"threads\": %d, \"s_per_batch\": %.6f, \"images_per_s\": %.6f",
                backendName, batch, side, t, best, batch / best);
        if (noPeer) {
            if (json) System.out.println("{" + erwJson + "}");
            return 0;
        }
        Path script = Path.of(TrainBenchCommand.TORCH_SCRIPT).resolveSibling("torch_vae.py");
        if (!Files.isRegularFile(script) || !Files.isExecutable(Path.of(TrainBenchCommand.PYTHON))) {
            System.out.println("PyTorch: n/a (needs " + TrainBenchCommand.PYTHON + " with torch and " + script + ", run from the repository root)");
            return 0;
        }
        List<String> cmd = new ArrayList<>(List.of(TrainBenchCommand.PYTHON, script.toString(), "--batch", Integer.toString(batch),
                "--latent-side", Integer.toString(side), "--threads", Integer.toString(t), "--repeats", Integer.toString(repeats), "--device", peerDevice));
        if (vae != null) cmd.addAll(List.of("--vae", vae.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        Map<String, String> env = pb.environment();
        env.put("OMP_NUM_THREADS", Integer.toString(t));
        JsonNode j = TrainBenchCommand.runJson(pb, "PyTorch (VAE decode)");
        double peer = j.get("s_per_batch").asDouble();
        System.out.printf(Locale.ROOT, "PyTorch: %.2f s per batch (%s, torch %s, %s), %.3f images/s%n", peer, j.get("format").asText(), j.get("torch").asText(),
                j.path("all").toString(), batch / peer);
        System.out.printf(Locale.ROOT, "ratio (PyTorch time / erw time): %.2f%n", peer / best);
        if (json) System.out.println("{" + erwJson + ", \"peer\": " + j + "}");
        return 0;
    }
}
