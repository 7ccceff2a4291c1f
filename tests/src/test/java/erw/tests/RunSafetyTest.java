package erw.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.cli.Main;
import erw.engine.host.Philox;
import erw.model.io.Npy;
import erw.training.run.RunDirectory;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A run directory owns its run: what it was trained on, which options may change on resume, who
 * writes it. Every refusal is exit code 2 with one line that names the option, file or field.
 */
class RunSafetyTest {
    record Result(int code, String err) {}

    /** Runs the CLI; what it writes to stderr (picocli's stream and System.err) is captured, progress lines dropped. */
    static synchronized Result run(String... args) {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        java.io.PrintStream saved = System.err, capture = new java.io.PrintStream(bytes, true);
        System.setErr(capture);
        try {
            CommandLine cl = Main.commandLine();
            StringWriter err = new StringWriter();
            cl.setErr(new PrintWriter(err, true));
            int code = cl.execute(args);
            String all = err + bytes.toString();
            String errors = all.lines().filter(l -> l.startsWith("erw ")).reduce((a, b) -> a + "\n" + b).orElse("");
            return new Result(code, code == 0 ? all : errors.isEmpty() ? all : errors);
        } finally {
            System.setErr(saved);
        }
    }

    /** Exit 2, one line, no stack trace, containing every fragment. */
    static void refused(Result r, String... fragments) {
        assertEquals(2, r.code(), r.err());
        String line = r.err().strip();
        assertFalse(line.contains("\n") || line.contains("Exception") || line.contains("\tat "), "one line expected: " + r.err());
        for (String f : fragments) assertTrue(line.contains(f), "'" + f + "' missing in: " + line);
    }

    @TempDir static Path dir;
    static Path data, other;
    static final List<String> MODEL = List.of("--depth", "2", "--hidden", "32", "--heads", "2", "--encoder-depth", "1", "--l2r-depth", "1",
            "--projector-dim", "16", "--batch", "8", "--sample-steps", "2", "--log-every", "1");

    static String[] train(String... extra) {
        List<String> a = new ArrayList<>(List.of("train"));
        a.addAll(MODEL);
        a.addAll(Arrays.asList(extra));
        return a.toArray(String[]::new);
    }

    @BeforeAll
    static void datasets() {
        data = dataset("d1", 0f);
        other = dataset("d2", 0.5f); // same shapes, other values
    }

    static Path dataset(String name, float shift) {
        int n = 32;
        float[] img = new float[n * 64], lab = new float[n], feat = new float[n * 4 * 8];
        Philox.normal(5, 1, 0, img, 0, img.length);
        Philox.normal(5, 2, 0, feat, 0, feat.length);
        for (int i = 0; i < n; i++) lab[i] = i % 3;
        img[7] += shift;
        Path x = dir.resolve(name + "-x.npy"), y = dir.resolve(name + "-y.npy"), z = dir.resolve(name + "-z.npy"), out = dir.resolve(name);
        Npy.write(x, new long[]{n, 1, 8, 8}, img);
        Npy.write(y, new long[]{n}, lab);
        Npy.write(z, new long[]{n, 4, 8}, feat);
        assertEquals(0, run("data", "import", "--images", x.toString(), "--labels", y.toString(), "--features", z.toString(), "--out", out.toString()).code());
        return out;
    }

    @Test
    void resumeKeepsTheRunsDatasetAndOptions() throws Exception {
        Path r = dir.resolve("run-a");
        assertEquals(0, run(train("--data", data.toString(), "--out", r.toString(), "--steps", "4", "--warmup-steps", "1", "--checkpoint-every", "2")).code());
        // the dataset is remembered: a resume needs no --data, and refuses another dataset of the same shape
        refused(run("train", "--resume", r.toString(), "--data", other.toString(), "--steps", "6"), "--data", "not the dataset the run was trained on");
        // options that change the math are refused, naming them and what may change
        refused(run("train", "--resume", r.toString(), "--steps", "6", "--lr", "5", "--batch", "4"), "--lr, --batch are fixed", "--steps");
        refused(run("train", "--resume", r.toString()), "step 4", "--steps N > 4");
        // a finished run is extended; --keep-last bounds the checkpoints; metrics hold each step once
        assertEquals(0, run("train", "--resume", r.toString(), "--steps", "6", "--checkpoint-every", "1", "--keep-last", "2").code());
        assertEquals(List.of("step-0000005.safetensors", "step-0000006.safetensors"),
                new RunDirectoryView(r).checkpointNames());
        List<String> steps = Files.readAllLines(r.resolve("metrics.jsonl")).stream().map(l -> l.replaceAll(".*\"step\":(\\d+).*", "$1")).toList();
        assertEquals(List.of("1", "2", "3", "4", "5", "6"), steps);
        // extending is bit-exact: a straight 6-step run writes the same final checkpoint
        Path straight = dir.resolve("run-b");
        assertEquals(0, run(train("--data", data.toString(), "--out", straight.toString(), "--steps", "6", "--warmup-steps", "1", "--checkpoint-every", "2")).code());
        assertTrue(Arrays.equals(tensorBytes(straight.resolve("step-0000006.safetensors")), tensorBytes(r.resolve("step-0000006.safetensors"))),
                "extended run differs from the straight run");
        // how the step is computed may change on resume, and changes no bits
        assertEquals(0, run("train", "--resume", straight.toString(), "--steps", "7", "--checkpoint-every", "2").code());
        assertEquals(0, run("train", "--resume", r.toString(), "--steps", "7", "--recompute", "blocks").code());
        assertTrue(Arrays.equals(tensorBytes(straight.resolve("step-0000007.safetensors")), tensorBytes(r.resolve("step-0000007.safetensors"))),
                "a step recomputing the blocks differs from one keeping them");
        // a moved dataset: the recorded path is gone; --data at the new place is accepted by its fingerprint
        Path moved = dir.resolve("d1-moved");
        Files.move(data, moved);
        try {
            refused(run("train", "--resume", r.toString(), "--steps", "8"), "is gone", "--data");
            assertEquals(0, run("train", "--resume", r.toString(), "--steps", "8", "--data", moved.toString()).code());
        } finally {
            Files.move(moved, data);
        }
    }

    /** The tensor bytes of a checkpoint (its metadata records the dataset path and config, which differ between the two runs' histories). */
    static byte[] tensorBytes(Path f) throws Exception {
        byte[] b = Files.readAllBytes(f);
        long n = java.nio.ByteBuffer.wrap(b, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        return Arrays.copyOfRange(b, (int) (8 + n), b.length);
    }

    /** Lists checkpoints without taking the lock. */
    record RunDirectoryView(Path dir) {
        List<String> checkpointNames() throws Exception {
            try (var s = Files.list(dir)) {
                return s.map(p -> p.getFileName().toString()).filter(n -> n.matches("step-\\d{7}\\.safetensors")).sorted().toList();
            }
        }
    }

    @Test
    void runDirectoriesAreOwnedAndChecked() throws Exception {
        Path r = dir.resolve("run-c");
        assertEquals(0, run(train("--data", data.toString(), "--out", r.toString(), "--steps", "3", "--warmup-steps", "1")).code());
        refused(run(train("--data", data.toString(), "--out", r.toString(), "--steps", "3")), "--out", "already holds a run", "--resume");
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        refused(run(train("--data", data.toString(), "--out", file.toString(), "--steps", "3")), "--out", "is a file");
        refused(run(train("--data", data.toString(), "--out", file.resolve("sub").toString(), "--steps", "3")), "--out", "cannot create the run directory");
        // a run being written is locked against a second writer and against a resume
        try (RunDirectory held = RunDirectory.openExisting(r, "--out")) {
            refused(run("train", "--resume", r.toString(), "--steps", "5"), "--resume", "is in use by another erw process");
        }
        // temporary files of a killed write are removed at the next start
        Path stale = Files.write(r.resolve(".step-0000009.safetensors.1f2e3d.tmp"), new byte[4096]);
        assertEquals(0, run("train", "--resume", r.toString(), "--steps", "4").code());
        assertFalse(Files.exists(stale), "stale temporary file left behind");
    }

    @Test
    void badAblationArmsAreRefusedBeforeAnyWork() throws Exception {
        String root = dir.resolve("no-data-root").toString(); // never reached: the arms are checked first
        refused(run("bench", "converge", "--data-root", root, "--arm", "no-options"), "--arm no-options", "NAME=OPTIONS");
        refused(run("bench", "converge", "--data-root", root, "--arm", "repa=--lr 1e-3"), "--arm repa=--lr 1e-3", "is taken");
        refused(run("bench", "converge", "--data-root", root, "--arm", "a=--c0 2", "--arm", "a=--c0 3"), "--arm a=--c0 3", "is taken");
        refused(run("bench", "converge", "--data-root", root, "--arm", "short=--steps 10"), "--arm short=--steps 10", "budget");
        refused(run("bench", "converge", "--data-root", root, "--arm", "x=--bogus 1"), "--arm x=--bogus 1", "--bogus");
        refused(run("bench", "converge", "--data-root", root, "--arm", "x=--method dit"), "--arm x=--method dit", "unknown method");
    }

    @Test
    void badValuesAreRefusedBeforeAnyWork() throws Exception {
        String d = data.toString();
        Path never = dir.resolve("never");
        String o = never.toString();
        refused(run("train", "--data", d, "--out", o, "--sample-steps", "1"), "--sample-steps");
        refused(run(train("--data", d, "--out", o, "--lr", "Infinity")), "--lr", "finite");
        refused(run(train("--data", d, "--out", o, "--c0", "-5")), "--c0");
        refused(run(train("--data", d, "--out", o, "--warmup-lambda", "-1")), "--warmup-lambda");
        refused(run(train("--data", d, "--out", o, "--weight-decay", "-1")), "--weight-decay");
        refused(run(train("--data", d, "--out", o, "--steps", "5", "--warmup-steps", "5")), "--warmup-steps");
        refused(run("train", "--data", d, "--out", o, "--batch", "1000000"), "at batch 1000000 needs an estimated", "GiB");
        assertFalse(Files.exists(never.resolve("metrics.jsonl")), "nothing trained");
        refused(run("model", "--batch", "-1"), "--batch");
        refused(run("model", "--recompute", "some"), "--recompute", "none or blocks");
        refused(run(train("--data", d, "--out", o, "--recompute", "layers")), "--recompute", "none or blocks");
        // non-finite data is refused at import; so are absurd class counts
        Path nan = dir.resolve("nan.npy");
        float[] v = new float[4 * 64];
        v[70] = Float.NaN;
        Npy.write(nan, new long[]{4, 1, 8, 8}, v);
        Npy.write(dir.resolve("lab4.npy"), new long[]{4}, new float[4]);
        refused(run("data", "import", "--images", nan.toString(), "--labels", dir.resolve("lab4.npy").toString(), "--out", dir.resolve("nan-data").toString()),
                "nan.npy", "NaN at flat index 70");
        refused(run("data", "import", "--images", dir.resolve("d1-x.npy").toString(), "--labels", dir.resolve("d1-y.npy").toString(),
                "--num-classes", "2000000000", "--out", dir.resolve("many").toString()), "--num-classes");
    }

    @Test
    void nonFiniteWeightsStopTheRunBeforeACheckpointAndNeverSample() throws Exception {
        Path r = dir.resolve("run-nan");
        Result res = run(train("--data", data.toString(), "--out", r.toString(), "--steps", "20", "--method", "repa", "--lr", "1e38", "--checkpoint-every", "1"));
        assertEquals(2, res.code(), res.err());
        assertTrue(res.err().contains("non-finite") && res.err().contains("no checkpoint was written yet"), res.err());
        assertEquals(List.of(), new RunDirectoryView(r).checkpointNames());
        // a checkpoint whose EMA holds a NaN does not sample
        Path good = dir.resolve("run-c2");
        assertEquals(0, run(train("--data", data.toString(), "--out", good.toString(), "--steps", "2", "--method", "repa")).code());
        Path ckpt = good.resolve("step-0000002.safetensors"), bad = dir.resolve("nan-ema.safetensors");
        java.util.Map<String, erw.model.io.SafeTensors.Tensor> t = new java.util.LinkedHashMap<>();
        java.util.Map<String, String> meta;
        try (var f = erw.model.io.SafeTensors.open(ckpt)) {
            meta = f.metadata();
            for (String n : f.names()) t.put(n, new erw.model.io.SafeTensors.Tensor(f.shape(n), f.readFloats(n)));
        }
        t.get("ema.final_layer.linear.weight").data()[3] = Float.NaN;
        erw.model.io.SafeTensors.write(bad, t, meta);
        refused(run("sample", "--checkpoint", bad.toString(), "--ema", "--steps", "2", "--n", "1", "--no-progress", "--out", dir.resolve("s").toString()),
                "ema.final_layer.linear.weight", "non-finite");
    }

    /** {@code erw model} sizes SiT-XL/2 without allocating it; recomputation fits it on one 139 GiB GPU with room to spare. */
    @Test
    void plannedMemoryOfALargeModel() {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        java.io.PrintStream saved = System.out;
        System.setOut(new java.io.PrintStream(bytes, true));
        try {
            assertEquals(0, Main.commandLine().execute("model", "--model", "SiT-XL/2", "--batch", "32", "--recompute", "blocks"));
            assertEquals(0, Main.commandLine().execute("model", "--model", "SiT-XL/2", "--batch", "32"));
        } finally {
            System.setOut(saved);
        }
        List<Double> peaks = new ArrayList<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("planned peak \\(fp32\\)\\s+([0-9.]+) GiB").matcher(bytes.toString());
        while (m.find()) peaks.add(Double.parseDouble(m.group(1)));
        assertEquals(2, peaks.size(), bytes.toString());
        assertTrue(peaks.get(0) < 0.25 * 139, "SiT-XL/2 at batch 32 with --recompute blocks plans " + peaks.get(0) + " GiB");
        assertTrue(peaks.get(0) < 0.6 * peaks.get(1), "recomputation plans " + peaks.get(0) + " GiB, keeping activations " + peaks.get(1));
        assertTrue(bytes.toString().contains("EMA copy") && bytes.toString().contains("AdamW moments"), bytes.toString());
    }
}
