package erw.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.cli.Main;
import erw.engine.GradCheck;
import erw.engine.Tensor;
import erw.model.Checkpoint;
import erw.model.SiT;
import erw.model.SiTConfig;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsFile;
import erw.sampler.cli.SampleCommand;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoints without erw's metadata (published SiT/REPA/ERW weights saved as safetensors): {@code erw sample}
 * and {@code erw forward} with {@code --model} plus overrides, the sampler-only command too, and one-line errors.
 */
class PublishedCheckpointTest {
    /** {@code --model tiny --input-size 8}: the tiny preset on 8x8 inputs (4 tokens). */
    static final SiTConfig CFG = new SiTConfig(6, 192, 3, 4, 8, 1, 10, 2, 512, 64, 4.0, false, false, 0);
    static final String[] MODEL = {"--model", "tiny", "--input-size", "8"};
    static final String[] SAMPLE = {"--steps", "3", "--sampler", "heun", "--cfg", "1.5", "--classes", "1,4", "--n", "2", "--seed", "3", "--no-progress", "--threads", "2"};

    @TempDir
    Path dir;
    SiT model;

    @BeforeEach
    void model() {
        model = new SiT(CFG).initialize(3);
        int k = 0;
        for (Tensor t : model.parameters().trainable()) GradCheck.fill(t, 500 + k++, 0.05f); // the zero-initialized layers too
    }

    /** The model's tensors under {@code prefix + name}, except those {@code drop} names; no metadata. */
    Path withoutMetadata(String file, String prefix, Predicate<String> drop, boolean learnedSigma) {
        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
        Checkpoint.tensors(model.parameters(), "").forEach((name, v) -> {
            if (drop.test(name)) return;
            if (learnedSigma && name.startsWith("final_layer.linear.")) v = withSigma(v, CFG.inChannels());
            t.put(prefix + name, v);
        });
        Path p = dir.resolve(file);
        SafeTensors.write(p, t, Map.of());
        return p;
    }

    /** SiT's published final layer: 2C output channels per pixel, rows (pixel, channel), the sigma half random. */
    static SafeTensors.Tensor withSigma(SafeTensors.Tensor v, int c) {
        long[] s = v.shape().clone();
        int rows = (int) s[0], cols = s.length > 1 ? (int) s[1] : 1;
        float[] out = new float[2 * v.data().length];
        for (int r = 0; r < rows; r++) {
            int pix = r / c, ch = r % c;
            System.arraycopy(v.data(), r * cols, out, (pix * 2 * c + ch) * cols, cols);
            for (int j = 0; j < cols; j++) out[(pix * 2 * c + c + ch) * cols + j] = 7f + r + j; // sigma: ignored on load
        }
        s[0] = 2L * rows;
        return new SafeTensors.Tensor(s, out);
    }

    static String[] concat(String[]... parts) {
        return java.util.Arrays.stream(parts).flatMap(java.util.Arrays::stream).toArray(String[]::new);
    }

    float[] samples(Path out) {
        try (SafeTensorsFile f = SafeTensors.open(out.resolve("samples.safetensors"))) {
            return f.readFloats("samples");
        }
    }

    /** {@code erw sample ...} that must fail: exit 2, one line on stderr (the sample command prints to System.err); returns it. */
    static String sampleFailure(String... args) {
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code;
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = Main.commandLine().execute(concat(new String[]{"sample"}, args));
        } finally {
            System.setErr(saved);
        }
        String text = err.toString(StandardCharsets.UTF_8).strip();
        assertEquals(2, code, String.join(" ", args) + " -> " + text);
        assertTrue(!text.isEmpty() && !text.contains("\n") && !text.contains("Exception") && text.startsWith("erw sample: "), text);
        return text;
    }

    @Test
    void sampleAndForwardWithModelOnFilesWithoutMetadata() throws Exception {
        Path ours = dir.resolve("erw.safetensors");
        Checkpoint.save(ours, model, Map.of());
        assertEquals(0, CliEndToEndTest.run(concat(new String[]{"sample", "--checkpoint", ours.toString(), "--out", dir.resolve("a").toString()}, SAMPLE)));
        float[] want = samples(dir.resolve("a"));

        // SiT's release: no projector, learned sigma; the same weights give the same samples, bit for bit
        Path sit = withoutMetadata("sit.safetensors", "", SiT::isProjector, true);
        assertEquals(0, CliEndToEndTest.run(concat(new String[]{"sample", "--checkpoint", sit.toString(), "--out", dir.resolve("b").toString()}, MODEL, SAMPLE)));
        assertArrayEquals(want, samples(dir.resolve("b")));
        try (SafeTensorsFile f = SafeTensors.open(dir.resolve("b/samples.safetensors"))) {
            assertEquals("tiny", f.metadata().get("erw.model"));
            assertEquals(CFG, SiTConfig.fromJson(f.metadata().get(Checkpoint.CONFIG_KEY)));
        }
        // the sampler-only command (what sampler-cli's SamplerMain runs) takes the same options
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        SampleCommand cmd = new SampleCommand().streams(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(0, SampleCommand.commandLine(cmd).execute(concat(new String[]{"--checkpoint", sit.toString(), "--out", dir.resolve("c").toString()}, MODEL, SAMPLE)), err.toString());
        assertArrayEquals(want, samples(dir.resolve("c")));

        // a training checkpoint's layout: ema.* next to other raw weights; --ema picks the EMA copy
        Path repa = withoutMetadata("repa.safetensors", "ema.", n -> false, false);
        Map<String, SafeTensors.Tensor> both = new LinkedHashMap<>();
        try (SafeTensorsFile f = SafeTensors.open(repa)) {
            for (String n : f.names()) {
                both.put(n, new SafeTensors.Tensor(f.shape(n), f.readFloats(n)));
                float[] raw = f.readFloats(n);
                for (int i = 0; i < raw.length; i++) raw[i] = -raw[i];
                both.put(n.substring(4), new SafeTensors.Tensor(f.shape(n), raw));
            }
        }
        SafeTensors.write(repa, both, Map.of());
        assertEquals(0, CliEndToEndTest.run(concat(new String[]{"sample", "--checkpoint", repa.toString(), "--ema", "--out", dir.resolve("d").toString()}, MODEL, SAMPLE)));
        assertArrayEquals(want, samples(dir.resolve("d")));
        assertEquals(0, CliEndToEndTest.run(concat(new String[]{"sample", "--checkpoint", repa.toString(), "--out", dir.resolve("e").toString()}, MODEL, SAMPLE)));
        assertTrue(!java.util.Arrays.equals(want, samples(dir.resolve("e"))), "without --ema the plain (here other) weights are sampled");

        // erw forward reads the same options: --ema on the REPA layout = the erw checkpoint
        Path in = dir.resolve("in.safetensors");
        float[] x = new float[2 * 64];
        erw.engine.host.Philox.normal(1, 1, 0, x, 0, x.length);
        SafeTensors.write(in, Map.of("x", new SafeTensors.Tensor(new long[]{2, 1, 8, 8}, x), "t", new SafeTensors.Tensor(new long[]{2}, new float[]{0.3f, 0.8f}),
                "y", new SafeTensors.Tensor(new long[]{2}, new float[]{2, 10})), Map.of());
        assertEquals(0, CliEndToEndTest.run("forward", "--checkpoint", ours.toString(), "--input", in.toString(), "--out", dir.resolve("f1.safetensors").toString()));
        assertEquals(0, CliEndToEndTest.run(concat(new String[]{"forward", "--checkpoint", repa.toString(), "--ema", "--input", in.toString(), "--out", dir.resolve("f2.safetensors").toString()}, MODEL)));
        try (SafeTensorsFile a = SafeTensors.open(dir.resolve("f1.safetensors")); SafeTensorsFile b = SafeTensors.open(dir.resolve("f2.safetensors"))) {
            assertArrayEquals(a.readFloats("velocity"), b.readFloats("velocity"));
            assertArrayEquals(a.readFloats("zs"), b.readFloats("zs"));
        }
    }

    @Test
    void whatCannotBeLoadedIsOneLineNamingTheFileOrOption() {
        Path sit = withoutMetadata("sit.safetensors", "", SiT::isProjector, true);
        String out = dir.resolve("o").toString();
        String s = sampleFailure("--checkpoint", sit.toString(), "--out", out);
        assertTrue(s.contains(sit + " has no 'erw.config' metadata") && s.contains("pass --model NAME"), s);
        s = sampleFailure("--checkpoint", sit.toString(), "--model", "SiT-Q/2", "--out", out);
        assertTrue(s.contains("--model: unknown model 'SiT-Q/2'"), s);
        s = sampleFailure("--checkpoint", sit.toString(), "--num-heads", "3", "--out", out);
        assertTrue(s.contains("--num-heads overrides a --model config: give --model NAME too"), s);
        s = sampleFailure("--checkpoint", sit.toString(), "--model", "tiny", "--out", out); // 32x32 inputs: other table sizes
        assertTrue(s.contains(sit + ": 1 problem: shape of pos_embed is [1, 4, 192], expected [1, 64, 192]") && s.contains("check --model and its overrides"), s);
        s = sampleFailure(concat(new String[]{"--checkpoint", sit.toString(), "--num-heads", "5", "--out", out}, MODEL));
        assertTrue(s.contains("--model tiny with the given overrides: model config: num_heads = 5 must be a divisor of hidden_size 192"), s);
        s = sampleFailure(concat(new String[]{"--checkpoint", sit.toString(), "--model", "SiT-S/2", "--input-size", "8", "--in-channels", "1", "--out", out}));
        assertTrue(s.contains("problems: ") && s.contains("; and ") && s.contains(" more (the config came from --model"), "a wrong preset lists a few problems: " + s);
        Path gap = withoutMetadata("gap.safetensors", "", n -> SiT.isProjector(n) || n.equals("blocks.5.mlp.fc2.bias"), false);
        s = sampleFailure(concat(new String[]{"--checkpoint", gap.toString(), "--out", out}, MODEL));
        assertTrue(s.contains(gap + ": 1 problem: missing blocks.5.mlp.fc2.bias (expected [192])"), s);
        Path emaOnly = withoutMetadata("ema-only.safetensors", "ema.", n -> false, false);
        s = sampleFailure(concat(new String[]{"--checkpoint", emaOnly.toString(), "--out", out}, MODEL));
        assertTrue(s.contains(emaOnly + " holds only EMA weights ('ema.*' tensors): add --ema"), s);
        s = sampleFailure(concat(new String[]{"--checkpoint", sit.toString(), "--ema", "--out", out}, MODEL));
        assertTrue(s.contains("holds no EMA weights"), s);
        // erw forward needs the projector the published SiT lacks
        s = CliEndToEndTest.failure(concat(new String[]{"forward", "--checkpoint", sit.toString(), "--input", sit.toString(), "--out", out}, MODEL));
        assertTrue(s.contains(sit + ": 6 problems: missing projectors.0.0.weight"), s);
        assertTrue(CliEndToEndTest.failure("forward", "--checkpoint", sit.toString(), "--input", sit.toString(), "--out", out, "--z-dim", "8").contains("--z-dim overrides a --model config"));
    }
}
