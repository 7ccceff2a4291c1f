package erw.sampler.cli;

import erw.sampler.*;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.model.Checkpoint;
import erw.model.SiT;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsFile;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code sample} command: outputs, initial noise, and one-line errors with exit code 2. */
class SampleCommandTest {
    @TempDir
    Path dir;

    record Result(int code, String out, String err) {}

    Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        SampleCommand cmd = new SampleCommand().streams(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        int code = SampleCommand.commandLine(cmd).execute(args);
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    Path checkpoint() {
        Path f = dir.resolve("tiny.safetensors");
        if (!Files.exists(f)) Checkpoint.save(f, randomTiny(), Map.of());
        return f;
    }

    /** --checkpoint, --steps 3, --no-progress, --out DIR/out, unless {@code extra} sets them. */
    List<String> args(String... extra) {
        List<String> given = List.of(extra);
        List<String> a = new ArrayList<>(List.of("--checkpoint", checkpoint().toString(), "--no-progress"));
        if (!given.contains("--steps")) a.addAll(List.of("--steps", "3"));
        if (!given.contains("--out")) a.addAll(List.of("--out", dir.resolve("out").toString()));
        a.addAll(given);
        return a;
    }

    void assertBadInput(Result r, String fragment) {
        assertEquals(2, r.code(), "exit code; stderr: " + r.err());
        assertEquals(1, r.err().lines().count(), "one line on stderr: " + r.err());
        assertTrue(r.err().contains(fragment), "stderr '" + r.err().strip() + "' mentions '" + fragment + "'");
    }

    @Test
    void writesSamplesLabelsAndAGrid() throws Exception {
        Result r = run(args("--classes", "0,2", "--n", "3", "--cfg", "1.5", "--guidance-interval", "0,0.7", "--sampler", "heun").toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        Path out = dir.resolve("out");
        try (SafeTensorsFile f = SafeTensors.open(out.resolve("samples.safetensors"))) {
            assertArrayEquals(new long[]{6, 1, 8, 8}, f.shape("samples"));
            assertArrayEquals(new float[]{0, 0, 0, 2, 2, 2}, f.readFloats("labels"));
            for (float v : f.readFloats("samples")) assertTrue(Float.isFinite(v));
            assertEquals("heun", f.metadata().get("erw.sampler"));
        }
        BufferedImage png = ImageIO.read(out.resolve("samples.png").toFile());
        int pad = SampleOutput.PAD;
        assertEquals(3 * 8 + 4 * pad, png.getWidth(), "columns = samples per class");
        assertEquals(2 * 8 + 3 * pad, png.getHeight(), "rows = classes");
        assertTrue(r.out().contains("6 samples"), r.out());
    }

    @Test
    void initialNoiseFileReplacesThePhiloxNoise() throws Exception {
        Result a = run(args("--n", "5", "--seed", "4").toArray(String[]::new));
        assertEquals(0, a.code(), a.err());
        float[] samples, labels;
        try (SafeTensorsFile f = SafeTensors.open(dir.resolve("out/samples.safetensors"))) {
            samples = f.readFloats("samples");
            labels = f.readFloats("labels");
        }
        float[] x0 = new float[5 * 64];
        Sampler.initialNoise(4, 0, 5, 64, x0, null);
        Path noise = dir.resolve("noise.safetensors");
        SafeTensors.write(noise, Map.of("latents", new SafeTensors.Tensor(new long[]{5, 1, 8, 8}, x0)), Map.of());
        Result b = run(args("--n", "5", "--seed", "4", "--initial-noise", noise.toString(), "--out", dir.resolve("out2").toString()).toArray(String[]::new));
        assertEquals(0, b.code(), b.err());
        try (SafeTensorsFile f = SafeTensors.open(dir.resolve("out2/samples.safetensors"))) {
            // same noise, same samples, bit for bit
            assertArrayEquals(samples, f.readFloats("samples"));
            assertArrayEquals(labels, f.readFloats("labels"));
        }
        assertArrayEquals(x0, SampleCommand.readInitialNoise(noise, 5, 1, 8), "the only tensor, read as is");
        // random classes: 8 columns at most
        BufferedImage png = ImageIO.read(dir.resolve("out/samples.png").toFile());
        assertEquals(5 * 8 + 6 * SampleOutput.PAD, png.getWidth());
    }

    @Test
    void batchingDoesNotChangeTheSamples() throws Exception {
        assertEquals(0, run(args("--n", "5", "--classes", "1", "--batch", "64").toArray(String[]::new)).code());
        float[] whole;
        try (SafeTensorsFile f = SafeTensors.open(dir.resolve("out/samples.safetensors"))) {
            whole = f.readFloats("samples");
        }
        assertEquals(0, run(args("--n", "5", "--classes", "1", "--batch", "2", "--out", dir.resolve("o2").toString()).toArray(String[]::new)).code());
        try (SafeTensorsFile f = SafeTensors.open(dir.resolve("o2/samples.safetensors"))) {
            // another batch size is another GEMM shape: equal up to rounding
            assertArrayEquals(whole, f.readFloats("samples"), 1e-4f);
        }
    }

    /** --precision bf16 samples with bf16 GEMM operands: close to fp32's samples, not equal, and recorded in the file. */
    @Test
    void bf16SamplesStayNearFp32() throws Exception {
        float[][] s = new float[2][];
        String[] precisions = {"fp32", "bf16"};
        for (int i = 0; i < 2; i++) {
            Path out = dir.resolve("prec-" + precisions[i]);
            Result r = run(args("--n", "4", "--sampler", "heun", "--precision", precisions[i], "--out", out.toString()).toArray(String[]::new));
            assertEquals(0, r.code(), r.err());
            try (SafeTensorsFile f = SafeTensors.open(out.resolve("samples.safetensors"))) {
                s[i] = f.readFloats("samples");
                assertEquals(precisions[i], f.metadata().get("erw.precision"));
            }
        }
        double diff = 0, norm = 0;
        for (int j = 0; j < s[0].length; j++) {
            diff += (s[1][j] - s[0][j]) * (double) (s[1][j] - s[0][j]);
            norm += s[0][j] * (double) s[0][j];
        }
        double rel = Math.sqrt(diff / norm);
        assertTrue(rel > 0 && rel < 0.02, "bf16 vs fp32 samples: relative difference " + rel);
        assertBadInput(run(args("--precision", "fp16").toArray(String[]::new)), "--precision = fp16 must be fp32, tf32 or bf16");
    }

    @Test
    void badInputIsOneLineAndExitCode2() throws Exception {
        assertBadInput(run("--checkpoint", dir.resolve("nope.safetensors").toString()), "does not exist");
        assertBadInput(run(args("--classes", "0,3").toArray(String[]::new)), "out of range [0, 3)");
        assertBadInput(run(args("--classes", "0,x").toArray(String[]::new)), "not a class id");
        assertBadInput(run(args("--steps", "1").toArray(String[]::new)), "--steps must be >= 2");
        assertBadInput(run(args("--guidance-interval", "0.8,0.2").toArray(String[]::new)), "--guidance-interval");
        assertBadInput(run(args("--guidance-interval", "abc").toArray(String[]::new)), "two numbers");
        assertBadInput(run(args("--cfg", "-1").toArray(String[]::new)), "--cfg must be");
        assertBadInput(run(args("--sampler", "rk4").toArray(String[]::new)), "sde, ode or heun");
        assertBadInput(run(args("--n", "0").toArray(String[]::new)), "--n must be");
        assertBadInput(run("--steps", "10"), "--checkpoint");
        assertBadInput(run(args("--steps", "ten").toArray(String[]::new)), "--steps");
        Path noise = dir.resolve("bad-noise.safetensors");
        SafeTensors.write(noise, Map.of("x", new SafeTensors.Tensor(new long[]{2, 1, 8, 8}, new float[128])), Map.of());
        assertBadInput(run(args("--n", "3", "--initial-noise", noise.toString()).toArray(String[]::new)), "expected [3, 1, 8, 8]");
        Path junk = dir.resolve("junk.safetensors");
        Files.writeString(junk, "not a safetensors file");
        assertBadInput(run("--checkpoint", junk.toString()), junk.toString());
    }

    /** A tiny SiT with every parameter random (the zero-initialized final layer would give v = 0). */
    static erw.model.SiT randomTiny() {
        erw.model.SiT m = new erw.model.SiT(new erw.model.SiTConfig(2, 32, 2, 2, 8, 1, 3, 1, 16, 8, 4.0, false, false, 0)).initialize(0);
        int stream = 1000;
        for (erw.engine.Tensor p : m.parameters().trainable()) {
            float[] v = p.data();
            float[] r = new float[v.length];
            erw.engine.host.Philox.normal(7, stream++, 0, r, 0, r.length);
            for (int i = 0; i < v.length; i++) v[i] += 0.2f * r[i];
        }
        return m;
    }
}
