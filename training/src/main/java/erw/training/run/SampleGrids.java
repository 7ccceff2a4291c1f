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

    /** Samples on the training's backend (the device, with --backend tornado); host-side steps on its host pool. */
    public static void write(Backend backend, SiT model, Path file, int numClasses, int perClass, int steps, double cfg, long seed) {
        SiTConfig c = model.config();
        int n = numClasses * perClass, side = c.inputSize(), size = c.inChannels() * side * side;
        float[] labels = new float[n];
        for (int i = 0; i < n; i++) labels[i] = i / perClass;
        try (SiTVelocity field = new SiTVelocity(model, backend)) {
            Sampler sampler = new Sampler(field, size, Sampler.Options.of(SamplerKind.SDE, steps, seed).withCfg(cfg, 0, 1),
                    backend.host());
            float[] x = sampler.sample(labels, 0, null);
            if (c.inChannels() == 1 || c.inChannels() == 3) ImageGrid.writePng(file, x, n, c.inChannels(), side, side, perClass, 3);
        }
    }
}
