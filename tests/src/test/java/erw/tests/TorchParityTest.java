package erw.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import erw.engine.cpu.CpuBackend;
import erw.model.Checkpoint;
import erw.model.ForwardTool;
import erw.model.SiT;
import erw.model.SiTConfig;
import erw.model.io.SafeTensors;
import erw.model.io.SafeTensorsFile;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * erw against the PyTorch reference (tools/torch/sit_reference.py, a SiT written to SPEC, computed
 * in float64): the committed fixtures hold random weights, inputs, outputs, the loss and every
 * parameter's gradient. Tolerance: max |erw - torch| <= tol * max(max |torch|, 1e-2) per tensor,
 * tol = 2e-4 for outputs and losses, 2e-3 for gradients (erw computes in fp32).
 */
class TorchParityTest {
    static Path fixture(String name) {
        Path p = Path.of("src/test/resources/fixtures", name);
        assertTrue(Files.isRegularFile(p), "fixture " + p.toAbsolutePath() + " (regenerate with /usr/bin/python3 tools/torch/make_fixtures.py)");
        return p;
    }

    static double relError(float[] a, float[] b) {
        double maxDiff = 0, maxRef = 1e-2;
        for (int i = 0; i < a.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
            maxRef = Math.max(maxRef, Math.abs(b[i]));
        }
        return maxDiff / maxRef;
    }

    @ParameterizedTest
    @ValueSource(strings = {"sit_tiny_cosine.safetensors", "sit_tiny_ntxent.safetensors", "sit_tiny_qknorm.safetensors", "sit_tiny_rope.safetensors",
            "reed_tiny_two_targets.safetensors"})
    void outputsLossAndEveryGradientMatchPyTorch(String name) {
        Path file = Path.of("src/test/resources/fixtures", name);
        assumeTrue(Files.isRegularFile(file) || !name.contains("qknorm"), "optional fixture " + name);
        file = fixture(name);
        try (SafeTensorsFile f = SafeTensors.open(file); CpuBackend cpu = new CpuBackend(2)) {
            SiT model = new SiT(Checkpoint.config(f, null));
            Checkpoint.loadInto(f, model.parameters(), "", false);
            Map<String, SafeTensors.Tensor> out = ForwardTool.evaluate(model, f, cpu);
            List<String> failures = new ArrayList<>();
            int grads = 0;
            for (Map.Entry<String, SafeTensors.Tensor> e : out.entrySet()) {
                String key = e.getKey();
                assertTrue(f.contains(key), name + " lacks " + key);
                double tol = key.startsWith("grad.") ? 2e-3 : 2e-4;
                double err = relError(e.getValue().data(), f.readFloats(key));
                if (key.startsWith("grad.")) grads++;
                if (err > tol) failures.add(key + ": relative error " + err);
            }
            assertTrue(failures.isEmpty(), name + ": " + failures);
            assertEquals(model.parameters().trainable().size(), grads, "a gradient for every trainable parameter");
        }
    }

    static boolean torchAvailable() {
        try {
            Process p = new ProcessBuilder("/usr/bin/python3", "-c", "import torch").redirectErrorStream(true).start();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (Exception e) {
            return false;
        }
    }

    @Test
    void aCheckpointWrittenByErwLoadsInPyTorchWithTheSameOutput(@TempDir Path dir) throws Exception {
        assumeTrue(torchAvailable(), "PyTorch (Debian python3-torch) is not installed: round trip skipped");
        SiTConfig cfg = new SiTConfig(2, 64, 4, 2, 8, 4, 10, 1, 96, 32, 4.0, false, false, 0);
        SiT model = new SiT(cfg).initialize(11);
        // make the zero-initialized layers non-trivial so the comparison means something
        int k = 0;
        for (var t : model.parameters().trainable()) erw.engine.GradCheck.fill(t, 100 + k++, 0.05f);
        Path ckpt = dir.resolve("model.safetensors");
        Checkpoint.save(ckpt, model, Map.of());
        Path input = fixture("sit_tiny_cosine.safetensors");
        Path torchOut = dir.resolve("torch-out.safetensors");
        Path script = Path.of("..", "tools", "torch", "forward_checkpoint.py");
        Process p = new ProcessBuilder("/usr/bin/python3", script.toString(), "--checkpoint", ckpt.toString(), "--input", input.toString(), "--out", torchOut.toString())
                .redirectErrorStream(true).redirectOutput(new File(dir.toFile(), "torch.log")).start();
        assertTrue(p.waitFor(300, TimeUnit.SECONDS) && p.exitValue() == 0, "forward_checkpoint.py failed: " + Files.readString(dir.resolve("torch.log")));
        try (SafeTensorsFile in = SafeTensors.open(input); SafeTensorsFile t = SafeTensors.open(torchOut); CpuBackend cpu = new CpuBackend(2)) {
            Map<String, SafeTensors.Tensor> ours = ForwardTool.evaluate(Checkpoint.load(ckpt, false, null), in, cpu);
            assertTrue(relError(ours.get("velocity").data(), t.readFloats("velocity")) < 2e-4, "velocity");
            assertTrue(relError(ours.get("zs").data(), t.readFloats("zs")) < 2e-4, "zs");
        }
    }
}
