package erw.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import erw.engine.cpu.CpuBackend;
import erw.engine.ops.AdamW;
import erw.engine.ops.ClipGradNorm;
import erw.engine.ops.EmaUpdate;
import erw.engine.ops.LinearInterpolant;
import erw.engine.ops.Randn;
import erw.engine.ops.SeedGrad;
import erw.engine.ops.TimestepEmbedding;
import erw.engine.ops.ZeroGrad;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * A finite-difference gradient check for every differentiable op of the catalogue. The cases are
 * data; {@link #everyDifferentiableOpTypeHasAGradientCase} enumerates the permitted types of the
 * sealed {@link Op}, so a new op without a case here (or a place in {@link #NOT_DIFFERENTIATED}) fails.
 */
class OpGradientTest {
    private static final CpuBackend CPU = new CpuBackend(2);
    private final GradCheck check = new GradCheck(CPU);

    /** Ops without a vector-Jacobian product (data preparation, optimizer steps); OpParityTest and their own tests cover them. */
    private static final Set<Class<?>> NOT_DIFFERENTIATED = Set.of(TimestepEmbedding.class, AdamW.class, ClipGradNorm.class, EmaUpdate.class,
            ZeroGrad.class, SeedGrad.class, Randn.class, LinearInterpolant.class, Graph.BackwardOf.class);

    @AfterAll
    static void close() {
        CPU.close();
    }

    private record Case(String name, Function<Graph, List<Tensor>> build, List<Tensor> wrt) {}

    private static void add(List<Case> cases, String name, Function<Graph, List<Tensor>> build, List<Tensor> wrt) {
        cases.add(new Case(name, build, wrt));
    }

    private static Tensor in(String name, long seed, int... shape) {
        Tensor t = Tensor.inputWithGrad(name, shape);
        GradCheck.fill(t, seed, 1f);
        return t;
    }

    private static Tensor fixed(String name, long seed, int... shape) {
        Tensor t = Tensor.input(name, shape);
        GradCheck.fill(t, seed, 1f);
        return t;
    }

    private static List<Case> cases() {
        List<Case> cases = new ArrayList<>();
        { // matmulAllTransposesWithBias
            for (boolean ta : new boolean[]{false, true}) {
                for (boolean tb : new boolean[]{false, true}) {
                    Tensor a = ta ? in("a", 1, 5, 3) : in("a", 1, 3, 5);
                    Tensor b = tb ? in("b", 2, 4, 5) : in("b", 2, 5, 4);
                    Tensor bias = in("bias", 3, 4);
                    add(cases, "matmul" + ta + tb, g -> List.of(g.matmul("mm", a, ta, b, tb, bias)), List.of(a, b, bias));
                }
            }
        }

        { // linearOnBatchedTokens
            Tensor x = in("x", 4, 2, 3, 6), w = in("w", 5, 7, 6), b = in("b", 6, 7);
            add(cases, "linear", g -> List.of(g.linear("lin", x, w, b)), List.of(x, w, b));
        }

        { // addMulScale
            Tensor a = in("a", 7, 4, 6), b = in("b", 8, 4, 6), bias = in("bias", 9, 6);
            Tensor factor = Tensor.scalar("lambda", 0.7f);
            add(cases, "add", g -> List.of(g.add("add", a, b)), List.of(a, b));
            add(cases, "add_broadcast", g -> List.of(g.add("addb", a, bias)), List.of(a, bias));
            add(cases, "mul", g -> List.of(g.mul("mul", a, b)), List.of(a, b));
            add(cases, "scale", g -> List.of(g.scale("sc", a, -1.5f, factor)), List.of(a));
        }

        { // gatedResidualAndModulate
            Tensor x = in("x", 10, 2, 3, 5), h = in("h", 11, 2, 3, 5), gate = in("gate", 12, 2, 5);
            Tensor shift = in("shift", 13, 2, 5), scale = in("scale", 14, 2, 5);
            add(cases, "gated_residual", g -> List.of(g.gatedResidual("gr", x, gate, h)), List.of(x, gate, h));
            add(cases, "modulate", g -> List.of(g.modulate("mod", x, shift, scale)), List.of(x, shift, scale));
        }

        { // layerNormPlainAndAffine
            Tensor x = in("x", 15, 4, 8), w = in("w", 16, 8), b = in("b", 17, 8);
            add(cases, "layernorm", g -> List.of(g.layerNorm("ln", x, null, null, 1e-6f)), List.of(x));
            add(cases, "layernorm_affine", g -> List.of(g.layerNorm("lna", x, w, b, 1e-5f)), List.of(x, w, b));
        }

        { // activationsAndSoftmax
            Tensor x = in("x", 18, 3, 7);
            add(cases, "silu", g -> List.of(g.silu("silu", x)), List.of(x));
            add(cases, "gelu", g -> List.of(g.gelu("gelu", x)), List.of(x));
            add(cases, "softmax", g -> List.of(g.softmax("sm", x)), List.of(x));
        }

        { // attention
            // N=2, T=5, D=8, 2 heads of 4
            Tensor qkv = in("qkv", 19, 2 * 5, 24);
            add(cases, "attention", g -> List.of(g.attention("attn", qkv, 2, 2)), List.of(qkv));
        }

        { // rope
            // N=2, T=3, D=8, 2 heads of 4; random tables exercise every term
            Tensor qkv = in("qkv", 35, 2 * 3, 24), cos = fixed("cos", 36, 3, 4), sin = fixed("sin", 37, 3, 4);
            add(cases, "rope", g -> List.of(g.rope("rope", qkv, cos, sin, 2, 2)), List.of(qkv));
        }

        { // patchifyAndUnpatchify
            Tensor img = in("img", 20, 2, 3, 4, 4);
            add(cases, "patchify", g -> List.of(g.patchify("pf", img, 2, 3, 4, 4, 2)), List.of(img));
            Tensor tok = in("tok", 21, 2 * 4, 12);
            add(cases, "unpatchify", g -> List.of(g.unpatchify("upf", tok, 2, 3, 4, 4, 2)), List.of(tok));
        }

        { // embeddingWithRepeatedIndices
            Tensor table = in("table", 22, 5, 4);
            Tensor idx = Tensor.input("idx", 4);
            idx.copyFrom(new float[]{1, 4, 1, 0});
            add(cases, "embedding", g -> List.of(g.embedding("emb", table, idx)), List.of(table));
        }

        { // concatAndChunk
            Tensor a = in("a", 23, 3, 2), b = in("b", 24, 3, 4);
            add(cases, "concat", g -> List.of(g.concat("cat", List.of(a, b))), List.of(a, b));
            Tensor x = in("x", 25, 3, 6);
            add(cases, "chunk", g -> g.chunk("ch", x, 3), List.of(x));
        }

        { // losses
            Tensor p = in("p", 26, 2, 3, 4), t = in("t", 27, 2, 3, 4);
            add(cases, "mse", g -> List.of(g.mse("mse", p, t)), List.of(p, t));
            Tensor z = in("z", 28, 3, 4, 6), y = fixed("y", 29, 3, 4, 6);
            add(cases, "cosine_align", g -> List.of(g.cosineAlign("cos", z, y)), List.of(z));
            Tensor wt = Tensor.input("w_t", 3);
            wt.copyFrom(new float[]{0.9f, 0.25f, 0.6f}); // REED's per-sample time weights
            add(cases, "cosine_align_weighted", g -> List.of(g.cosineAlign("cosw", z, y, wt)), List.of(z));
            // REED's pooled target: block tokens mean-pooled per sample, then aligned with one vector per sample
            Tensor tok = in("tok", 35, 3 * 4, 6), yp = fixed("y_pooled", 36, 3, 6);
            add(cases, "pooled_alignment", g -> List.of(g.cosineAlign("cosp", g.tokenMean("pool", tok, 3), yp, wt)), List.of(tok));
            add(cases, "ntxent", g -> List.of(g.ntXentAlign("nt", z, y, 3, 0.5f, false)), List.of(z));
            add(cases, "ntxent_symmetric", g -> List.of(g.ntXentAlign("nts", z, y, 3, 0.5f, true)), List.of(z));
        }

        { // classifierHead
            Tensor tokens = in("tokens", 33, 2 * 3, 4);
            add(cases, "token_mean", g -> List.of(g.tokenMean("pool", tokens, 2)), List.of(tokens));
            Tensor logits = in("logits", 34, 3, 5);
            Tensor labels = Tensor.input("labels", 3);
            labels.copyFrom(new float[]{4, 0, 2});
            add(cases, "cross_entropy", g -> List.of(g.crossEntropy("ce", logits, labels)), List.of(logits));
        }

        { // reductions
            Tensor x = in("x", 30, 4, 5), w = in("w", 31, 3);
            add(cases, "sum", g -> List.of(g.sum("sum", x)), List.of(x));
            add(cases, "mean", g -> List.of(g.mean("mean", x)), List.of(x));
            add(cases, "l2norm", g -> List.of(g.l2norm("norm", List.of(x, w))), List.of(x, w));
        }

        { // images: the SD-VAE's conv, groupnorm and upsampling
            Tensor x = in("img", 40, 2, 3, 6, 5), w3 = in("w3", 41, 4, 3, 3, 3), b = in("cb", 42, 4);
            add(cases, "conv2d_3x3_pad1", g -> List.of(g.conv2d("conv", x, w3, b, 1, 1)), List.of(x, w3, b));
            // stride 2 with the VAE downsampler's asymmetric padding (bottom/right only), no bias
            add(cases, "conv2d_stride2_asymmetric", g -> List.of(g.conv2d("down", x, w3, null, 2, 0, 0, 1, 1)), List.of(x, w3));
            Tensor w1 = in("w1", 43, 2, 3, 1, 1), b1 = in("b1", 44, 2);
            add(cases, "conv2d_1x1", g -> List.of(g.conv2d("pw", x, w1, b1, 1, 0)), List.of(x, w1, b1));
            // an output wider than one im2col band (2,048 pixels): the bands' gradients must add up
            Tensor wide = in("wide", 45, 1, 1, 50, 48), wk = in("wk", 46, 2, 1, 3, 3);
            add(cases, "conv2d_banded", g -> List.of(g.conv2d("banded", wide, wk, null, 1, 1)), List.of(wide, wk));
            Tensor gx = in("gx", 47, 2, 6, 3, 4), gw = in("gw", 48, 6), gb = in("gb", 49, 6);
            add(cases, "groupnorm", g -> List.of(g.groupNorm("gn", gx, 3, gw, gb, 1e-6f)), List.of(gx, gw, gb));
            add(cases, "groupnorm_no_affine", g -> List.of(g.groupNorm("gn0", gx, 2, null, null, 1e-5f)), List.of(gx));
            Tensor ux = in("ux", 50, 2, 2, 3, 2);
            add(cases, "upsample", g -> List.of(g.upsample("up", ux, 2)), List.of(ux));
        }

        return cases;
    }

    @TestFactory
    Stream<DynamicTest> gradients() {
        return cases().stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> check.check(c.name(), c.build(), c.wrt())));
    }

    @Test
    void everyDifferentiableOpTypeHasAGradientCase() {
        Set<String> covered = new TreeSet<>();
        for (Case c : cases()) {
            Graph g = new Graph(c.name());
            c.build().apply(g);
            for (Op op : g.ops()) covered.add(op.getClass().getSimpleName());
        }
        Set<String> expected = new TreeSet<>(), unexpected = new TreeSet<>();
        for (Class<?> type : Op.class.getPermittedSubclasses()) {
            if (!NOT_DIFFERENTIATED.contains(type)) expected.add(type.getSimpleName());
            else if (covered.contains(type.getSimpleName())) unexpected.add(type.getSimpleName());
        }
        Set<String> missing = new TreeSet<>(expected);
        missing.removeAll(covered);
        assertEquals(Set.of(), missing, "op types without a gradient case (add one to cases(), or to NOT_DIFFERENTIATED if the op has no backward)");
        assertEquals(Set.of(), unexpected, "op types listed as not differentiated but recorded by a gradient case");
        assertEquals(Op.class.getPermittedSubclasses().length, expected.size() + NOT_DIFFERENTIATED.size(), Arrays.toString(Op.class.getPermittedSubclasses()));
    }

    @Test
    void aWrongGradientIsCaught() {
        // the checker must fail when the recorded backward is wrong: a scale whose factor depends on x
        // (scale's factor is a step weight, not differentiated), so the analytic gradient misses the
        // factor's term and must disagree with the finite differences
        Tensor x = in("x", 32, 3, 4);
        assertThrows(AssertionError.class, () -> check.check("broken", g -> List.of(g.scale("broken", x, 1f, g.sum("factor", x))), List.of(x)));
    }
}
