package erw.engine.tornado;

import erw.engine.EngineException;
import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.tornado.kernels.AttentionKernels;
import erw.engine.tornado.kernels.GemmKernels;
import erw.engine.tornado.kernels.ReduceKernels;
import java.util.Set;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/** matmul (tiled GEMM, its two gradient products and the bias column sums) and fused attention. */
final class LinearAlgebraLowering implements OpLowering {
    @Override
    public Set<String> types() {
        return Set.of("matmul", "attention");
    }

    /** C (m x n) [+]= op(A) op(B) [+ bias] as one tiled GEMM task. */
    static void gemm(TaskSink s, FloatArray a, boolean transA, FloatArray b, boolean transB, FloatArray c, FloatArray bias,
                     int m, int n, int k, boolean accumulate) {
        KernelContext ctx = new KernelContext();
        int ta = transA ? 1 : 0, tb = transB ? 1 : 0, hb = bias != null ? 1 : 0, acc = accumulate ? 1 : 0;
        FloatArray bi = bias != null ? bias : s.dummy();
        String id = s.task("gemm", (g, i) -> g.task(i, GemmKernels::gemm, ctx, a, b, c, bi, m, n, k, ta, tb, hb, acc));
        s.grid2(id, n, m, GemmKernels.TILE, GemmKernels.TILE);
    }

    /** out[c] += column sums of x (rows x cols). */
    static void columnSums(TaskSink s, FloatArray x, FloatArray out, int rows, int cols) {
        KernelContext ctx = new KernelContext();
        String id = s.task("colsum", (g, i) -> g.task(i, ReduceKernels::columnSums, ctx, x, out, rows, cols));
        s.grid2(id, cols, 16, 16, 16);
    }

    @Override
    public void forward(Op op, OpFields f, TaskSink s) {
        if (op.type().equals("matmul")) {
            Tensor a = f.tensor("a"), b = f.tensor("b"), bias = f.tensor("bias"), c = f.tensor("c");
            gemm(s, s.read(a), f.flag("transA"), s.read(b), f.flag("transB"), s.write(c), bias == null ? null : s.read(bias),
                    f.integer("m"), f.integer("n"), f.integer("k"), false);
            return;
        }
        Tensor qkv = f.tensor("qkv"), out = f.tensor("out");
        int n = f.integer("n"), t = checkTokens(op, f), heads = f.integer("heads"), dim = f.integer("dim"), hd = f.integer("hd");
        float scale = f.real("scale");
        KernelContext ctx = new KernelContext();
        FloatArray q = s.read(qkv), o = s.write(out);
        String id = s.task("attention", (g, i) -> g.task(i, AttentionKernels::forward, ctx, q, o, t, heads, dim, hd, scale));
        s.grid1(id, (long) n * heads * t * AttentionKernels.GROUP, AttentionKernels.GROUP);
    }

    private static int checkTokens(Op op, OpFields f) {
        int t = f.integer("t");
        if (t > AttentionKernels.MAX_TOKENS) {
            throw new EngineException("TornadoVM backend: attention '" + op.name() + "' has " + t + " tokens; its kernel keeps a row of scores in local memory and takes at most " + AttentionKernels.MAX_TOKENS);
        }
        return t;
    }

    @Override
    public void backward(Op op, OpFields f, TaskSink s) {
        if (op.type().equals("matmul")) {
            matmulBackward(f, s);
            return;
        }
        Tensor qkv = f.tensor("qkv"), out = f.tensor("out");
        if (!qkv.requiresGrad()) return;
        int n = f.integer("n"), t = checkTokens(op, f), heads = f.integer("heads"), dim = f.integer("dim"), hd = f.integer("hd");
        float scale = f.real("scale");
        KernelContext ctx = new KernelContext();
        FloatArray q = s.read(qkv), o = s.read(out), go = s.gradRead(out), gq = s.gradUpdate(qkv);
        FloatArray stats = s.scratch(2 * n * heads * t);
        long global = (long) n * heads * t * AttentionKernels.GROUP;
        String id1 = s.task("attention_dq", (g, i) -> g.task(i, AttentionKernels::backwardQuery, ctx, q, o, go, gq, stats, t, heads, dim, hd, scale));
        s.grid1(id1, global, AttentionKernels.GROUP);
        String id2 = s.task("attention_dkv", (g, i) -> g.task(i, AttentionKernels::backwardKeyValue, ctx, q, go, gq, stats, t, heads, dim, hd, scale));
        s.grid1(id2, global, AttentionKernels.GROUP);
    }

    private static void matmulBackward(OpFields f, TaskSink s) {
        Tensor a = f.tensor("a"), b = f.tensor("b"), bias = f.tensor("bias"), c = f.tensor("c");
        boolean transA = f.flag("transA"), transB = f.flag("transB");
        int m = f.integer("m"), n = f.integer("n"), k = f.integer("k");
        FloatArray dc = s.gradRead(c);
        if (a.requiresGrad()) {
            FloatArray ga = s.gradUpdate(a), bd = s.read(b);
            if (!transA) gemm(s, dc, false, bd, !transB, ga, null, m, k, n, true);   // dA += dC op(B)^T
            else gemm(s, bd, transB, dc, true, ga, null, k, m, n, true);              // dA += op(B) dC^T
        }
        if (b.requiresGrad()) {
            FloatArray gb = s.gradUpdate(b), ad = s.read(a);
            if (!transB) gemm(s, ad, !transA, dc, false, gb, null, k, n, m, true);   // dB += op(A)^T dC
            else gemm(s, dc, true, ad, transA, gb, null, n, k, m, true);              // dB += dC^T op(A)
        }
        if (bias != null && bias.requiresGrad()) columnSums(s, dc, s.gradUpdate(bias), m, n);
    }
}
