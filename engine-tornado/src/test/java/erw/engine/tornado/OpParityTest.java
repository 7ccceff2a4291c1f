package erw.engine.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;

import erw.engine.Tensor;
import erw.engine.ops.AdamW;
import erw.engine.ops.ClipGradNorm;
import erw.engine.ops.EmaUpdate;
import erw.engine.ops.LinearInterpolant;
import erw.engine.ops.Randn;
import erw.engine.ops.ZeroGrad;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Every op of the catalogue, forward and backward, on TornadoVM against the CPU backend.
 * Tolerances: 1e-4 relative + 1e-5 absolute for fp32 kernels whose sums run in another order
 * (GEMM, reductions, attention); tighter where the arithmetic is the same.
 */
class OpParityTest {
    private static final double RTOL = 1e-4, ATOL = 1e-5;

    @Test
    void everyCatalogueTypeHasAKernel() {
        Set<String> catalogue = new TreeSet<>(List.of("matmul", "add", "mul", "scale", "silu", "gelu", "gated_residual", "modulate",
                "layernorm", "softmax", "attention", "patchify", "unpatchify", "embedding", "concat", "chunk", "mse", "cosine_align",
                "ntxent_align", "sum", "mean", "l2norm", "timestep_embedding", "rope", "token_mean", "softmax_cross_entropy",
                "adamw", "clip_grad_norm", "ema", "zero_grad", "seed_grad", "randn", "linear_interpolant"));
        assertEquals(catalogue, new TreeSet<>(new Lowerings().types()));
    }

    @Test
    void matmulAllTransposesWithBias() {
        for (boolean ta : new boolean[]{false, true}) {
            for (boolean tb : new boolean[]{false, true}) {
                int m = 37, k = 19, n = 23;
                Parity.check("matmul_" + ta + "_" + tb, true, RTOL, ATOL, (g, ts) -> {
                    Tensor a = ta ? ts.withGrad("a", k, m) : ts.withGrad("a", m, k);
                    Tensor b = tb ? ts.param("b", n, k) : ts.param("b", k, n);
                    return List.of(g.matmul("mm", a, ta, b, tb, ts.param("bias", n)));
                });
            }
        }
    }

    @Test
    void linearWithoutBias() {
        Parity.check("linear", true, RTOL, ATOL, (g, ts) -> List.of(g.linear("lin", ts.withGrad("x", 2, 9, 40), ts.param("w", 33, 40), null)));
    }

    @Test
    void addMulScale() {
        Parity.check("add", true, 0, 0, (g, ts) -> List.of(g.add("add", ts.withGrad("a", 5, 7), ts.withGrad("b", 5, 7))));
        Parity.check("add_broadcast", true, RTOL, ATOL, (g, ts) -> List.of(g.add("add", ts.withGrad("a", 50, 7), ts.param("bias", 7))));
        Parity.check("mul", true, 0, 0, (g, ts) -> List.of(g.mul("mul", ts.withGrad("a", 5, 7), ts.withGrad("b", 5, 7))));
        Parity.check("scale", true, 1e-6, 0, (g, ts) -> List.of(g.scale("sc", ts.withGrad("a", 5, 7), -1.5f, ts.scalar("lambda", 0.7f))));
        Parity.check("scale_const", true, 1e-6, 0, (g, ts) -> List.of(g.scale("sc", ts.withGrad("a", 5, 7), 0.25f)));
    }

    @Test
    void activations() {
        Parity.check("silu", true, 1e-5, 1e-6, (g, ts) -> List.of(g.silu("silu", ts.withGrad("x", 300))));
        Parity.check("gelu", true, 1e-5, 1e-6, (g, ts) -> List.of(g.gelu("gelu", ts.withGrad("x", 300))));
    }

    @Test
    void gatedResidualAndModulate() {
        Parity.check("gated_residual", true, RTOL, ATOL, (g, ts) ->
                List.of(g.gatedResidual("gr", ts.withGrad("x", 3, 5, 8), ts.withGrad("gate", 3, 8), ts.withGrad("h", 3, 5, 8))));
        Parity.check("modulate", true, RTOL, ATOL, (g, ts) ->
                List.of(g.modulate("mod", ts.withGrad("x", 3, 5, 8), ts.withGrad("shift", 3, 8), ts.withGrad("scale", 3, 8))));
    }

    @Test
    void layerNormWithAndWithoutAffine() {
        Parity.check("layernorm", true, RTOL, ATOL, (g, ts) -> List.of(g.layerNorm("ln", ts.withGrad("x", 6, 200), null, null, 1e-6f)));
        Parity.check("layernorm_affine", true, RTOL, ATOL, (g, ts) ->
                List.of(g.layerNorm("ln", ts.withGrad("x", 6, 37), ts.param("w", 37), ts.param("b", 37), 1e-5f)));
    }

    @Test
    void softmax() {
        Parity.check("softmax", true, RTOL, ATOL, (g, ts) -> List.of(g.softmax("sm", ts.withGrad("x", 7, 150))));
    }

    @Test
    void attention() {
        Parity.check("attention", true, RTOL, ATOL, (g, ts) -> List.of(g.attention("attn", ts.withGrad("qkv", 2 * 70, 3 * 24), 2, 3)));
    }

    @Test
    void patchifyAndUnpatchify() {
        Parity.check("patchify", true, 0, 0, (g, ts) -> List.of(g.patchify("p", ts.withGrad("img", 2, 3, 8, 8), 2, 3, 8, 8, 4)));
        Parity.check("unpatchify", true, 0, 0, (g, ts) -> List.of(g.unpatchify("u", ts.withGrad("tok", 2 * 4, 4 * 4 * 3), 2, 3, 8, 8, 4)));
    }

    @Test
    void embeddingConcatChunk() {
        Parity.check("embedding", true, 0, 0, (g, ts) -> List.of(g.embedding("emb", ts.param("table", 11, 6), ts.indices("idx", 25, 11))));
        Parity.check("concat", true, 0, 0, (g, ts) -> List.of(g.concat("cat", List.of(ts.withGrad("a", 4, 3), ts.withGrad("b", 4, 5)))));
        Parity.check("chunk", true, 0, 0, (g, ts) -> g.chunk("ch", ts.withGrad("x", 4, 12), 3));
    }

    @Test
    void losses() {
        Parity.check("mse", true, RTOL, ATOL, (g, ts) -> List.of(g.mse("mse", ts.withGrad("p", 4, 50), ts.input("q", 4, 50))));
        Parity.check("cosine_align", true, RTOL, ATOL, (g, ts) -> List.of(g.cosineAlign("cos", ts.withGrad("z", 12, 40), ts.input("y", 12, 40))));
        for (boolean sym : new boolean[]{false, true}) {
            Parity.check("ntxent_" + sym, true, RTOL, ATOL, (g, ts) ->
                    List.of(g.ntXentAlign("nt", ts.withGrad("z", 4 * 6, 16), ts.input("y", 4 * 6, 16), 4, 0.1f, sym)));
        }
        Parity.check("cross_entropy", true, RTOL, ATOL, (g, ts) -> List.of(g.crossEntropy("ce", ts.withGrad("l", 9, 10), ts.indices("y", 9, 10))));
    }

    @Test
    void reductions() {
        Parity.check("sum", true, RTOL, ATOL, (g, ts) -> List.of(g.sum("s", ts.withGrad("x", 1000))));
        Parity.check("mean", true, RTOL, ATOL, (g, ts) -> List.of(g.mean("m", ts.withGrad("x", 1000))));
        Parity.check("l2norm", true, RTOL, ATOL, (g, ts) -> List.of(g.l2norm("n", List.of(ts.withGrad("x", 1000), ts.withGrad("y", 33)))));
    }

    @Test
    void timestepRopeTokenMean() {
        Parity.check("timestep_embedding", false, 1e-6, 1e-6, (g, ts) -> List.of(g.timestepEmbedding("te", ts.input("t", 5), 256)));
        Parity.check("rope", true, 1e-6, 1e-6, (g, ts) ->
                List.of(g.rope("rope", ts.withGrad("qkv", 2 * 5, 3 * 2 * 4), ts.input("cos", 5, 4), ts.input("sin", 5, 4), 2, 2)));
        Parity.check("token_mean", true, 1e-6, 1e-6, (g, ts) -> List.of(g.tokenMean("tm", ts.withGrad("x", 3 * 7, 5), 3)));
    }

    @Test
    void optimizerSteps() {
        Parity.check("adamw", false, 1e-5, 1e-7, (g, ts) -> {
            Tensor p = ts.param("p", 300), q = ts.param("q", 17);
            AdamW adam = g.add(new AdamW("adam", List.of(p, q), ts.scalar("lr", 1e-2f), ts.scalar("step", 3), 0.9f, 0.999f, 1e-8f, 0.01f));
            return List.of(p, q, adam.firstMoments().get(0), adam.secondMoments().get(1));
        });
        Parity.check("clip", false, 1e-5, 1e-7, (g, ts) -> {
            Tensor p = ts.param("p", 300), q = ts.param("q", 17), norm = ts.scalar("norm", 0);
            g.add(new ClipGradNorm("clip", List.of(p, q), 1.0f, norm));
            return List.of(norm); // the clipped gradients are compared too
        });
        Parity.check("ema", false, 1e-6, 1e-7, (g, ts) -> {
            Tensor p = ts.param("p", 300), e = ts.state("e", 300);
            g.add(new EmaUpdate("ema", List.of(p), List.of(e), ts.scalar("decay", 0.99f)));
            return List.of(e);
        });
        Parity.check("zero_grad", false, 0, 0, (g, ts) -> {
            Tensor p = ts.param("p", 300);
            g.add(new ZeroGrad("zero", List.of(p)));
            return List.of(p); // and its zeroed gradient
        });
        Parity.check("randn", false, 1e-6, 1e-6, (g, ts) -> {
            Tensor out = Tensor.state("noise", 4, 1, 9, 9);
            g.add(new Randn("noise", out, 0x1234_5678_9ABCL, 1, ts.scalar("counter", 77)));
            return List.of(out);
        });
        Parity.check("linear_interpolant", false, 1e-6, 1e-7, (g, ts) -> {
            Tensor xt = Tensor.state("xt", 3, 10), v = Tensor.state("v", 3, 10);
            g.add(new LinearInterpolant("interp", ts.input("x0", 3, 10), ts.input("e", 3, 10), ts.input("t", 3), xt, v));
            return List.of(xt, v);
        });
    }
}
