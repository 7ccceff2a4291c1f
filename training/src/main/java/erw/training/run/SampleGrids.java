package erw.training.run;

import erw.engine.Backend;
import erw.model.SiT;
import erw.model.SiTConfig;
import erw.sampler.Sampler;
import erw.sampler.SamplerKind;
import erw.sampler.SiTVelocity;
import erw.training.report.ImageGrid;
import java.nio.file.Path;

/** EMA sample grids during training: one row per class, drawn with the SDE sampler from a fixed seed. */
public final class SampleGrids {
    private SampleGrids() {}

    /**
     * Samples on the training's backend (the device, with --backend tornado); host-side steps on its
     * host pool. The grid is drawn in chunks that fit in a quarter of the heap (a sample depends only
     * on the seed, its index and its label, so the chunking changes no value): SiT-S/2's 80-sample grid
     * at once would need more memory than the training step it follows.
     */
    public static void write(Backend backend, SiT model, Path file, int numClasses, int perClass, int steps, double cfg, long seed) {
        SiTConfig c = model.config();
        int n = numClasses * perClass, side = c.inputSize(), size = c.inChannels() * side * side;
        float[] labels = new float[n];
        for (int i = 0; i < n; i++) labels[i] = i / perClass;
        int rowsPerSample = cfg > 1 ? 2 : 1; // guidance evaluates the conditional and the unconditional row
        long perRow = Math.max(1, 4L * erw.model.ModelSizes.activationFloats(c, 1));
        int chunk = (int) Math.max(1, Math.min(n, Runtime.getRuntime().maxMemory() / 4 / perRow / rowsPerSample));
        float[] x = new float[n * size];
        try (SiTVelocity field = new SiTVelocity(model, backend)) {
            Sampler sampler = new Sampler(field, size, Sampler.Options.of(SamplerKind.SDE, steps, seed).withCfg(cfg, 0, 1),
                    backend.host());
            for (int first = 0; first < n; first += chunk) {
                int m = Math.min(chunk, n - first);
                System.arraycopy(sampler.sample(java.util.Arrays.copyOfRange(labels, first, first + m), first, null), 0, x, first * size, m * size);
            }
        }
        if (c.inChannels() == 1 || c.inChannels() == 3) ImageGrid.writePng(file, x, n, c.inChannels(), side, side, perClass, 3);
    }
}
