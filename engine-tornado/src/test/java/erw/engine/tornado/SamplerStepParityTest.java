package erw.engine.tornado;

import erw.engine.Backend;
import erw.engine.Tensor;
import erw.engine.cpu.CpuBackend;
import erw.model.SiT;
import erw.model.SiTConfig;
import erw.sampler.Sampler;
import erw.sampler.SamplerKind;
import erw.sampler.SiTVelocity;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Sampler steps (Euler-Maruyama SDE with classifier-free guidance, so the velocity graph runs on
 * a doubled batch) with the model on TornadoVM against the CPU backend. Tolerance 1e-4 relative +
 * 1e-5 absolute on the samples after 3 steps.
 */
class SamplerStepParityTest {
    private static SiT model() {
        SiT m = new SiT(new SiTConfig(2, 64, 2, 4, 16, 1, 10, 2, 96, 32, 4.0, false, false, 0)).initialize(3);
        SplittableRandom r = new SplittableRandom(17);
        for (Tensor p : m.parameters().trainable()) {
            float[] d = p.data();
            for (int i = 0; i < d.length; i++) d[i] += (float) ((r.nextDouble() * 2 - 1) * 0.05);
        }
        return m;
    }

    private static float[] sample(Backend backend) {
        SiT m = model();
        float[] labels = {0, 3, 9};
        try (SiTVelocity field = new SiTVelocity(m, backend)) {
            Sampler s = new Sampler(field, field.sampleSize(), Sampler.Options.of(SamplerKind.SDE, 3, 21).withCfg(1.8, 0, 1));
            return s.sample(labels, 0, null);
        }
    }

    @Test
    void sdeStepsWithGuidanceMatchTheCpu() {
        TornadoBackend tv = Parity.tornado();
        float[] expected;
        try (CpuBackend c = new CpuBackend(1)) {
            expected = sample(c);
        }
        float[] actual = sample(tv);
        Parity.compare("sampler", List.of("samples"), List.of(expected), List.of(actual), 1e-4, 1e-5);
    }
}
