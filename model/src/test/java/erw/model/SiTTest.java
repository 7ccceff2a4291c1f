package erw.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.GradCheck;
import erw.engine.Graph;
import erw.engine.Tensor;
import erw.engine.cpu.CpuBackend;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SiTTest {
    static final SiTConfig TINY = new SiTConfig(2, 32, 2, 2, 4, 2, 3, 1, 16, 8, 4.0, false, false, 0);

    /** Every parameter random (the zero init would hide most gradients). */
    static SiT randomModel(SiTConfig cfg, long seed) {
        SiT m = new SiT(cfg);
        int k = 0;
        for (Tensor t : m.parameters().trainable()) GradCheck.fill(t, seed + k++, 0.12f);
        return m;
    }

    static Tensor[] inputs(int n, SiTConfig cfg) {
        Tensor x = Tensor.input("x", n, cfg.inChannels(), cfg.inputSize(), cfg.inputSize());
        GradCheck.fill(x, 77, 1f);
        Tensor t = Tensor.input("t", n), y = Tensor.input("y", n);
        for (int i = 0; i < n; i++) {
            t.data()[i] = 0.1f + 0.8f * i / n;
            y.data()[i] = i % (cfg.numClasses() + 1);
        }
        return new Tensor[]{x, t, y};
    }

    @Test
    void wholeModelGradientMatchesFiniteDifferences() {
        for (boolean qk : new boolean[]{false, true}) {
            SiTConfig cfg = new SiTConfig(2, 32, 2, 2, 4, 2, 3, 1, 16, 8, 4.0, qk, false, 0);
            SiT m = randomModel(cfg, 5);
            Tensor[] in = inputs(3, cfg);
            try (CpuBackend cpu = new CpuBackend(2)) {
                GradCheck check = new GradCheck(cpu);
                check.maxCoordsPerTensor = 6;
                check.eps = 2e-3;
                check.check("sit" + (qk ? "-qknorm" : ""), g -> {
                    SiT.Outputs o = m.forward(g, in[0], in[1], in[2]);
                    return List.of(o.velocity(), o.zs());
                }, new ArrayList<>(m.parameters().trainable()));
            }
        }
    }

    @Test
    void truncatedModelHoldsTheFirstBlocksAndTheProjector() {
        SiTConfig full = new SiTConfig(4, 32, 2, 2, 4, 2, 3, 3, 16, 8, 4.0, false, false, 0);
        SiT warm = new SiT(full.truncatedTo(2));
        assertTrue(warm.parameters().contains("blocks.1.attn.qkv.weight"));
        assertTrue(!warm.parameters().contains("blocks.2.attn.qkv.weight"));
        assertTrue(!warm.parameters().contains("final_layer.linear.weight"));
        assertTrue(warm.parameters().contains("projectors.0.4.weight"));
        Tensor[] in = inputs(2, full);
        Graph g = new Graph("warm");
        SiT.Outputs o = warm.initialize(1).forward(g, in[0], in[1], in[2]);
        assertEquals(null, o.velocity());
        assertArrayEquals(new int[]{2, 4, 8}, o.zs().shape());
    }

    @Test
    void initializationFollowsTheSpec() {
        SiT m = new SiT(SiTConfig.tiny()).initialize(123);
        ParameterStore p = m.parameters();
        for (String zero : List.of("final_layer.linear.weight", "final_layer.adaLN_modulation.1.weight", "blocks.0.adaLN_modulation.1.weight", "blocks.3.attn.qkv.bias")) {
            for (float v : p.get(zero).data()) assertEquals(0f, v, zero);
        }
        float[] w = p.get("blocks.0.mlp.fc1.weight").data(); // xavier: U(-a, a), a = sqrt(6/(192+768))
        double a = Math.sqrt(6.0 / (192 + 768)), max = 0, var = 0;
        for (float v : w) { max = Math.max(max, Math.abs(v)); var += v * v; }
        assertTrue(max <= a && max > 0.95 * a, "xavier bound");
        assertEquals(a * a / 3, var / w.length, 0.05 * a * a / 3);
        float[] y = p.get("y_embedder.embedding_table.weight").data();
        double s2 = 0;
        for (float v : y) s2 += v * v;
        assertEquals(0.02, Math.sqrt(s2 / y.length), 0.002);
        // MAE sin-cos table: token (i=1, j=2): dim 0 = sin(j), dim D/4 = cos(j), dim D/2 = sin(i)
        float[] pe = p.get("pos_embed").data();
        int d = 192, token = 1 * 8 + 2;
        assertEquals(Math.sin(2), pe[token * d], 1e-6);
        assertEquals(Math.cos(2), pe[token * d + d / 4], 1e-6);
        assertEquals(Math.sin(1), pe[token * d + d / 2], 1e-6);
        // the same seed gives the same weights
        assertArrayEquals(w, new SiT(SiTConfig.tiny()).initialize(123).parameters().get("blocks.0.mlp.fc1.weight").data());
    }

    @Test
    void parameterCountsMatchThePublishedModels() {
        // SPEC: backbone incl. pos_embed + projector (Z = 768): S/2 32.96M + 6.56M ... XL/2 675.1M + 8.13M
        Object[][] expected = {{"SiT-S/2", 32.96e6, 6.56e6}, {"SiT-B/2", 130.5e6, 7.34e6}, {"SiT-L/2", 458.1e6, 7.87e6}, {"SiT-XL/2", 675.1e6, 8.13e6}};
        for (Object[] e : expected) {
            SiTConfig cfg = SiTConfig.named((String) e[0]);
            long projector = ModelSizes.projectorParameters(cfg), total = ModelSizes.parameters(cfg);
            assertEquals((double) e[2], projector, 0.01e6, e[0] + " projector");
            assertEquals((double) e[1], total - projector, 0.1e6, e[0] + " backbone");
        }
    }

    @Test
    void badConfigsAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new SiTConfig(2, 30, 4, 2, 4, 2, 3, 1, 16, 8, 4.0, false, false, 0));
        assertTrue(e.getMessage().contains("num_heads"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SiTConfig.named("SiT-M/2"));
        assertThrows(IllegalArgumentException.class, () -> SiTConfig.fromJson("{\"depth\": 2}"));
        assertEquals(TINY, SiTConfig.fromJson(TINY.toJson()));
    }

    @Test
    void sizeFormulasMatchTheAllocatedModelAndGraph() {
        for (boolean qk : new boolean[]{false, true}) {
            SiTConfig cfg = new SiTConfig(3, 32, 2, 2, 8, 3, 5, 2, 24, 8, 4.0, qk, false, 0);
            for (SiTConfig c : List.of(cfg, cfg.truncatedTo(2))) {
                SiT m = new SiT(c);
                assertEquals(m.parameters().totalCount(), ModelSizes.parameters(c), "parameters " + c);
                Tensor[] in = inputs(5, c);
                Graph g = new Graph("count");
                m.forward(g, in[0], in[1], in[2]);
                assertEquals(ModelSizes.recordedActivationFloats(g), ModelSizes.activationFloats(c, 5), "activations " + c);
            }
        }
    }
}
