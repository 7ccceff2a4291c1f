package erw.engine.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;

import erw.engine.Graph;
import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.ops.AdamW;
import erw.engine.ops.ClipGradNorm;
import erw.engine.ops.EmaUpdate;
import erw.engine.ops.LinearInterpolant;
import erw.engine.ops.Randn;
import erw.engine.ops.ZeroGrad;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every op of the catalogue, forward and backward, on TornadoVM against the CPU backend.
 * Tolerances: 1e-4 relative + 1e-5 absolute for fp32 kernels whose sums run in another order
 * (GEMM, reductions, attention); tighter where the arithmetic is the same. The cases are data;
 * {@link #everyOpTypeHasAParityCase} enumerates the permitted types of the sealed {@link Op}, so a
 * new op without a case here fails the suite.
 */
class OpParityTest {
    private static final double RTOL = 1e-4, ATOL = 1e-5;

    private record Case(String name, boolean backward, double rtol, double atol, Parity.Case build) {}

    private static void add(List<Case> cases, String name, boolean backward, double rtol, double atol, Parity.Case build) {
        cases.add(new Case(name, backward, rtol, atol, build));
    }

    @TestFactory
    Stream<DynamicTest> parity() {
        // -Derw.parity.cases=REGEX (through -Dtornado.test.flags) runs only the matching cases
        String only = System.getProperty("erw.parity.cases");
        return cases().stream().filter(c -> only == null || c.name().matches(only)).map(c -> DynamicTest.dynamicTest(c.name(), () -> Parity.check(c.name(), c.backward(), c.rtol(), c.atol(), c.build())));
    }

    /**
     * Bias rows and bias gradients as GEMMs with a vector of ones (the CUDA backend's path, where they are cuBLAS calls and
     * compile nothing), here with the JIT GEMM kernel: the products with a bias (all four transposes, forward and backward)
     * and a broadcast add's column sums, against the CPU backend.
     */
    @TestFactory
    Stream<DynamicTest> biasAsGemms() {
        return cases().stream().filter(c -> c.name().startsWith("matmul_") || c.name().equals("add_broadcast")).map(c -> DynamicTest.dynamicTest(c.name() + "_bias_by_gemm", () -> {
            System.setProperty("erw.tornado.biasByGemm", "true");
            try {
                Parity.check(c.name() + "_bias_by_gemm", c.backward(), c.rtol(), c.atol(), c.build());
            } finally {
                System.clearProperty("erw.tornado.biasByGemm");
            }
        }));
    }

    /**
     * Attention as batched GEMMs and row kernels (the CUDA backend's path, where the GEMMs are cuBLAS calls), here with
     * the JIT GEMM kernel doing the batched products: the decomposition's index arithmetic against the CPU backend.
     */
    @TestFactory
    Stream<DynamicTest> attentionAsBatchedGemms() {
        return cases().stream().filter(c -> c.name().startsWith("attention")).map(c -> DynamicTest.dynamicTest(c.name() + "_by_gemm", () -> {
            System.setProperty("erw.tornado.attention", "gemm");
            try {
                Parity.check(c.name() + "_by_gemm", c.backward(), c.rtol(), c.atol(), c.build());
            } finally {
                System.clearProperty("erw.tornado.attention");
            }
        }));
    }

    /**
     * TF32 and bf16 where every product is a cuBLAS call (TornadoVM's CUDA backend), against the CPU backend's: there
     * cuBLAS rounds the fp32 operands itself ({@code CUBLAS_COMPUTE_32F_FAST_TF32 / _16BF}; NVIDIA documents only
     * "down-converting", the CPU rounds to nearest even) and sums in another order, and attention's probabilities are
     * computed on each side, so a rounding can fall the other way. Tolerances: TF32 5e-3 relative + 5e-4 absolute (a
     * TF32 operand carries 2^-11 relative error), bf16 2e-2 + 2e-3 (2^-8). Skipped elsewhere (PoCL here).
     */
    @TestFactory
    Stream<DynamicTest> reducedPrecisionWhereGemmsAreCublasCalls() {
        List<DynamicTest> tests = new ArrayList<>();
        for (erw.engine.Precision pr : List.of(erw.engine.Precision.TF32, erw.engine.Precision.BF16)) {
            for (Case c : cases()) {
                if (!(c.name().startsWith("matmul") || c.name().equals("linear") || c.name().startsWith("attention"))) continue;
                String name = c.name() + "_" + pr.id();
                double rtol = pr == erw.engine.Precision.TF32 ? 5e-3 : 2e-2;
                tests.add(DynamicTest.dynamicTest(name, () -> {
                    org.junit.jupiter.api.Assumptions.assumeTrue(RankDevice.libraryGemm(), "GEMMs are cuBLAS calls only on TornadoVM's CUDA backend");
                    Parity.check(name, c.backward(), rtol, rtol / 10, (g, ts) -> c.build().build(g.precision(pr), ts));
                }));
            }
        }
        return tests.stream();
    }

    /** TF32/bf16 products are refused in one line naming the op where the JIT GEMM kernel multiplies (fp32 only). */
    @Test
    void reducedPrecisionIsRefusedNamingTheOpWhereGemmsAreKernels() {
        org.junit.jupiter.api.Assumptions.assumeFalse(RankDevice.libraryGemm(), "cuBLAS runs them here");
        for (erw.engine.Precision pr : List.of(erw.engine.Precision.TF32, erw.engine.Precision.BF16)) {
            Graph g = new Graph("g").precision(pr);
            g.linear("blocks.0.mlp.fc1", erw.engine.Tensor.input("x", 4, 8), erw.engine.Tensor.param("w", 16, 8), null);
            erw.engine.EngineException e = org.junit.jupiter.api.Assertions.assertThrows(erw.engine.EngineException.class, () -> Parity.tornado().compile(g));
            assertEquals("TornadoVM backend: matmul 'blocks.0.mlp.fc1' is in " + pr.id() + "; this backend's GEMMs are fp32 only here (tf32 and "
                    + "bf16 are cuBLAS calls on TornadoVM's CUDA backend; use --precision fp32 here, or the CPU backend, which runs " + pr.id()
                    + " GEMMs)", e.getMessage());
        }
    }

    /** The fused attention kernel multiplies in fp32: asked for it in TF32 or bf16, the backend says so in one line. */
    @Test
    void theFusedAttentionKernelRefusesReducedPrecision() {
        System.setProperty("erw.tornado.attention", "fused");
        try {
            Graph g = new Graph("g").precision(erw.engine.Precision.BF16);
            g.attention("blocks.0.attn", erw.engine.Tensor.input("qkv", 8, 3 * 8), 2, 2);
            erw.engine.EngineException e = org.junit.jupiter.api.Assertions.assertThrows(erw.engine.EngineException.class, () -> Parity.tornado().compile(g));
            assertEquals("TornadoVM backend: attention 'blocks.0.attn' is in bf16; the fused attention kernel multiplies in fp32 (use --precision fp32)",
                    e.getMessage());
        } finally {
            System.clearProperty("erw.tornado.attention");
        }
    }

    @Test
    void everyOpTypeHasAParityCase() {
        Set<String> covered = new TreeSet<>(), all = new TreeSet<>();
        for (Case c : cases()) {
            for (Graph g : Parity.record(c.name(), c.backward(), c.build(), new Parity.Tensors(1234), new ArrayList<>())) {
                for (Op op : g.ops()) {
                    covered.add(op.getClass().getSimpleName());
                    if (op instanceof Graph.BackwardOf b) covered.add(b.forward().getClass().getSimpleName() + " (backward)");
                }
            }
        }
        for (Class<?> type : Op.class.getPermittedSubclasses()) all.add(type.getSimpleName());
        Set<String> missing = new TreeSet<>(all);
        missing.removeAll(covered);
        assertEquals(Set.of(), missing, "op types without a TornadoVM parity case (add one to cases())");
    }

    private static List<Case> cases() {
        List<Case> cases = new ArrayList<>();
        { // matmulAllTransposesWithBias
            for (boolean ta : new boolean[]{false, true}) {
                for (boolean tb : new boolean[]{false, true}) {
                    int m = 37, k = 19, n = 23;
                    add(cases, "matmul_" + ta + "_" + tb, true, RTOL, ATOL, (g, ts) -> {
                        Tensor a = ta ? ts.withGrad("a", k, m) : ts.withGrad("a", m, k);
                        Tensor b = tb ? ts.param("b", n, k) : ts.param("b", k, n);
                        return List.of(g.matmul("mm", a, ta, b, tb, ts.param("bias", n)));
                    });
                }
            }
        }

        { // linearWithoutBias
            add(cases, "linear", true, RTOL, ATOL, (g, ts) -> List.of(g.linear("lin", ts.withGrad("x", 2, 9, 40), ts.param("w", 33, 40), null)));
        }

        { // addMulScale
            add(cases, "add", true, 0, 0, (g, ts) -> List.of(g.add("add", ts.withGrad("a", 5, 7), ts.withGrad("b", 5, 7))));
            add(cases, "add_broadcast", true, RTOL, ATOL, (g, ts) -> List.of(g.add("add", ts.withGrad("a", 50, 7), ts.param("bias", 7))));
            add(cases, "mul", true, 0, 0, (g, ts) -> List.of(g.mul("mul", ts.withGrad("a", 5, 7), ts.withGrad("b", 5, 7))));
            add(cases, "scale", true, 1e-6, 0, (g, ts) -> List.of(g.scale("sc", ts.withGrad("a", 5, 7), -1.5f, ts.scalar("lambda", 0.7f))));
            add(cases, "scale_const", true, 1e-6, 0, (g, ts) -> List.of(g.scale("sc", ts.withGrad("a", 5, 7), 0.25f)));
        }

        { // activations
            add(cases, "silu", true, 1e-5, 1e-6, (g, ts) -> List.of(g.silu("silu", ts.withGrad("x", 300))));
            add(cases, "gelu", true, 1e-5, 1e-6, (g, ts) -> List.of(g.gelu("gelu", ts.withGrad("x", 300))));
        }

        { // gatedResidualAndModulate
            add(cases, "gated_residual", true, RTOL, ATOL, (g, ts) ->
                    List.of(g.gatedResidual("gr", ts.withGrad("x", 3, 5, 8), ts.withGrad("gate", 3, 8), ts.withGrad("h", 3, 5, 8))));
            add(cases, "modulate", true, RTOL, ATOL, (g, ts) ->
                    List.of(g.modulate("mod", ts.withGrad("x", 3, 5, 8), ts.withGrad("shift", 3, 8), ts.withGrad("scale", 3, 8))));
        }

        { // layerNormWithAndWithoutAffine
            add(cases, "layernorm", true, RTOL, ATOL, (g, ts) -> List.of(g.layerNorm("ln", ts.withGrad("x", 6, 200), null, null, 1e-6f)));
            add(cases, "layernorm_affine", true, RTOL, ATOL, (g, ts) ->
                    List.of(g.layerNorm("ln", ts.withGrad("x", 6, 37), ts.param("w", 37), ts.param("b", 37), 1e-5f)));
        }

        { // softmax
            add(cases, "softmax", true, RTOL, ATOL, (g, ts) -> List.of(g.softmax("sm", ts.withGrad("x", 7, 150))));
        }

        { // attention
            add(cases, "attention", true, RTOL, ATOL, (g, ts) -> List.of(g.attention("attn", ts.withGrad("qkv", 2 * 70, 3 * 24), 2, 3)));
            // more tokens than one chunk of scores in local memory (1,024): two chunks, the second partial
            add(cases, "attention_long", true, RTOL, ATOL, (g, ts) -> List.of(g.attention("attn", ts.withGrad("qkv", 1100, 3 * 16), 1, 2)));
        }

        { // patchifyAndUnpatchify
            add(cases, "patchify", true, 0, 0, (g, ts) -> List.of(g.patchify("p", ts.withGrad("img", 2, 3, 8, 8), 2, 3, 8, 8, 4)));
            add(cases, "unpatchify", true, 0, 0, (g, ts) -> List.of(g.unpatchify("u", ts.withGrad("tok", 2 * 4, 4 * 4 * 3), 2, 3, 8, 8, 4)));
        }

        { // embeddingConcatChunk
            add(cases, "embedding", true, 0, 0, (g, ts) -> List.of(g.embedding("emb", ts.param("table", 11, 6), ts.indices("idx", 25, 11))));
            add(cases, "concat", true, 0, 0, (g, ts) -> List.of(g.concat("cat", List.of(ts.withGrad("a", 4, 3), ts.withGrad("b", 4, 5)))));
            add(cases, "chunk", true, 0, 0, (g, ts) -> g.chunk("ch", ts.withGrad("x", 4, 12), 3));
            add(cases, "chunk_6", true, 0, 0, (g, ts) -> g.chunk("ch", ts.withGrad("x", 5, 2, 18), 6)); // adaLN's six: one task each way
        }

        { // losses
            add(cases, "mse", true, RTOL, ATOL, (g, ts) -> List.of(g.mse("mse", ts.withGrad("p", 4, 50), ts.input("q", 4, 50))));
            add(cases, "cosine_align", true, RTOL, ATOL, (g, ts) -> List.of(g.cosineAlign("cos", ts.withGrad("z", 12, 40), ts.input("y", 12, 40))));
            add(cases, "cosine_align_weighted", true, RTOL, ATOL, (g, ts) -> List.of(g.cosineAlign("cosw", ts.withGrad("z", 12, 40), ts.input("y", 12, 40), ts.input("w", 3))));
            add(cases, "pooled_alignment", true, RTOL, ATOL, (g, ts) -> List.of(g.cosineAlign("cosp", g.tokenMean("pool", ts.withGrad("tok", 12, 40), 3), ts.input("yp", 3, 40), ts.input("w", 3))));
            for (boolean sym : new boolean[]{false, true}) {
                add(cases, "ntxent_" + sym, true, RTOL, ATOL, (g, ts) ->
                        List.of(g.ntXentAlign("nt", ts.withGrad("z", 4 * 6, 16), ts.input("y", 4 * 6, 16), 4, 0.1f, sym)));
            }
            add(cases, "cross_entropy", true, RTOL, ATOL, (g, ts) -> List.of(g.crossEntropy("ce", ts.withGrad("l", 9, 10), ts.indices("y", 9, 10))));
        }

        { // reductions
            add(cases, "sum", true, RTOL, ATOL, (g, ts) -> List.of(g.sum("s", ts.withGrad("x", 1000))));
            add(cases, "mean", true, RTOL, ATOL, (g, ts) -> List.of(g.mean("m", ts.withGrad("x", 1000))));
            add(cases, "l2norm", true, RTOL, ATOL, (g, ts) -> List.of(g.l2norm("n", List.of(ts.withGrad("x", 1000), ts.withGrad("y", 33)))));
        }

        { // timestepRopeTokenMean
            add(cases, "timestep_embedding", false, 1e-6, 1e-6, (g, ts) -> List.of(g.timestepEmbedding("te", ts.input("t", 5), 256)));
            add(cases, "rope", true, 1e-6, 1e-6, (g, ts) ->
                    List.of(g.rope("rope", ts.withGrad("qkv", 2 * 5, 3 * 2 * 4), ts.input("cos", 5, 4), ts.input("sin", 5, 4), 2, 2)));
            add(cases, "token_mean", true, 1e-6, 1e-6, (g, ts) -> List.of(g.tokenMean("tm", ts.withGrad("x", 3 * 7, 5), 3)));
        }

        { // conv2d: NCHW, weight (K, C, kh, kw)
            add(cases, "conv2d_3x3_pad1", true, RTOL, ATOL, (g, ts) ->
                    List.of(g.conv2d("conv", ts.withGrad("x", 2, 3, 7, 6), ts.param("w", 5, 3, 3, 3), ts.param("bias", 5), 1, 1)));
            // the SD-VAE's downsampling: F.pad(x, (0, 1, 0, 1)) then a 3x3 stride-2 conv
            add(cases, "conv2d_stride2_pad0011", true, RTOL, ATOL, (g, ts) ->
                    List.of(g.conv2d("down", ts.withGrad("x", 2, 4, 9, 8), ts.param("w", 6, 4, 3, 3), ts.param("bias", 6), 2, 0, 0, 1, 1)));
            add(cases, "conv2d_1x1_nobias", true, RTOL, ATOL, (g, ts) ->
                    List.of(g.conv2d("proj", ts.withGrad("x", 2, 18, 5, 5), ts.param("w", 20, 18, 1, 1), null, 1, 0)));
            add(cases, "conv2d_frozen_input", true, RTOL, ATOL, (g, ts) -> // weight and bias gradients only
                    List.of(g.conv2d("conv_in", ts.input("x", 1, 3, 6, 7), ts.param("w", 4, 3, 3, 3), ts.param("bias", 4), 1, 1)));
            // 2 x 48 x 48 output pixels: the CPU's bands of 2,048 pixels, the weight gradient's split inner dimension.
            // A weight or bias gradient sums 4,608 products (magnitude ~20): float rounding on either backend is ~1e-4
            // absolute, so an element near zero needs a larger atol than the sums of a few dozen terms above
            add(cases, "conv2d_large", true, RTOL, 5e-4, (g, ts) ->
                    List.of(g.conv2d("big", ts.withGrad("x", 2, 3, 48, 48), ts.param("w", 20, 3, 3, 3), ts.param("bias", 20), 1, 1)));
        }

        { // groupNormWithAndWithoutAffine
            add(cases, "groupnorm", true, RTOL, ATOL, (g, ts) -> List.of(g.groupNorm("gn", ts.withGrad("x", 2, 6, 5, 4), 3, null, null, 1e-5f)));
            add(cases, "groupnorm_affine", true, RTOL, ATOL, (g, ts) ->
                    List.of(g.groupNorm("gn", ts.withGrad("x", 2, 8, 6, 5), 4, ts.param("w", 8), ts.param("b", 8), 1e-6f)));
            add(cases, "groupnorm_affine_rank3", true, RTOL, ATOL, (g, ts) ->
                    List.of(g.groupNorm("gn", ts.withGrad("x", 3, 32, 10), 32, ts.param("w", 32), ts.param("b", 32), 1e-6f)));
        }

        { // upsample
            add(cases, "upsample_2", true, 0, 0, (g, ts) -> List.of(g.upsample("up", ts.withGrad("x", 2, 3, 4, 5), 2)));
            add(cases, "upsample_3", true, 0, 0, (g, ts) -> List.of(g.upsample("up", ts.withGrad("x", 1, 2, 3, 3), 3)));
        }

        { // optimizerSteps
            add(cases, "adamw", false, 1e-5, 1e-7, (g, ts) -> {
                Tensor p = ts.param("p", 300), q = ts.param("q", 17);
                AdamW adam = g.add(new AdamW("adam", List.of(p, q), ts.scalar("lr", 1e-2f), ts.scalar("step", 3), 0.9f, 0.999f, 1e-8f, 0.01f));
                return List.of(p, q, adam.firstMoments().get(0), adam.secondMoments().get(1));
            });
            add(cases, "clip", false, 1e-5, 1e-7, (g, ts) -> {
                Tensor p = ts.param("p", 300), q = ts.param("q", 17), norm = ts.scalar("norm", 0);
                g.add(new ClipGradNorm("clip", List.of(p, q), 1.0f, norm));
                return List.of(norm); // the clipped gradients are compared too
            });
            add(cases, "ema", false, 1e-6, 1e-7, (g, ts) -> {
                Tensor p = ts.param("p", 300), e = ts.state("e", 300);
                g.add(new EmaUpdate("ema", List.of(p), List.of(e), ts.scalar("decay", 0.99f)));
                return List.of(e);
            });
            add(cases, "zero_grad", false, 0, 0, (g, ts) -> {
                Tensor p = ts.param("p", 300);
                g.add(new ZeroGrad("zero", List.of(p)));
                return List.of(p); // and its zeroed gradient
            });
            // many tensors: the grouped kernels (MultiTensorKernels: 3 per AdamW task, 8 per norm / clip / zero task, 6 per
            // EMA task) and the tensors past the last full group one by one; sizes from 1 element to several norm chunks
            int[] sizes = {300, 17, 1, 20_000, 5, 64, 9_000, 3, 128, 1_000, 7, 40_000, 2, 33, 700, 11, 8_193, 4, 250};
            add(cases, "adamw_grouped", false, 1e-5, 1e-7, (g, ts) -> {
                List<Tensor> ps = new java.util.ArrayList<>();
                for (int k = 0; k < 7; k++) ps.add(ts.param("p" + k, sizes[k]));
                AdamW adam = g.add(new AdamW("adam", ps, ts.scalar("lr", 1e-2f), ts.scalar("step", 3), 0.9f, 0.999f, 1e-8f, 0.01f));
                List<Tensor> out = new java.util.ArrayList<>(ps);
                out.addAll(adam.firstMoments());
                out.addAll(adam.secondMoments());
                return out;
            });
            add(cases, "clip_grouped", false, 1e-5, 1e-7, (g, ts) -> {
                List<Tensor> ps = new java.util.ArrayList<>();
                for (int k = 0; k < sizes.length; k++) ps.add(ts.param("p" + k, sizes[k]));
                Tensor norm = ts.scalar("norm", 0);
                g.add(new ClipGradNorm("clip", ps, 1.0f, norm));
                return List.of(norm);
            });
            add(cases, "ema_grouped", false, 1e-6, 1e-7, (g, ts) -> {
                List<Tensor> ps = new java.util.ArrayList<>(), es = new java.util.ArrayList<>();
                for (int k = 0; k < 13; k++) {
                    ps.add(ts.param("p" + k, sizes[k]));
                    es.add(ts.state("e" + k, sizes[k]));
                }
                g.add(new EmaUpdate("ema", ps, es, ts.scalar("decay", 0.99f)));
                return es;
            });
            add(cases, "zero_grad_grouped", false, 0, 0, (g, ts) -> {
                List<Tensor> ps = new java.util.ArrayList<>();
                for (int k = 0; k < 17; k++) ps.add(ts.param("p" + k, sizes[k]));
                g.add(new ZeroGrad("zero", ps));
                return ps;
            });
            add(cases, "randn", false, 1e-6, 1e-6, (g, ts) -> {
                Tensor out = Tensor.state("noise", 4, 1, 9, 9);
                g.add(new Randn("noise", out, 0x1234_5678_9ABCL, 1, ts.scalar("counter", 77)));
                return List.of(out);
            });
            add(cases, "randn_offset", false, 1e-6, 1e-6, (g, ts) -> { // a data-parallel rank's slice of the noise
                Tensor out = Tensor.state("noise", 2, 1, 9, 9);
                g.add(new Randn("noise", out, 0x1234_5678_9ABCL, 1, ts.scalar("counter", 77), 2 * 81 * 3 + 2));
                return List.of(out);
            });
            add(cases, "linear_interpolant", false, 1e-6, 1e-7, (g, ts) -> {
                Tensor xt = Tensor.state("xt", 3, 10), v = Tensor.state("v", 3, 10);
                g.add(new LinearInterpolant("interp", ts.input("x0", 3, 10), ts.input("e", 3, 10), ts.input("t", 3), xt, v));
                return List.of(xt, v);
            });
        }
        return cases;
    }
}
