package erw.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.cli.Main;
import erw.engine.host.Philox;
import erw.model.io.Npy;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The user's path through the CLI: import own data, train an encoder, add features, train ERW, resume, sample. */
class CliEndToEndTest {
    static int run(String... args) {
        CommandLine cl = Main.commandLine();
        StringWriter err = new StringWriter();
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        if (code != 0) System.err.println(String.join(" ", args) + "\n" + err);
        return code;
    }

    @Test
    void importEncoderFeaturesTrainResumeSample(@TempDir Path dir) throws Exception {
        int n = 96;
        float[] img = new float[n * 16 * 16], lab = new float[n];
        Philox.normal(3, 3, 0, img, 0, img.length);
        for (int i = 0; i < n; i++) {
            lab[i] = i % 3;
            for (int p = 0; p < 256; p++) img[i * 256 + p] = 0.2f * img[i * 256 + p] + ((p % 16) / 5 == i % 3 ? 0.8f : -0.8f);
        }
        Npy.write(dir.resolve("x.npy"), new long[]{n, 1, 16, 16}, img);
        Npy.write(dir.resolve("y.npy"), new long[]{n}, lab);
        Path data = dir.resolve("data"), enc = dir.resolve("enc.safetensors"), runDir = dir.resolve("run");
        assertEquals(0, run("data", "import", "--images", dir.resolve("x.npy").toString(), "--labels", dir.resolve("y.npy").toString(), "--out", data.toString()));
        assertEquals(0, run("encoder", "train", "--data", data.toString(), "--out", enc.toString(), "--steps", "15", "--batch", "16", "--depth", "1", "--hidden", "32"));
        assertEquals(0, run("data", "features", "--data", data.toString(), "--encoder", enc.toString()));
        assertEquals(0, run("data", "inspect", data.toString()));
        String[] train = {"train", "--data", data.toString(), "--out", runDir.toString(), "--steps", "6", "--warmup-steps", "2", "--batch", "8",
                "--depth", "2", "--hidden", "32", "--heads", "2", "--encoder-depth", "1", "--l2r-depth", "1", "--projector-dim", "16",
                "--checkpoint-every", "3", "--sample-steps", "3", "--log-every", "2"};
        assertEquals(0, run(train));
        assertTrue(Files.exists(runDir.resolve("step-0000006.safetensors")) && Files.exists(runDir.resolve("loss.png"))
                && Files.exists(runDir.resolve("samples-0000006.png")) && Files.exists(runDir.resolve("metrics.jsonl")));
        // resume from step 3 (in phase 2) reproduces the final checkpoint bit for bit
        byte[] straight = Files.readAllBytes(runDir.resolve("step-0000006.safetensors"));
        Files.delete(runDir.resolve("step-0000006.safetensors"));
        assertEquals(0, run("train", "--data", data.toString(), "--resume", runDir.toString()));
        assertTrue(java.util.Arrays.equals(straight, Files.readAllBytes(runDir.resolve("step-0000006.safetensors"))), "resumed checkpoint differs");
        // the resumed steps replace those the first run logged after the checkpoint: each step once, in order
        List<String> steps = Files.readAllLines(runDir.resolve("metrics.jsonl")).stream().map(l -> l.replaceAll(".*\"step\":(\\d+).*", "$1")).toList();
        assertEquals(steps.stream().distinct().sorted(java.util.Comparator.comparingInt(Integer::parseInt)).toList(), steps, "metrics.jsonl steps after the resume");
        assertEquals(0, run("sample", "--checkpoint", runDir.resolve("step-0000006.safetensors").toString(), "--ema", "--steps", "3", "--n", "2",
                "--classes", "0,2", "--no-progress", "--out", dir.resolve("samples").toString()));
        assertTrue(Files.exists(dir.resolve("samples/samples.png")));
        // scoring: an evaluator made for this dataset, FD, accuracy and CKNNA of block 1
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        java.io.PrintStream stdout = System.out;
        System.setOut(new java.io.PrintStream(out, true));
        try {
            assertEquals(0, run("eval", runDir.toString(), "--data", data.toString(), "--data-root", dir.resolve("root").toString(), "--samples", "12",
                    "--sampling-steps", "3", "--evaluator-steps", "30", "--cknna-images", "40"));
            // a study directory (runs in sub-directories, as bench converge's --work): each run's newest checkpoint
            assertEquals(0, run("eval", dir.toString(), "--data", data.toString(), "--data-root", dir.resolve("root").toString(), "--samples", "12",
                    "--sampling-steps", "3", "--cknna-block", "0"));
        } finally {
            System.setOut(stdout);
        }
        String report = out.toString();
        assertEquals(2, report.lines().filter(l -> l.contains(runDir.resolve("step-0000006.safetensors").toString() + ": FD")).count(), report);
        // both evaluators (MLP, convolutional): FD, accuracy, precision and recall each, then CKNNA
        assertTrue(report.matches("(?s).*step-0000006\\.safetensors: FD [0-9.]+, accuracy [0-9.]+%; \\[1\\] FD [0-9.]+, accuracy [0-9.]+%, precision [0-9.]+, recall [0-9.]+; "
                + "\\[2\\] FD [0-9.]+, accuracy [0-9.]+%, precision [0-9.]+, recall [0-9.]+, CKNNA\\(block 1.*"), report);
        assertTrue(Files.exists(dir.resolve("root/data-evaluator.safetensors")) && Files.exists(dir.resolve("root/data-evaluator-conv.safetensors")));
        assertEquals(2, run("eval", dir.resolve("missing").toString()));
        // bad input: one line, exit code 2
        assertEquals(2, run("train", "--method", "dit", "--data", data.toString(), "--out", dir.resolve("x").toString()));
        assertEquals(2, run("train", "--data", data.toString(), "--steps", "5", "--warmup-steps", "9", "--out", dir.resolve("y").toString()));
        assertEquals(2, run("train", "--data", dir.resolve("missing").toString()));
    }

    /** Runs a command that must fail: exit code 2 and one line on stderr; returns that line. */
    static String failure(String... args) {
        CommandLine cl = Main.commandLine();
        StringWriter err = new StringWriter();
        cl.setErr(new PrintWriter(err));
        assertEquals(2, cl.execute(args), String.join(" ", args));
        String text = err.toString().strip();
        assertTrue(!text.isEmpty() && !text.contains("\n") && !text.contains("Exception"), String.join(" ", args) + " -> " + text);
        return text;
    }

    /**
     * Every command's help renders without a picocli warning: picocli formats help texts with String.format, and a bare
     * "10-30% within" printed "[picocli WARN] Could not format ..." on stderr above `erw bench gemm --help`.
     */
    @Test
    void helpTextsRenderWithoutWarnings() {
        java.io.PrintStream old = System.err;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        java.util.ArrayDeque<CommandLine> todo = new java.util.ArrayDeque<>(java.util.List.of(Main.commandLine()));
        int commands = 0;
        System.setErr(new java.io.PrintStream(captured, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            while (!todo.isEmpty()) {
                CommandLine cl = todo.pop();
                todo.addAll(cl.getSubcommands().values());
                assertTrue(!cl.getUsageMessage().isBlank());
                commands++;
            }
        } finally {
            System.setErr(old);
        }
        String err = captured.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(!err.contains("picocli WARN"), err);
        assertTrue(commands > 10, "commands: " + commands);
    }

    /** erw bench sample runs the sampler of erw sample on the tiny model; bad sizes and presets get one line. */
    @Test
    void benchSampleRunsAndRejectsBadInput() {
        assertEquals(0, run("bench", "sample", "--no-peer", "--batch", "2", "--steps", "3", "--threads", "1"));
        assertTrue(failure("bench", "sample", "--no-peer", "--steps", "0").contains("--steps"));
        assertTrue(failure("bench", "sample", "--no-peer", "--preset", "SiT-Q/9", "--steps", "1").contains("SiT-Q/9"));
    }

    @Test
    void reedWithAFurtherFeatureSet(@TempDir Path dir) throws Exception {
        int n = 64;
        float[] img = new float[n * 16 * 16], lab = new float[n], feat = new float[n * 16 * 6], cap = new float[n * 5];
        Philox.normal(5, 3, 0, img, 0, img.length);
        Philox.normal(5, 4, 0, feat, 0, feat.length);
        Philox.normal(5, 5, 0, cap, 0, cap.length);
        for (int i = 0; i < n; i++) lab[i] = i % 3;
        Npy.write(dir.resolve("x.npy"), new long[]{n, 1, 16, 16}, img);
        Npy.write(dir.resolve("y.npy"), new long[]{n}, lab);
        Npy.write(dir.resolve("tokens.npy"), new long[]{n, 16, 6}, feat);
        Npy.write(dir.resolve("captions.npy"), new long[]{n, 5}, cap);
        Npy.write(dir.resolve("short.npy"), new long[]{n - 1, 5}, java.util.Arrays.copyOf(cap, (n - 1) * 5));
        Path data = dir.resolve("data"), runDir = dir.resolve("reed");
        assertEquals(0, run("data", "import", "--images", dir.resolve("x.npy").toString(), "--labels", dir.resolve("y.npy").toString(),
                "--features", dir.resolve("tokens.npy").toString(), "--feature-set", "captions=" + dir.resolve("captions.npy"), "--out", data.toString()));
        assertEquals(0, run("data", "add-features", data.toString(), "--name", "other", "--from", dir.resolve("captions.npy").toString()));
        assertTrue(failure("data", "add-features", data.toString(), "--name", "other", "--from", dir.resolve("captions.npy").toString()).contains("--replace"));
        assertTrue(failure("data", "add-features", data.toString(), "--name", "more", "--from", dir.resolve("short.npy").toString()).contains("63 rows"));
        String[] common = {"--data", data.toString(), "--steps", "6", "--batch", "8", "--depth", "2", "--hidden", "32", "--heads", "2",
                "--encoder-depth", "1", "--projector-dim", "16", "--checkpoint-every", "3", "--sample-steps", "3", "--log-every", "1"};
        String[] train = concat(new String[]{"train", "--method", "reed", "--out", runDir.toString(), "--target", "features", "--target",
                "captions:block=2:pool=mean:hidden=8:coef=0.5", "--diffusion-warmup-steps", "3", "--time-weight", "linear"}, common);
        assertEquals(0, run(train));
        List<String> lines = Files.readAllLines(runDir.resolve("metrics.jsonl"));
        assertEquals(6, lines.size());
        assertTrue(lines.get(0).contains("\"w_diff\":0.0") && lines.get(0).contains("\"loss_align.captions\"") && lines.get(0).contains("\"w_align\":1.0"), lines.get(0));
        assertTrue(lines.get(2).contains("\"w_diff\":0.6666666666666666"), lines.get(2));
        // resume inside the ramp reproduces the final checkpoint bit for bit; extending keeps the curriculum
        byte[] straight = Files.readAllBytes(runDir.resolve("step-0000006.safetensors"));
        Files.delete(runDir.resolve("step-0000006.safetensors"));
        assertEquals(0, run("train", "--resume", runDir.toString()));
        assertTrue(java.util.Arrays.equals(straight, Files.readAllBytes(runDir.resolve("step-0000006.safetensors"))), "resumed REED checkpoint differs");
        assertEquals(0, run("train", "--resume", runDir.toString(), "--steps", "8"));
        assertTrue(Files.readString(runDir.resolve("config.json")).contains("\"diffusionWarmupSteps\" : 3"));
        if (new ProcessBuilder("/usr/bin/python3", "--version").start().waitFor() == 0) {
            Process p = new ProcessBuilder("/usr/bin/python3", Path.of("..", "tools", "torch", "check_reed_metrics.py").toString(), runDir.toString())
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            assertEquals(0, p.waitFor(), out);
            assertTrue(out.contains("OK: 8 lines checked"), out);
        }
        // targets the data or the model cannot serve: one line before training
        assertTrue(failure(concat(new String[]{"train", "--method", "reed", "--out", dir.resolve("e1").toString(), "--target", "features", "--target", "lyrics:pool=mean"}, common))
                .contains("no feature set 'lyrics'"));
        assertTrue(failure(concat(new String[]{"train", "--method", "reed", "--out", dir.resolve("e2").toString(), "--target", "features", "--target", "captions:block=7:pool=mean"}, common))
                .contains("beyond the model's depth 2"));
        assertTrue(failure(concat(new String[]{"train", "--method", "reed", "--out", dir.resolve("e3").toString(), "--target", "features:z=7"}, common))
                .contains("width 6 but the projector's z is 7"));
        assertTrue(failure(concat(new String[]{"train", "--method", "reed", "--out", dir.resolve("e4").toString(), "--target", "features", "--target", "captions"}, common))
                .contains("per-token target"));
        for (String e : List.of("e1", "e2", "e3", "e4")) assertTrue(!Files.exists(dir.resolve(e).resolve("config.json")), e + ": a refused run leaves no config behind");
        assertTrue(failure(concat(new String[]{"train", "--method", "reed", "--out", dir.resolve("e5").toString(), "--time-weight", "later"}, common))
                .contains("--time-weight"));
    }

    /** Runs a command that must succeed and returns what it printed on stdout. */
    static String stdout(String... args) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        java.io.PrintStream saved = System.out;
        System.setOut(new java.io.PrintStream(out, true));
        try {
            assertEquals(0, run(args), String.join(" ", args));
        } finally {
            System.setOut(saved);
        }
        return out.toString();
    }

    @Test
    void repaMomentsImportTrainResumeFeatures(@TempDir Path dir) throws Exception {
        int n = 48, c = 4, hw = 16 * 16;
        float[] mom = new float[n * 2 * c * hw], lab = new float[n]; // REPA's layout: (N, 2C, H, W) = [mean, std] along the channels
        Philox.normal(6, 1, 0, mom, 0, mom.length);
        for (int i = 0; i < n; i++) {
            lab[i] = i % 3;
            for (int j = 0; j < c * hw; j++) {
                mom[(2 * i) * c * hw + j] = 4 * mom[(2 * i) * c * hw + j] + (j % 16 / 6 == i % 3 ? 3 : -3); // SD-VAE-like means (std ~ 5 before scaling)
                mom[(2 * i + 1) * c * hw + j] = 0.05f + 0.1f * Math.abs(mom[(2 * i + 1) * c * hw + j]);
            }
        }
        Npy.write(dir.resolve("moments.npy"), new long[]{n, 2 * c, 16, 16}, mom);
        Npy.write(dir.resolve("y.npy"), new long[]{n}, lab);
        Path data = dir.resolve("data"), runDir = dir.resolve("run");
        String m = dir.resolve("moments.npy").toString(), y = dir.resolve("y.npy").toString();
        assertEquals(0, run("data", "import", "--moments", m, "--labels", y, "--vae", "sd-vae-ft-mse", "--out", data.toString()));
        String info = stdout("data", "inspect", data.toString());
        assertTrue(info.contains("48 samples of [4, 16, 16]") && info.contains("posterior moments of sd-vae-ft-mse") && info.contains("* 0.18215 + 0.0")
                && info.contains("std in [0.05"), info);
        String[] train = {"train", "--method", "sit", "--data", data.toString(), "--out", runDir.toString(), "--steps", "4", "--batch", "8",
                "--depth", "2", "--hidden", "32", "--heads", "2", "--checkpoint-every", "2", "--sample-steps", "2", "--log-every", "1"};
        assertEquals(0, run(train));
        assertEquals(4, Files.readAllLines(runDir.resolve("metrics.jsonl")).size());
        byte[] straight = Files.readAllBytes(runDir.resolve("step-0000004.safetensors"));
        Files.delete(runDir.resolve("step-0000004.safetensors"));
        assertEquals(0, run("train", "--resume", runDir.toString()));
        assertTrue(java.util.Arrays.equals(straight, Files.readAllBytes(runDir.resolve("step-0000004.safetensors"))), "resumed checkpoint differs");
        // erw's own target features of mean * scale + shift: the moments stay
        Path enc = dir.resolve("enc.safetensors");
        assertEquals(0, run("encoder", "train", "--data", data.toString(), "--out", enc.toString(), "--steps", "3", "--batch", "8", "--depth", "1", "--hidden", "32"));
        assertEquals(0, run("data", "features", "--data", data.toString(), "--encoder", enc.toString()));
        info = stdout("data", "inspect", data.toString());
        assertTrue(info.contains("features [16, 32]") && info.contains("posterior moments of sd-vae-ft-mse"), info);
        Path other = dir.resolve("other");
        assertEquals(0, run("data", "import", "--moments", m, "--labels", y, "--latent-scale", "0.13025", "--latent-shift", "-0.5", "--out", other.toString()));
        assertTrue(stdout("data", "inspect", other.toString()).contains("* 0.13025 + -0.5"));
        // wrong inputs: one line each
        assertTrue(failure("data", "import", "--moments", m, "--images", m, "--labels", y, "--out", dir.resolve("e").toString()).contains("either --images"));
        assertTrue(failure("data", "import", "--images", m, "--latent-scale", "0.2", "--labels", y, "--out", dir.resolve("e").toString()).contains("--latent-scale applies to --moments only"));
        Npy.write(dir.resolve("odd.npy"), new long[]{n, 7, 16, 16}, java.util.Arrays.copyOf(mom, n * 7 * hw));
        assertTrue(failure("data", "import", "--moments", dir.resolve("odd.npy").toString(), "--labels", y, "--out", dir.resolve("e").toString()).contains("7 channels"));
        float[] logvar = mom.clone();
        logvar[(2 * 5 + 1) * c * hw + 9] = -2f;
        Npy.write(dir.resolve("logvar.npy"), new long[]{n, 2 * c, 16, 16}, logvar);
        String e = failure("data", "import", "--moments", dir.resolve("logvar.npy").toString(), "--labels", y, "--out", dir.resolve("e").toString());
        assertTrue(e.contains("std -2.0 of sample 5") && e.contains("log-variance"), e);
        assertTrue(!Files.exists(dir.resolve("e")), "a refused import writes nothing");
    }

    private static String[] concat(String[] a, String[] b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
