package erw.cli;

import erw.training.eval.EvalSetup;
import erw.engine.Backend;
import erw.model.Checkpoint;
import erw.model.SiT;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsFile;
import erw.sampler.Sampler;
import erw.sampler.SamplerKind;
import erw.training.eval.BlockAlignment;
import erw.training.eval.SampleQuality;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code erw eval}: sample quality of checkpoints (Frechet distance on the evaluator's features,
 * evaluator accuracy on class-conditional samples) and CKNNA between a block's tokens and the
 * target encoder's.
 */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Score checkpoints: FD, class accuracy, precision and recall of samples under two independent evaluator networks (an MLP and a conv net), and CKNNA of a block vs the target encoder.")
public final class EvalCommand implements Callable<Integer> {
    @Parameters(arity = "1..*", paramLabel = "CHECKPOINT", description = "Checkpoints (.safetensors), run directories (their newest checkpoint), or study directories (bench converge's --work: each run's newest).")
    List<Path> checkpoints;
    @Option(names = "--raw", description = "Score the raw weights instead of the EMA weights.") boolean raw;
    @Option(names = "--data", description = "Dataset directory the model was trained on (default: the built-in Fashion-MNIST).") Path data;
    @Option(names = "--data-root", description = "Where the built-in data, encoder and evaluator are kept (default ${DEFAULT-VALUE}).") Path dataRoot = Path.of("data");
    @Option(names = "--samples", description = "Samples for FD and accuracy, classes in turn (default ${DEFAULT-VALUE}).") int samples = 1000;
    @Option(names = "--sampler", description = "sde | ode | heun (default ${DEFAULT-VALUE}).") String sampler = "heun";
    @Option(names = "--sampling-steps", description = "Sampler steps (default ${DEFAULT-VALUE}).") int steps = 20;
    @Option(names = "--cfg-scale", description = "Classifier-free guidance scale (default ${DEFAULT-VALUE}: none).") double cfg = 1.0;
    @Option(names = "--seed", description = "Sampling seed (default ${DEFAULT-VALUE}).") long seed = 0;
    @Option(names = "--cknna-block", description = "Block (1-based) whose tokens CKNNA compares (default: the projector's block; 0 = skip CKNNA).") Integer block;
    @Option(names = "--cknna-t", description = "Noise level t of the CKNNA inputs (default ${DEFAULT-VALUE}: clean).") double cknnaT = 0;
    @Option(names = "--cknna-images", description = "Training images for CKNNA (default ${DEFAULT-VALUE}).") int cknnaImages = 1000;
    @Option(names = "--backend", description = "cpu | tornado | auto (default ${DEFAULT-VALUE}).") String backend = "auto";
    @Option(names = "--evaluator-steps", description = "Training steps of the evaluator when it is made (default ${DEFAULT-VALUE}).") int evaluatorSteps = EvalSetup.EVALUATOR_STEPS;
    @Option(names = "--cknna-k", description = "Neighbours in CKNNA (default ${DEFAULT-VALUE}).") int k = 10;

    @Override
    public Integer call() throws Exception {
        if (samples < 2) throw new IllegalArgumentException("--samples " + samples + " must be >= 2 (FD needs a covariance)");
        SamplerKind kind = SamplerKind.parse(sampler);
        List<Path> files = new java.util.ArrayList<>();
        for (Path p : checkpoints) files.addAll(checkpointsOf(p)); // fail before the slow setup
        erw.engine.Backends.Choice choice = erw.engine.Backends.choose(backend);
        try (Backend cpu = choice.create()) {
            EvalSetup setup = EvalSetup.prepare(dataRoot, data, evaluatorSteps, cpu, System.err);
            SampleQuality quality = new SampleQuality(setup.judges());
            Sampler.Options opt = Sampler.Options.of(kind, steps, seed).withCfg(cfg, 0, 1);
            System.out.printf(Locale.ROOT, "evaluators: [1] %s, [2] %s; reference: %s; %d samples, %s %d steps, cfg %.2f, %s weights%n",
                    setup.judges().get(0).name(), setup.judges().get(1).name(), setup.referenceName(), samples, kind.name().toLowerCase(Locale.ROOT), steps, cfg,
                    raw ? "raw" : "EMA");
            // the CKNNA images and their target tokens, read once for all checkpoints
            int[] fs = setup.data().featureShape();
            Probe probe = setup.data().hasFeatures() ? Probe.read(setup.data(), Math.min(cknnaImages, setup.data().count())) : null;
            for (Path file : files) {
                boolean ema = !raw && hasEma(file);
                SiT model = Checkpoint.load(file, ema, null);
                SampleQuality.Score s = quality.score(model, cpu, cpu.host(), samples, opt);
                StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%s%s: FD %.3f, accuracy %.2f%%", file, ema || raw ? "" : " (no EMA weights: raw)",
                        s.fd(), 100 * s.accuracy()));
                for (int e = 0; e < s.judgements().size(); e++) {
                    SampleQuality.Judgement j = s.judgements().get(e);
                    line.append(String.format(Locale.ROOT, "; [%d] FD %.3f, accuracy %.2f%%, precision %.3f, recall %.3f", e + 1, j.fd(), 100 * j.accuracy(),
                            j.precision(), j.recall()));
                }
                int b = block != null ? block : model.config().encoderDepth();
                if (b > 0 && probe != null) {
                    double c = BlockAlignment.cknna(model, cpu, b, probe.images(), probe.labels(), probe.n(), probe.features(), fs[0], fs[1], cknnaT, k, seed);
                    line.append(String.format(Locale.ROOT, ", CKNNA(block %d, t %.2f, k %d, %d images) %.4f", b, cknnaT, k, probe.n(), c));
                }
                System.out.println(line.append(String.format(Locale.ROOT, " [%.0f s sampling]", s.seconds())));
            }
        }
        return 0;
    }

    private record Probe(int n, float[] images, float[] labels, float[] features) {
        static Probe read(erw.training.BatchSource data, int n) {
            int[] is = data.imageShape(), fs = data.featureShape();
            float[] img = new float[n * is[0] * is[1] * is[2]], lab = new float[n], feat = new float[n * fs[0] * fs[1]];
            int[] idx = new int[n];
            for (int i = 0; i < n; i++) idx[i] = i;
            data.batch(idx, img, lab, feat);
            return new Probe(n, img, lab, feat);
        }
    }

    /**
     * A checkpoint file, a run directory (its latest checkpoint), or a study directory such as
     * {@code bench converge}'s work directory: the latest checkpoint of each run directory in it, by name.
     */
    static List<Path> checkpointsOf(Path p) {
        if (java.nio.file.Files.isDirectory(p) && !hasCheckpoint(p)) {
            List<Path> runs;
            try (java.util.stream.Stream<Path> s = java.nio.file.Files.list(p)) {
                runs = s.filter(java.nio.file.Files::isDirectory).filter(EvalCommand::hasCheckpoint).sorted().toList();
            } catch (java.io.IOException e) {
                throw new IllegalArgumentException("checkpoint " + p + ": " + e.getMessage());
            }
            if (!runs.isEmpty()) return runs.stream().map(d -> erw.training.Trainer.latestCheckpoint(d, "checkpoint")).toList();
        }
        return List.of(erw.training.Trainer.latestCheckpoint(p, "checkpoint"));
    }

    private static boolean hasCheckpoint(Path dir) {
        try (java.util.stream.Stream<Path> s = java.nio.file.Files.list(dir)) {
            return s.anyMatch(f -> f.getFileName().toString().matches("step-\\d{7}\\.safetensors"));
        } catch (java.io.IOException e) {
            return false;
        }
    }

    private static boolean hasEma(Path file) {
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            return f.names().stream().anyMatch(n -> n.startsWith(Checkpoint.EMA_PREFIX));
        }
    }
}
