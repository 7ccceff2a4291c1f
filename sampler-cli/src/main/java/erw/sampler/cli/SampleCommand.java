package erw.sampler.cli;

import erw.sampler.*;

import erw.engine.Backend;
import erw.engine.Precision;
import erw.engine.host.WorkerPool;
import erw.model.Checkpoint;
import erw.model.SiT;
import erw.model.SiTConfig;
import erw.model.Vae;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsException;
import erw.model.io.SafeTensorsFile;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.IntFunction;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sample}: draws samples from a checkpoint with the SDE, ODE or Heun sampler (SPEC section 6)
 * and writes {@code samples.safetensors} (samples (N,C,H,W), labels (N)) and, for 1 or 3 channels,
 * {@code samples.png}. Bad input gives one line on stderr and exit code 2.
 */
@Command(name = "sample", mixinStandardHelpOptions = true, sortOptions = false, version = "erw 0.1.0",
        description = {"Draw samples from a checkpoint (Euler-Maruyama SDE, ODE Euler or Heun; classifier-free guidance).",
                "Writes OUT/samples.safetensors (samples (N,C,H,W) F32, labels (N) F32) and, for 1 or 3 channels, OUT/samples.png.",
                "The config comes from the checkpoint's erw.config metadata; a file without it (published SiT/REPA/ERW weights saved as safetensors) needs --model NAME plus overrides.",
                "Weights: the plain <name> tensors, or with --ema their ema.<name> copies (as erw forward). The projector is not used, so its tensors may be absent."})
public final class SampleCommand implements Callable<Integer> {
    /** Exit code for bad input. */
    public static final int BAD_INPUT = 2;
    /** Samples one run may draw (they are all kept in memory and written as one file). */
    static final long MAX_SAMPLES = 1 << 24;

    @Option(names = "--checkpoint", required = true, paramLabel = "FILE", description = "Model checkpoint (safetensors).")
    Path checkpoint;

    @Option(names = "--ema", description = {"Load the EMA weights (ema.<name> tensors, as erw's training checkpoints hold them) instead of the plain <name> ones.",
            "A model-only file (erw's, or one from tools/torch/convert_checkpoint.py, which writes the chosen weights under plain names) needs no --ema."})
    boolean ema;

    @Option(names = "--steps", defaultValue = "250", paramLabel = "K", description = "Sampler steps (>= 2; default ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--sampler", defaultValue = "sde", paramLabel = "sde|ode|heun", description = "Integrator (default ${DEFAULT-VALUE}).")
    String sampler;

    @Option(names = "--cfg", defaultValue = "1.0", paramLabel = "S", description = "Classifier-free guidance scale (>= 0; 1 = none; default ${DEFAULT-VALUE}).")
    double cfg;

    @Option(names = "--guidance-interval", defaultValue = "0,1", paramLabel = "LO,HI", description = "Guide only while LO <= t <= HI (default ${DEFAULT-VALUE}).")
    String guidanceInterval;

    @Option(names = "--classes", paramLabel = "C1,C2,...", description = "Class ids; each gets --n samples (grid rows = classes). Omitted: --n samples of random classes (seeded).")
    String classes;

    @Option(names = "--n", defaultValue = "8", paramLabel = "N", description = "Samples per class, or in all without --classes (default ${DEFAULT-VALUE}).")
    int n;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the noise and of random classes (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--initial-noise", paramLabel = "FILE", description = "Initial x at t = 1 from a safetensors file (tensor 'x' or its only tensor, shape (N,C,H,W)).")
    Path initialNoise;

    @Option(names = "--vae", paramLabel = "FILE", description = {"Decode latent samples to images with this SD-VAE (diffusers AutoencoderKL safetensors, e.g. sd-vae-ft-mse's diffusion_pytorch_model.safetensors):",
            "writes OUT/images/NNNNNN-class-K.png per sample and the grid OUT/samples.png of the decoded images."})
    Path vae;

    @Option(names = "--latent-scale", paramLabel = "S", description = "Factor the training latents were scaled by; decoding divides by it (default: the VAE's scaling_factor, 0.18215 for the SD VAE).")
    Float latentScale;

    @Option(names = "--latent-shift", defaultValue = "0", paramLabel = "B", description = "Shift added after scaling in training (decoding subtracts it first; default ${DEFAULT-VALUE}).")
    float latentShift;

    @Option(names = "--out", defaultValue = "samples", paramLabel = "DIR", description = "Output directory (default ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--threads", paramLabel = "T", description = "CPU worker threads (default: -Derw.threads or the number of cores).")
    Integer threads;

    @Option(names = "--backend", paramLabel = "B", description = "cpu | tornado | auto (default ${DEFAULT-VALUE}).")
    String backendName = "auto";

    @Option(names = "--batch", defaultValue = "64", paramLabel = "B", description = "Samples per model batch (2B rows while guided; default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--precision", defaultValue = "fp32", paramLabel = "P", description = "Number format of the model's GEMM operands: fp32 | tf32 | bf16 "
            + "(fp32 accumulation; default ${DEFAULT-VALUE}).")
    String precisionName;

    @Option(names = "--no-progress", description = "No progress bar on stderr.")
    boolean noProgress;

    @CommandLine.Mixin
    ModelOverrides overrides = new ModelOverrides();

    private PrintStream stdout = System.out, stderr = System.err;
    private IntFunction<Backend> backendFactory;

    /** Where the summary and the errors go (tests). */
    public SampleCommand streams(PrintStream out, PrintStream err) {
        this.stdout = out;
        this.stderr = err;
        return this;
    }

    /** Backend from the thread count (null = default); the erw CLI plugs other backends in here. */
    public SampleCommand backendFactory(IntFunction<Backend> factory) {
        this.backendFactory = factory;
        return this;
    }

    /** Bad user input: reported as one line, exit code 2. */
    public static final class BadInput extends RuntimeException {
        public BadInput(String message) {
            super(message);
        }
    }

    /** A CommandLine for this command whose parse errors are one line on stderr with exit code 2. */
    public static CommandLine commandLine(SampleCommand cmd) {
        CommandLine cl = new CommandLine(cmd);
        oneLineErrors(cl, cmd.stderr);
        return cl;
    }

    /** Makes parse errors one line ("erw sample: ...", exit 2) and unexpected failures one line (exit 1). */
    public static CommandLine oneLineErrors(CommandLine cl, PrintStream err) {
        cl.setParameterExceptionHandler((ex, args) -> {
            err.println(prefix(ex.getCommandLine()) + ex.getMessage() + " (see --help)");
            return BAD_INPUT;
        });
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            err.println(prefix(c) + "error: " + ex);
            if (Boolean.getBoolean("erw.stacktrace")) ex.printStackTrace(err);
            return 1;
        });
        return cl;
    }

    /** "erw sample: " whether the command runs alone (sampler-only mode) or under the erw CLI. */
    private static String prefix(CommandLine c) {
        String q = c.getCommandSpec().qualifiedName();
        return (q.equals("erw") || q.startsWith("erw ") ? q : "erw " + q) + ": ";
    }

    @Override
    public Integer call() {
        try {
            run();
            return 0;
        } catch (BadInput e) {
            stderr.println("erw sample: " + e.getMessage());
            return BAD_INPUT;
        }
    }

    /** The validated settings that do not need the model. */
    record Settings(SamplerKind kind, Sampler.Options options, int[] classes, Precision precision) {}

    Settings validate() {
        if (checkpoint == null) throw new BadInput("--checkpoint FILE is required");
        if (!Files.exists(checkpoint)) throw new BadInput("checkpoint " + checkpoint + " does not exist");
        if (!Files.isRegularFile(checkpoint)) throw new BadInput("checkpoint " + checkpoint + " is not a file");
        SamplerKind kind;
        try {
            kind = SamplerKind.parse(sampler);
        } catch (IllegalArgumentException e) {
            throw new BadInput(e.getMessage());
        }
        if (steps < 2) throw new BadInput("--steps must be >= 2, got " + steps);
        if (!(cfg >= 0) || Double.isInfinite(cfg)) throw new BadInput("--cfg must be a finite number >= 0, got " + cfg);
        double[] gi = parseInterval(guidanceInterval);
        Precision precision;
        try {
            precision = Precision.parse("--precision", precisionName);
        } catch (IllegalArgumentException e) {
            throw new BadInput(e.getMessage());
        }
        if (n < 1) throw new BadInput("--n must be >= 1, got " + n);
        if (n > MAX_SAMPLES) throw new BadInput("--n " + n + " is more than " + MAX_SAMPLES + " samples in one run");
        if (batch < 1) throw new BadInput("--batch must be >= 1, got " + batch);
        if (threads != null && threads < 1) throw new BadInput("--threads must be >= 1, got " + threads);
        int[] cls = classes == null ? null : parseClasses(classes);
        if (initialNoise != null && !Files.isRegularFile(initialNoise)) throw new BadInput("--initial-noise " + initialNoise + " does not exist");
        if (vae != null && !Files.isRegularFile(vae)) throw new BadInput("--vae " + vae + " does not exist");
        if (latentScale != null && !(latentScale > 0 && Float.isFinite(latentScale))) throw new BadInput("--latent-scale must be a positive number, got " + latentScale);
        if (latentScale != null && vae == null) throw new BadInput("--latent-scale needs --vae FILE (it sets how latents are decoded)");
        if (!Float.isFinite(latentShift)) throw new BadInput("--latent-shift must be a finite number, got " + latentShift);
        if (latentShift != 0 && vae == null) throw new BadInput("--latent-shift needs --vae FILE (it sets how latents are decoded)");
        return new Settings(kind, new Sampler.Options(kind, steps, cfg, gi[0], gi[1], seed), cls, precision);
    }

    static double[] parseInterval(String s) {
        String[] p = s == null ? new String[0] : s.split(",", -1);
        double lo, hi;
        try {
            if (p.length != 2) throw new NumberFormatException();
            lo = Double.parseDouble(p[0].trim());
            hi = Double.parseDouble(p[1].trim());
        } catch (NumberFormatException e) {
            throw new BadInput("--guidance-interval '" + s + "' must be two numbers LO,HI (e.g. 0,0.7)");
        }
        if (!(lo >= 0 && lo <= hi && hi <= 1)) throw new BadInput("--guidance-interval " + s + " must satisfy 0 <= LO <= HI <= 1");
        return new double[]{lo, hi};
    }

    static int[] parseClasses(String s) {
        String[] p = s.split(",", -1);
        int[] out = new int[p.length];
        for (int i = 0; i < p.length; i++) {
            try {
                out[i] = Integer.parseInt(p[i].trim());
            } catch (NumberFormatException e) {
                throw new BadInput("--classes '" + s + "': '" + p[i].trim() + "' is not a class id (use e.g. --classes 0,1,2)");
            }
            if (out[i] < 0) throw new BadInput("--classes: class id " + out[i] + " is negative");
        }
        return out;
    }

    private void run() {
        Settings st = validate();
        SiT model;
        try {
            model = Checkpoint.loadForSampling(checkpoint, ema, overrides.config());
        } catch (IllegalArgumentException | SafeTensorsException | UncheckedIOException e) {
            throw new BadInput(e.getMessage());
        }
        SiTConfig mc = model.config();
        if (mc.truncated()) throw new BadInput(checkpoint + " holds the ERW warmup model (no velocity head): sample from a full-model checkpoint");
        int numClasses = mc.numClasses();
        float[] labels;
        int cols;
        if (st.classes() != null) {
            for (int c : st.classes()) {
                if (c >= numClasses) throw new BadInput("--classes: class id " + c + " is out of range [0, " + numClasses + ") for this model");
            }
            if ((long) st.classes().length * n > MAX_SAMPLES) {
                throw new BadInput("--classes x --n = " + st.classes().length + " x " + n + " samples is more than " + MAX_SAMPLES + " in one run");
            }
            labels = new float[st.classes().length * n];
            for (int i = 0; i < st.classes().length; i++) Arrays.fill(labels, i * n, (i + 1) * n, st.classes()[i]);
            cols = n;
        } else {
            labels = Sampler.randomLabels(seed, n, numClasses);
            cols = Math.min(8, n);
        }
        int total = labels.length, c = mc.inChannels(), side = mc.inputSize(), d = c * side * side;
        // samples, their copy in the output file and the PNG grid, plus one guided model batch: refused up front when they cannot fit
        long rowsPerCall = (long) Math.min(batch, total) * (cfg > 1 ? 2 : 1);
        long need = erw.model.MemoryBudget.times(12L * d, total);
        long act = erw.model.ModelSizes.activationFloats(mc, rowsPerCall);
        need = need < 0 || act == Long.MAX_VALUE ? -1 : need + 4 * act;
        try {
            erw.model.MemoryBudget.require(need, total + " samples of " + c + "x" + side + "x" + side + " (model batch " + rowsPerCall + " rows)",
                    "lower --n or --batch, or give the JVM more heap (ERW_JAVA_OPTS=-Xmx...)");
        } catch (IllegalArgumentException e) {
            throw new BadInput(e.getMessage());
        }
        float[] x0 = initialNoise == null ? null : readInitialNoise(initialNoise, total, c, side);
        Vae decoderVae = null;
        if (vae != null) {
            try {
                decoderVae = Vae.load(vae, Vae.Part.DECODER);
            } catch (IllegalArgumentException | SafeTensorsException | UncheckedIOException e) {
                throw new BadInput("--vae " + e.getMessage());
            }
            if (decoderVae.config().latentChannels() != c) {
                throw new BadInput("--vae " + vae + " decodes " + decoderVae.config().latentChannels() + "-channel latents, the model's samples have " + c + " channels");
            }
        }

        Backend backend;
        if (backendFactory != null) {
            backend = backendFactory.apply(threads == null ? 0 : threads);
        } else {
            erw.engine.Backends.Choice choice;
            try {
                choice = erw.engine.Backends.choose(backendName);
            } catch (IllegalArgumentException e) {
                throw new BadInput(e.getMessage());
            }
            backend = choice.create(threads != null ? threads : WorkerPool.defaultThreads());
        }
        WorkerPool pool = backend.host();
        float[] samples = new float[total * d];
        float[] images = null;
        List<String> written = new ArrayList<>();
        double sampleSeconds, decodeSeconds = 0;
        long t0 = System.nanoTime();
        long rows = 0;
        LatentImages.Decoder decoder = null;
        try (backend; SiTVelocity field = new SiTVelocity(model, backend, st.precision())) {
            if (decoderVae != null) { // compiled before sampling: a heap too small for it fails now, not after
                try {
                    decoder = new LatentImages.Decoder(decoderVae, backend, side, side,
                            latentScale != null ? latentScale : decoderVae.config().scalingFactor(), latentShift);
                } catch (OutOfMemoryError e) {
                    throw new BadInput("--vae: decoding " + side + "x" + side + " latents needs more heap than this JVM has (ERW_JAVA_OPTS=-Xmx...)");
                }
            }
            Sampler s = new Sampler(field, d, st.options(), pool);
            int batches = (total + batch - 1) / batch;
            ProgressBar bar = noProgress ? null : new ProgressBar(stderr, "sampling " + st.kind().name().toLowerCase(Locale.ROOT), (long) batches * steps);
            for (int first = 0; first < total; first += batch) {
                int m = Math.min(batch, total - first);
                float[] x = new float[m * d];
                if (x0 != null) System.arraycopy(x0, first * d, x, 0, m * d);
                else Sampler.initialNoise(seed, first, m, d, x, pool);
                if (bar != null) bar.nextBatch();
                Sampler.Stats stats = s.sample(x, Arrays.copyOfRange(labels, first, first + m), first, bar);
                rows += stats.rowsEvaluated();
                System.arraycopy(x, 0, samples, first * d, m * d);
            }
            if (bar != null) bar.finish();
            sampleSeconds = (System.nanoTime() - t0) * 1e-9;
            // the latents are written before decoding: whatever happens to the decoder, they are kept
            written.add(writeLatents(st, samples, total, c, side, labels, mc).toString());
            if (decoder != null) {
                ProgressBar db = noProgress ? null : new ProgressBar(stderr, "decoding (VAE)", total, "images");
                long t1 = System.nanoTime();
                images = decoder.decode(samples, total, db);
                if (db != null) db.finish();
                decodeSeconds = (System.nanoTime() - t1) * 1e-9;
            }
        } finally {
            if (decoder != null) decoder.close();
        }
        double sec = sampleSeconds;
        if (images != null) {
            int ic = decoderVae.config().outChannels(), is = side * decoderVae.config().downsampling();
            Path dir = out.resolve("images");
            LatentImages.writePngs(dir, images, total, ic, is, is, labels);
            written.add(dir + "/ (" + total + " PNGs, " + is + "x" + is + ")");
            Path png = out.resolve("samples.png");
            SampleOutput.writePng(png, SampleOutput.grid(images, total, ic, is, is, cols));
            written.add(png.toString());
        } else if (c == 1 || c == 3) {
            Path png = out.resolve("samples.png");
            SampleOutput.writePng(png, SampleOutput.grid(samples, total, c, side, side, cols));
            written.add(png.toString());
        }
        stdout.printf(Locale.ROOT, "%d samples (%s, %d steps, cfg %s, %d model rows) in %.1f s (%.2f samples/s)%s: %s%n",
                total, st.kind().name().toLowerCase(Locale.ROOT), steps, cfg, rows, sec, total / sec,
                images == null ? "" : String.format(Locale.ROOT, ", decoded in %.1f s", decodeSeconds), String.join(", ", written));
    }

    /** Writes OUT/samples.safetensors (latents and labels, with the run's settings as metadata). */
    private Path writeLatents(Settings st, float[] samples, int total, int c, int side, float[] labels, SiTConfig mc) {
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + out + ": " + e.getMessage(), e);
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put(Checkpoint.CONFIG_KEY, mc.toJson());
        meta.put("erw.checkpoint", checkpoint.toString());
        meta.put("erw.weights", ema ? "ema" : "raw");
        if (overrides.model != null) meta.put("erw.model", overrides.model);
        meta.put("erw.sampler", st.kind().name().toLowerCase(Locale.ROOT));
        meta.put("erw.precision", st.precision().id());
        meta.put("erw.steps", Integer.toString(steps));
        meta.put("erw.cfg", Double.toString(cfg));
        meta.put("erw.guidance_interval", st.options().guidanceLow() + "," + st.options().guidanceHigh());
        meta.put("erw.seed", Long.toString(seed));
        meta.put("erw.initial_noise", initialNoise == null ? "philox" : initialNoise.toString());
        if (vae != null) meta.put("erw.vae", vae.toString());
        Path file = out.resolve("samples.safetensors");
        SampleOutput.writeSafetensors(file, samples, total, c, side, side, labels, meta);
        return file;
    }

    /** Tensor 'x' (or the file's only tensor), which must be (total, C, H, W). */
    static float[] readInitialNoise(Path file, int total, int c, int side) {
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            String name;
            if (f.contains("x")) {
                name = "x";
            } else {
                List<String> names = new ArrayList<>(f.names());
                if (names.size() != 1) throw new BadInput("--initial-noise " + file + ": expected a tensor named 'x' or a single tensor, found " + names);
                name = names.get(0);
            }
            long[] shape = f.shape(name);
            long[] want = {total, c, side, side};
            if (!Arrays.equals(shape, want)) {
                throw new BadInput("--initial-noise " + file + ": tensor '" + name + "' has shape " + Arrays.toString(shape)
                        + ", expected " + Arrays.toString(want) + " (N = " + total + " samples, C, H, W of the model)");
            }
            float[] x = f.readFloats(name);
            int bad = Checkpoint.firstNonFinite(x);
            if (bad >= 0) throw new BadInput("--initial-noise " + file + ": tensor '" + name + "' holds a non-finite value (" + x[bad] + " at index " + bad + ")");
            return x;
        } catch (SafeTensorsException e) {
            throw new BadInput("--initial-noise " + file + ": " + e.getMessage());
        }
    }
}
