package erw.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import erw.engine.host.Philox;
import erw.model.io.Npy;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsFile;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data-parallel training under {@code mpirun -np 2} (Open MPI; skipped where it is not installed)
 * against one process at the same global batch: per-step losses and final weights agree, a 2-rank
 * checkpoint resumes with 1 rank on the same data stream, and a rank that meets bad data alone ends
 * the whole job at once with a message naming it.
 */
class DataParallelTest {
    static boolean mpirun() {
        try {
            Process p = new ProcessBuilder("mpirun", "--version").redirectErrorStream(true).start();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (Exception e) {
            return false;
        }
    }

    /** {@code mpirun -np ranks java ... erw.cli.Main args}: the test JVM's java and class path. */
    static Process launch(Path dir, int ranks, String log, String... args) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        String cp = String.join(File.pathSeparator, List.of(System.getProperty("java.class.path", ""), System.getProperty("jdk.module.path", "")).stream()
                .filter(s -> !s.isEmpty()).toList());
        List<String> cmd = new ArrayList<>(List.of("mpirun", "-np", Integer.toString(ranks), "--oversubscribe", java, "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-Xmx2g", "-cp", cp, "erw.cli.Main"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve(log).toFile());
        pb.environment().put("OMPI_ALLOW_RUN_AS_ROOT", "1");
        pb.environment().put("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
        return pb.start();
    }

    /** metrics.jsonl as flat maps of the numeric fields (each line is one flat JSON object). */
    static List<java.util.Map<String, Double>> metrics(Path run) throws Exception {
        List<java.util.Map<String, Double>> l = new ArrayList<>();
        java.util.regex.Pattern field = java.util.regex.Pattern.compile("\"([a-z_.]+)\":(-?[0-9][0-9.eE+-]*)");
        for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) {
            java.util.Map<String, Double> m = new java.util.HashMap<>();
            var mt = field.matcher(line);
            while (mt.find()) m.put(mt.group(1), Double.parseDouble(mt.group(2)));
            l.add(m);
        }
        return l;
    }

    static void sameLosses(List<java.util.Map<String, Double>> a, List<java.util.Map<String, Double>> b, long fromStep, String what) {
        int compared = 0;
        for (var x : a) {
            if (x.get("step") < fromStep) continue;
            var y = b.stream().filter(m -> m.get("step").equals(x.get("step"))).findFirst().orElseThrow();
            for (String k : List.of("loss", "loss_v", "loss_align", "grad_norm")) {
                if (!x.containsKey(k)) continue;
                double e = x.get(k), g = y.get(k);
                assertEquals(e, g, 1e-5 * Math.abs(e) + 1e-7, what + ": step " + x.get("step") + " " + k);
                compared++;
            }
        }
        assertTrue(compared > 10, what + ": compared " + compared + " values");
    }

    @Test
    void twoRanksTrainAsOneProcess(@TempDir Path dir) throws Exception {
        assumeTrue(mpirun(), "Open MPI (mpirun) is not installed: data-parallel test skipped");
        int n = 64;
        float[] img = new float[n * 16 * 16], lab = new float[n], feat = new float[n * 16 * 6];
        Philox.normal(8, 1, 0, img, 0, img.length);
        Philox.normal(8, 2, 0, feat, 0, feat.length);
        for (int i = 0; i < n; i++) lab[i] = i % 3;
        Npy.write(dir.resolve("x.npy"), new long[]{n, 1, 16, 16}, img);
        Npy.write(dir.resolve("y.npy"), new long[]{n}, lab);
        Npy.write(dir.resolve("f.npy"), new long[]{n, 16, 6}, feat);
        Path data = dir.resolve("data");
        assertEquals(0, CliEndToEndTest.run("data", "import", "--images", dir.resolve("x.npy").toString(), "--labels", dir.resolve("y.npy").toString(),
                "--features", dir.resolve("f.npy").toString(), "--out", data.toString()));
        // ERW across the phase boundary (warmup 3 of 10 steps), global batch 8
        String[] common = {"--data", data.toString(), "--steps", "10", "--warmup-steps", "3", "--batch", "8", "--depth", "2", "--hidden", "32", "--heads", "2",
                "--encoder-depth", "1", "--l2r-depth", "1", "--projector-dim", "16", "--checkpoint-every", "5", "--sample-every", "0", "--sample-steps", "2",
                "--log-every", "1", "--threads", "1", "--backend", "cpu"};
        Path one = dir.resolve("one"), two = dir.resolve("two");
        List<String> a = new ArrayList<>(List.of("train", "--out", one.toString()));
        a.addAll(List.of(common));
        assertEquals(0, CliEndToEndTest.run(a.toArray(String[]::new)));
        List<String> b = new ArrayList<>(List.of("train", "--out", two.toString()));
        b.addAll(List.of(common));
        Process p = launch(dir, 2, "two.log", b.toArray(String[]::new));
        assertTrue(p.waitFor(600, TimeUnit.SECONDS), "mpirun did not finish");
        assertEquals(0, p.exitValue(), Files.readString(dir.resolve("two.log")));
        assertTrue(Files.readString(dir.resolve("two.log")).contains("batch 8 (2 ranks x 4)"), "ran as 2 ranks: " + Files.readString(dir.resolve("two.log")));
        var m1 = metrics(one);
        var m2 = metrics(two);
        assertEquals(10, m2.size(), "rank 0 alone logs, each step once");
        sameLosses(m1, m2, 1, "2 ranks vs 1 process");
        // final weights: relative L2 distance over the whole model
        double diff = 0, norm = 0;
        try (SafeTensorsFile x = SafeTensors.open(one.resolve("step-0000010.safetensors")); SafeTensorsFile y = SafeTensors.open(two.resolve("step-0000010.safetensors"))) {
            for (String name : x.names()) {
                if (name.startsWith("optim.")) continue;
                float[] u = x.readFloats(name), v = y.readFloats(name);
                for (int i = 0; i < u.length; i++) {
                    diff += (double) (u[i] - v[i]) * (u[i] - v[i]);
                    norm += (double) u[i] * u[i];
                }
            }
        }
        assertTrue(Math.sqrt(diff / norm) < 1e-5, "final weights differ by " + Math.sqrt(diff / norm) + " (relative L2)");
        // the 2-rank checkpoint of step 5 resumes with 1 rank and continues the same stream
        Files.delete(two.resolve("step-0000010.safetensors"));
        assertEquals(0, CliEndToEndTest.run("train", "--resume", two.toString(), "--threads", "1"));
        sameLosses(m1, metrics(two), 6, "2-rank run resumed with 1 rank");

        // bad data seen by one rank alone: the whole job ends at once, naming the rank
        Path bad = dir.resolve("bad");
        float[] broken = img.clone();
        for (int i = 0; i < n; i += 2) broken[i * 256] = Float.NaN;
        Npy.write(dir.resolve("xb.npy"), new long[]{n, 1, 16, 16}, broken);
        Files.createDirectories(bad);
        erw.training.data.DatasetDir.write(bad, broken, new int[]{1, 16, 16}, lab, 3, feat, new int[]{16, 6}, "test", "test");
        List<String> c = new ArrayList<>(List.of("train", "--out", dir.resolve("bad-run").toString()));
        c.addAll(List.of(common));
        c.set(c.indexOf(data.toString()), bad.toString());
        long t0 = System.nanoTime();
        Process q = launch(dir, 2, "bad.log", c.toArray(String[]::new));
        assertTrue(q.waitFor(300, TimeUnit.SECONDS), "the job did not end");
        String log = Files.readString(dir.resolve("bad.log"));
        assertTrue(q.exitValue() != 0 && log.matches("(?s).*rank [01] of 2 failed: step \\d+: the dataset's image of sample \\d+ hold a non-finite value.*"), log);
        assertTrue((System.nanoTime() - t0) / 1e9 < 120, "took " + (System.nanoTime() - t0) / 1e9 + " s");
    }
}
