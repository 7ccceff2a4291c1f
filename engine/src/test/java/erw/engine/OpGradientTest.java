package erw.engine;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import erw.engine.cpu.CpuBackend;
import erw.engine.cpu.WorkerPool;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** A finite-difference gradient check for every differentiable op of the catalogue. */
class OpGradientTest {
    private static final CpuBackend CPU = new CpuBackend(2);
    private final GradCheck check = new GradCheck(CPU);

    @AfterAll
    static void close() {
        CPU.close();
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

    @Test
    void matmulAllTransposesWithBias() {
        for (boolean ta : new boolean[]{false, true}) {
            for (boolean tb : new boolean[]{false, true}) {
                Tensor a = ta ? in("a", 1, 5, 3) : in("a", 1, 3, 5);
                Tensor b = tb ? in("b", 2, 4, 5) : in("b", 2, 5, 4);
                Tensor bias = in("bias", 3, 4);
                check.check("matmul" + ta + tb, g -> List.of(g.matmul("mm", a, ta, b, tb, bias)), List.of(a, b, bias));
            }
        }
    }

    @Test
    void linearOnBatchedTokens() {
        Tensor x = in("x", 4, 2, 3, 6), w = in("w", 5, 7, 6), b = in("b", 6, 7);
        check.check("linear", g -> List.of(g.linear("lin", x, w, b)), List.of(x, w, b));
    }

    @Test
    void addMulScale() {
        Tensor a = in("a", 7, 4, 6), b = in("b", 8, 4, 6), bias = in("bias", 9, 6);
        Tensor factor = Tensor.scalar("lambda", 0.7f);
        check.check("add", g -> List.of(g.add("add", a, b)), List.of(a, b));
        check.check("add_broadcast", g -> List.of(g.add("addb", a, bias)), List.of(a, bias));
        check.check("mul", g -> List.of(g.mul("mul", a, b)), List.of(a, b));
        check.check("scale", g -> List.of(g.scale("sc", a, -1.5f, factor)), List.of(a));
    }

    @Test
    void gatedResidualAndModulate() {
        Tensor x = in("x", 10, 2, 3, 5), h = in("h", 11, 2, 3, 5), gate = in("gate", 12, 2, 5);
        Tensor shift = in("shift", 13, 2, 5), scale = in("scale", 14, 2, 5);
        check.check("gated_residual", g -> List.of(g.gatedResidual("gr", x, gate, h)), List.of(x, gate, h));
        check.check("modulate", g -> List.of(g.modulate("mod", x, shift, scale)), List.of(x, shift, scale));
    }

    @Test
    void layerNormPlainAndAffine() {
        Tensor x = in("x", 15, 4, 8), w = in("w", 16, 8), b = in("b", 17, 8);
        check.check("layernorm", g -> List.of(g.layerNorm("ln", x, null, null, 1e-6f)), List.of(x));
        check.check("layernorm_affine", g -> List.of(g.layerNorm("lna", x, w, b, 1e-5f)), List.of(x, w, b));
    }

    @Test
    void activationsAndSoftmax() {
        Tensor x = in("x", 18, 3, 7);
        check.check("silu", g -> List.of(g.silu("silu", x)), List.of(x));
        check.check("gelu", g -> List.of(g.gelu("gelu", x)), List.of(x));
        check.check("softmax", g -> List.of(g.softmax("sm", x)), List.of(x));
    }

    @Test
    void attention() {
        // N=2, T=5, D=8, 2 heads of 4
        Tensor qkv = in("qkv", 19, 2 * 5, 24);
        check.check("attention", g -> List.of(g.attention("attn", qkv, 2, 2)), List.of(qkv));
    }

    @Test
    void rope() {
        // N=2, T=3, D=8, 2 heads of 4; random tables exercise every term
        Tensor qkv = in("qkv", 35, 2 * 3, 24), cos = fixed("cos", 36, 3, 4), sin = fixed("sin", 37, 3, 4);
        check.check("rope", g -> List.of(g.rope("rope", qkv, cos, sin, 2, 2)), List.of(qkv));
    }

    @Test
    void patchifyAndUnpatchify() {
        Tensor img = in("img", 20, 2, 3, 4, 4);
        check.check("patchify", g -> List.of(g.patchify("pf", img, 2, 3, 4, 4, 2)), List.of(img));
        Tensor tok = in("tok", 21, 2 * 4, 12);
        check.check("unpatchify", g -> List.of(g.unpatchify("upf", tok, 2, 3, 4, 4, 2)), List.of(tok));
    }

    @Test
    void embeddingWithRepeatedIndices() {
        Tensor table = in("table", 22, 5, 4);
        Tensor idx = Tensor.input("idx", 4);
        idx.copyFrom(new float[]{1, 4, 1, 0});
        check.check("embedding", g -> List.of(g.embedding("emb", table, idx)), List.of(table));
    }

    @Test
    void concatAndChunk() {
        Tensor a = in("a", 23, 3, 2), b = in("b", 24, 3, 4);
        check.check("concat", g -> List.of(g.concat("cat", List.of(a, b))), List.of(a, b));
        Tensor x = in("x", 25, 3, 6);
        check.check("chunk", g -> g.chunk("ch", x, 3), List.of(x));
    }

    @Test
    void losses() {
        Tensor p = in("p", 26, 2, 3, 4), t = in("t", 27, 2, 3, 4);
        check.check("mse", g -> List.of(g.mse("mse", p, t)), List.of(p, t));
        Tensor z = in("z", 28, 3, 4, 6), y = fixed("y", 29, 3, 4, 6);
        check.check("cosine_align", g -> List.of(g.cosineAlign("cos", z, y)), List.of(z));
        check.check("ntxent", g -> List.of(g.ntXentAlign("nt", z, y, 3, 0.5f, false)), List.of(z));
        check.check("ntxent_symmetric", g -> List.of(g.ntXentAlign("nts", z, y, 3, 0.5f, true)), List.of(z));
    }

    @Test
    void classifierHead() {
        Tensor tokens = in("tokens", 33, 2 * 3, 4);
        check.check("token_mean", g -> List.of(g.tokenMean("pool", tokens, 2)), List.of(tokens));
        Tensor logits = in("logits", 34, 3, 5);
        Tensor labels = Tensor.input("labels", 3);
        labels.copyFrom(new float[]{4, 0, 2});
        check.check("cross_entropy", g -> List.of(g.crossEntropy("ce", logits, labels)), List.of(logits));
    }

    @Test
    void reductions() {
        Tensor x = in("x", 30, 4, 5), w = in("w", 31, 3);
        check.check("sum", g -> List.of(g.sum("sum", x)), List.of(x));
        check.check("mean", g -> List.of(g.mean("mean", x)), List.of(x));
        check.check("l2norm", g -> List.of(g.l2norm("norm", List.of(x, w))), List.of(x, w));
    }

    @Test
    void aWrongGradientIsCaught() {
        // the checker must fail when an op's backward is wrong: scale with a backward that is off by 10%
        Tensor x = in("x", 32, 3, 4);
        Graph probe = new Graph("probe");
        assertThrows(AssertionError.class, () -> check.check("broken", g -> {
            Tensor out = Tensor.create("broken.out", Tensor.Kind.ACTIVATION, true, 3, 4);
            g.add(new Op("broken") {
                @Override public String type() { return "broken"; }
                @Override public List<Tensor> inputs() { return List.of(x); }
                @Override public List<Tensor> outputs() { return List.of(out); }
                @Override public void forward(WorkerPool pool) {
                    for (int i = 0; i < x.size(); i++) out.data()[i] = 2f * x.data()[i];
                }
                @Override public void backward(WorkerPool pool) {
                    for (int i = 0; i < x.size(); i++) x.grad()[i] += 2.2f * out.grad()[i];
                }
            });
            return List.of(out);
        }, List.of(x)));
        assertTrue(probe.ops().isEmpty());
    }
}
