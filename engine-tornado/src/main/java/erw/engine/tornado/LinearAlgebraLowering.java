package erw.engine.tornado;

import erw.engine.EngineException;
import erw.engine.Precision;
import erw.engine.Tensor;
import erw.engine.ops.Attention;
import erw.engine.ops.Matmul;
import erw.engine.tornado.kernels.AttentionKernels;
import erw.engine.tornado.kernels.GemmKernels;
import erw.engine.tornado.kernels.ReduceKernels;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/** matmul (tiled GEMM, its two gradient products and the bias column sums) and fused attention. */
final class LinearAlgebraLowering {
    private LinearAlgebraLowering() {}

    /**
     * C (m x n) [+]= op(A) op(B) [+ bias]: one cuBLAS call (then the bias rows added by a kernel) on the CUDA backend
     * ({@link TaskSink#libraryGemm}), else one tiled GEMM task.
     */
    static void gemm(TaskSink s, FloatArray a, boolean transA, FloatArray b, boolean transB, FloatArray c, FloatArray bias,
                     int m, int n, int k, boolean accumulate) {
        if (s.libraryGemm()) {
            Cublas.Call call = Cublas.Call.of(transA, transB, m, n, k);
            s.libraryTask("cublas_gemm", Cublas::gemm, call.opX(), call.opY(), call.rows(), call.cols(), call.depth(), b, call.ldx(), a, call.ldy(),
                    accumulate ? 1f : 0f, c, call.ldc(), Cublas.COMPUTE_32F);
            if (bias != null) s.task("add_bias", GemmKernels::addBias, c, bias, m, n);
            return;
        }
        KernelContext ctx = new KernelContext();
        int ta = transA ? 1 : 0, tb = transB ? 1 : 0, hb = bias != null ? 1 : 0, acc = accumulate ? 1 : 0;
        FloatArray bi = bias != null ? bias : s.dummy();
        String id = s.task("gemm", GemmKernels::gemm, ctx, a, b, c, bi, m, n, k, ta, tb, hb, acc);
        s.grid2(id, n, m, GemmKernels.TILE, GemmKernels.TILE);
    }

    /** out[c] += column sums of x (rows x cols). */
    static void columnSums(TaskSink s, FloatArray x, FloatArray out, int rows, int cols) {
        KernelContext ctx = new KernelContext();
        String id = s.task("colsum", ReduceKernels::columnSums, ctx, x, out, rows, cols);
        s.grid2(id, cols, 16, 16, 16);
    }

    /**
     * The JIT-compiled GEMM and attention kernels multiply in fp32; TF32 and BF16 operands need NVIDIA's GEMMs
     * (cuBLAS library tasks of TornadoVM's CUDA backend), which this backend does not call yet.
     */
    private static void fp32Only(String type, String name, Precision p) {
        if (p != Precision.FP32) {
            throw new EngineException("TornadoVM backend: " + type + " '" + name + "' is in " + p.id() + "; this backend's GEMMs are fp32 only "
                    + "(use --precision fp32 here, or the CPU backend, which runs " + p.id() + " GEMMs)");
        }
    }

    static void matmul(Matmul op, TaskSink s) {
        fp32Only("matmul", op.name(), op.precision());
        Tensor bias = op.bias();
        gemm(s, s.read(op.a()), op.transA(), s.read(op.b()), op.transB(), s.write(op.c()), bias == null ? null : s.read(bias),
                op.m(), op.n(), op.k(), false);
    }

    /** {@code writeA}/{@code writeB}: the step writes that operand's gradient whole instead of adding to it (its first write). */
    static void matmulBackward(Matmul op, boolean writeA, boolean writeB, TaskSink s) {
        fp32Only("matmul", op.name(), op.precision());
        Tensor a = op.a(), b = op.b(), bias = op.bias(), c = op.c();
        boolean transA = op.transA(), transB = op.transB();
        int m = op.m(), n = op.n(), k = op.k();
        FloatArray dc = s.gradRead(c);
        if (a.requiresGrad()) {
            FloatArray ga = writeA ? s.gradWrite(a) : s.gradUpdate(a), bd = s.read(b);
            if (!transA) gemm(s, dc, false, bd, !transB, ga, null, m, k, n, !writeA);   // dA += dC op(B)^T
            else gemm(s, bd, transB, dc, true, ga, null, k, m, n, !writeA);              // dA += op(B) dC^T
        }
        if (b.requiresGrad()) {
            FloatArray gb = writeB ? s.gradWrite(b) : s.gradUpdate(b), ad = s.read(a);
            if (!transB) gemm(s, ad, !transA, dc, false, gb, null, k, n, m, !writeB);   // dB += op(A)^T dC
            else gemm(s, dc, true, ad, transA, gb, null, n, k, m, !writeB);              // dB += dC^T op(A)
        }
        if (bias != null && bias.requiresGrad()) columnSums(s, dc, s.gradUpdate(bias), m, n);
    }

    private static int checkShape(Attention op) {
        fp32Only("attention", op.name(), op.precision());
        if (op.hd() > AttentionKernels.MAX_HEAD_DIM) {
            throw new EngineException("TornadoVM backend: attention '" + op.name() + "' has head dimension " + op.hd() + "; its kernels keep a row's "
                    + "accumulators in local memory and take at most " + AttentionKernels.MAX_HEAD_DIM + " (use more heads)");
        }
        return op.t();
    }

    static void attention(Attention op, TaskSink s) {
        int n = op.n(), t = checkShape(op), heads = op.heads(), dim = op.dim(), hd = op.hd();
        float scale = op.scale();
        KernelContext ctx = new KernelContext();
        FloatArray q = s.read(op.qkv()), o = s.write(op.out());
        String id = s.task("attention", AttentionKernels::forward, ctx, q, o, t, heads, dim, hd, scale);
        s.grid1(id, (long) n * heads * t * AttentionKernels.GROUP, AttentionKernels.GROUP);
    }

    /** {@code write}: the step writes qkv's gradient whole (its first write; the two passes write disjoint parts). */
    static void attentionBackward(Attention op, boolean write, TaskSink s) {
        Tensor qkv = op.qkv(), out = op.out();
        if (!qkv.requiresGrad()) return;
        int n = op.n(), t = checkShape(op), heads = op.heads(), dim = op.dim(), hd = op.hd();
        float scale = op.scale();
        int acc = write ? 0 : 1;
        KernelContext ctx = new KernelContext();
        FloatArray q = s.read(qkv), o = s.read(out), go = s.gradRead(out), gq = write ? s.gradWrite(qkv) : s.gradUpdate(qkv);
        FloatArray stats = s.scratch(2 * n * heads * t);
        long global = (long) n * heads * t * AttentionKernels.GROUP;
        String id1 = s.task("attention_dq", AttentionKernels::backwardQuery, ctx, q, o, go, gq, stats, t, heads, dim, hd, scale, acc);
        s.grid1(id1, global, AttentionKernels.GROUP);
        // the second pass adds to nothing the first wrote (k and v columns), so it writes too
        String id2 = s.task("attention_dkv", AttentionKernels::backwardKeyValue, ctx, q, go, write ? s.gradWrite(qkv) : s.gradUpdate(qkv), stats, t, heads, dim, hd, scale, acc);
        s.grid1(id2, global, AttentionKernels.GROUP);
    }
}
