package erw.engine.tornado;

import erw.engine.EngineException;
import erw.engine.Precision;
import erw.engine.Tensor;
import erw.engine.ops.Attention;
import erw.engine.ops.Matmul;
import erw.engine.tornado.kernels.AttentionKernels;
import erw.engine.tornado.kernels.GemmKernels;
import erw.engine.tornado.kernels.ReduceKernels;
import erw.engine.tornado.kernels.RowKernels;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/** matmul (tiled GEMM, its two gradient products and the bias column sums) and fused attention. */
final class LinearAlgebraLowering {
    private LinearAlgebraLowering() {}

    /**
     * C (m x n) [+]= op(A) op(B) [+ bias]: one cuBLAS call (then the bias rows added by a kernel) on the CUDA backend
     * ({@link TaskSink#libraryGemm}), else one tiled GEMM task.
     */
    static void gemm(TaskSink s, Precision p, FloatArray a, boolean transA, FloatArray b, boolean transB, FloatArray c, FloatArray bias,
                     int m, int n, int k, boolean accumulate) {
        gemm(s, p, a, transA, b, transB, c, bias, m, n, k, accumulate, 1, 0, 0, 0);
    }

    /**
     * {@link #gemm} for {@code batch} products whose A, B and C lie {@code strideA/B/C} floats apart, in precision {@code p}
     * ({@link Cublas#computeType}; the JIT GEMM kernel multiplies in fp32 only, {@link #requirePrecision}).
     */
    static void gemm(TaskSink s, Precision p, FloatArray a, boolean transA, FloatArray b, boolean transB, FloatArray c, FloatArray bias,
                     int m, int n, int k, boolean accumulate, int batch, int strideA, int strideB, int strideC) {
        if (bias != null && biasByGemm(s)) {
            // C = 1 bias (a rank-1 product, exact in fp32), then C += op(A) op(B): no bias kernel to compile, and the bias
            // is where the CPU's GEMM starts its sums
            if (accumulate || batch != 1 && strideC != m * n) throw new EngineException("TornadoVM backend: a GEMM with a bias neither accumulates nor leaves gaps between its products");
            gemm(s, Precision.FP32, s.onesVector(batch * m), false, bias, false, c, null, batch * m, n, 1, false);
            gemm(s, p, a, transA, b, transB, c, null, m, n, k, true, batch, strideA, strideB, strideC);
            return;
        }
        if (s.libraryGemm()) {
            Cublas.Call call = Cublas.Call.of(transA, transB, m, n, k);
            s.libraryTask("cublas_gemm", Cublas::gemm, call.opX(), call.opY(), call.rows(), call.cols(), call.depth(), b, call.ldx(), strideB,
                    a, call.ldy(), strideA, accumulate ? 1f : 0f, c, call.ldc(), strideC, batch, Cublas.computeType(p));
            if (bias != null) s.task("add_bias", GemmKernels::addBias, c, bias, batch * m, n);
            return;
        }
        KernelContext ctx = new KernelContext();
        int ta = transA ? 1 : 0, tb = transB ? 1 : 0, hb = bias != null ? 1 : 0, acc = accumulate ? 1 : 0;
        FloatArray bi = bias != null ? bias : s.dummy();
        String id = s.task("gemm", GemmKernels::gemm, ctx, a, b, c, bi, m, n, k, ta, tb, hb, acc, strideA, strideB, strideC);
        s.grid3(id, n, m, batch, GemmKernels.TILE, GemmKernels.TILE);
    }

    /**
     * The precisions this backend multiplies in: all three where GEMMs are cuBLAS calls ({@link Cublas#computeType}), fp32
     * elsewhere (the JIT GEMM kernel multiplies in fp32, and rounding operands in a kernel would need a float's bits,
     * which TornadoVM 5.2's kernels cannot reinterpret).
     */
    static void requirePrecision(TaskSink s, String type, String name, Precision p) {
        if (p != Precision.FP32 && !s.libraryGemm()) {
            throw new EngineException("TornadoVM backend: " + type + " '" + name + "' is in " + p.id() + "; this backend's GEMMs are fp32 only "
                    + "here (tf32 and bf16 are cuBLAS calls on TornadoVM's CUDA backend; use --precision fp32 here, or the CPU backend, which runs "
                    + p.id() + " GEMMs)");
        }
    }

    /**
     * Whether a GEMM's bias rows and the bias gradient's column sums are GEMMs with a vector of ones rather than kernels of
     * their own: where GEMMs are cuBLAS calls (a library task compiles nothing; TornadoVM compiles each kernel task on its
     * own), unless {@code -Derw.tornado.biasByGemm=true|false} chooses (read at each lowering, so that the parity tests run
     * this path with the JIT GEMM kernel on any device).
     */
    static boolean biasByGemm(TaskSink s) {
        return cublasPath(s, "erw.tornado.biasByGemm", "true");
    }

    /** The CUDA backend's way of lowering (where GEMMs are cuBLAS calls), unless {@code -D<property>} says: its value {@code yes} or not. */
    private static boolean cublasPath(TaskSink s, String property, String yes) {
        String p = System.getProperty(property);
        return p == null ? s.libraryGemm() : p.equals(yes);
    }

    /** out[c] += column sums of x (rows x cols): {@code 1^T x} as a GEMM where {@link #biasByGemm}, else a reduction kernel. */
    static void columnSums(TaskSink s, FloatArray x, FloatArray out, int rows, int cols) {
        if (biasByGemm(s)) {
            gemm(s, Precision.FP32, s.onesVector(rows), false, x, false, out, null, 1, cols, rows, true);
            return;
        }
        KernelContext ctx = new KernelContext();
        String id = s.task("colsum", ReduceKernels::columnSums, ctx, x, out, rows, cols);
        s.grid2(id, cols, 16, 16, 16);
    }

    static void matmul(Matmul op, TaskSink s) {
        requirePrecision(s, "matmul", op.name(), op.precision());
        Tensor bias = op.bias();
        gemm(s, op.precision(), s.read(op.a()), op.transA(), s.read(op.b()), op.transB(), s.write(op.c()), bias == null ? null : s.read(bias),
                op.m(), op.n(), op.k(), false);
    }

    /** {@code writeA}/{@code writeB}: the step writes that operand's gradient whole instead of adding to it (its first write). */
    static void matmulBackward(Matmul op, boolean writeA, boolean writeB, TaskSink s) {
        requirePrecision(s, "matmul", op.name(), op.precision());
        Tensor a = op.a(), b = op.b(), bias = op.bias(), c = op.c();
        boolean transA = op.transA(), transB = op.transB();
        int m = op.m(), n = op.n(), k = op.k();
        FloatArray dc = s.gradRead(c);
        if (a.requiresGrad()) {
            FloatArray ga = writeA ? s.gradWrite(a) : s.gradUpdate(a), bd = s.read(b);
            if (!transA) gemm(s, op.precision(), dc, false, bd, !transB, ga, null, m, k, n, !writeA);   // dA += dC op(B)^T
            else gemm(s, op.precision(), bd, transB, dc, true, ga, null, k, m, n, !writeA);              // dA += op(B) dC^T
        }
        if (b.requiresGrad()) {
            FloatArray gb = writeB ? s.gradWrite(b) : s.gradUpdate(b), ad = s.read(a);
            if (!transB) gemm(s, op.precision(), ad, !transA, dc, false, gb, null, k, n, m, !writeB);   // dB += op(A)^T dC
            else gemm(s, op.precision(), dc, true, ad, transA, gb, null, n, k, m, !writeB);              // dB += dC^T op(A)
        }
        if (bias != null && bias.requiresGrad()) columnSums(s, dc, s.gradUpdate(bias), m, n);
    }

    private static int checkShape(Attention op) {
        if (op.precision() != Precision.FP32) {
            throw new EngineException("TornadoVM backend: attention '" + op.name() + "' is in " + op.precision().id() + "; the fused attention kernel "
                    + "multiplies in fp32 (use --precision fp32)");
        }
        if (op.hd() > AttentionKernels.MAX_HEAD_DIM) {
            throw new EngineException("TornadoVM backend: attention '" + op.name() + "' has head dimension " + op.hd() + "; its kernels keep a row's "
                    + "accumulators in local memory and take at most " + AttentionKernels.MAX_HEAD_DIM + " (use more heads)");
        }
        return op.t();
    }

    /**
     * Whether attention runs as batched GEMMs and row kernels ({@link #attentionByGemm}, the CPU backend's decomposition):
     * where the GEMMs are cuBLAS calls, unless {@code -Derw.tornado.attention=fused|gemm} chooses (read at each lowering,
     * so that the parity tests run the GEMM path on any device). The fused kernel multiplies in fp32 only.
     */
    static boolean gemmAttention(TaskSink s) {
        return cublasPath(s, "erw.tornado.attention", "gemm");
    }

    static void attention(Attention op, TaskSink s) {
        if (gemmAttention(s)) {
            requirePrecision(s, "attention", op.name(), op.precision());
            attentionByGemm(op, s);
            return;
        }
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
        if (gemmAttention(s)) {
            requirePrecision(s, "attention", op.name(), op.precision());
            attentionBackwardByGemm(op, write, s);
            return;
        }
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

    // ---- attention as batched GEMMs --------------------------------------------------------------------------------

    /** The per-(sample, head) working buffers, shared by the attention ops of a graph (they run one after another). */
    private record Slabs(FloatArray q, FloatArray k, FloatArray v, FloatArray scores, FloatArray rowStat) {
        static Slabs of(TaskSink s, Attention op) {
            int td = op.n() * op.t() * op.dim(), tt = op.n() * op.heads() * op.t() * op.t(), rows = op.n() * op.heads() * op.t();
            return new Slabs(s.sharedScratch("attn.q", td), s.sharedScratch("attn.k", td), s.sharedScratch("attn.v", td),
                    s.sharedScratch("attn.scores", tt), s.sharedScratch("attn.rows", rows));
        }
    }

    /**
     * Attention as the CPU backend computes it, with its products as batched GEMMs over the N*h (sample, head) slabs:
     * S = (scale Q) K^T, P = exp(S - rowmax) with the row's log-sum-exp saved (op.lse), O = P V scaled by 1/rowsum.
     * The scores are N*h*T*T floats in device memory (the fused kernel keeps them in local memory).
     */
    private static void attentionByGemm(Attention op, TaskSink s) {
        int n = op.n(), t = op.t(), heads = op.heads(), dim = op.dim(), hd = op.hd(), bh = n * heads, total = n * t * dim;
        Slabs w = Slabs.of(s, op);
        FloatArray o = s.sharedScratch("attn.o", total);
        s.task("attn_split", AttentionKernels::split, s.read(op.qkv()), w.q(), w.k(), w.v(), total, t, heads, dim, hd, op.scale());
        gemm(s, op.precision(), w.q(), false, w.k(), true, w.scores(), null, t, t, hd, false, bh, t * hd, t * hd, t * t);
        String softmax = s.task("attn_softmax", AttentionKernels::softmaxRows, new KernelContext(), w.scores(), s.write(op.lse()), w.rowStat(), t);
        s.grid1(softmax, (long) bh * t * RowKernels.GROUP, RowKernels.GROUP);
        gemm(s, op.precision(), w.scores(), false, w.v(), false, o, null, t, hd, t, false, bh, t * t, t * hd, t * hd);
        s.task("attn_output", AttentionKernels::gatherOutput, o, w.rowStat(), s.write(op.out()), total, t, heads, dim, hd);
    }

    /** The backward of {@link #attentionByGemm(Attention, TaskSink)}: P again from the log-sum-exp, then the CPU backend's five products. */
    private static void attentionBackwardByGemm(Attention op, boolean write, TaskSink s) {
        int n = op.n(), t = op.t(), heads = op.heads(), dim = op.dim(), hd = op.hd(), bh = n * heads, total = n * t * dim;
        int slab = t * hd, square = t * t;
        Slabs w = Slabs.of(s, op);
        FloatArray dout = s.sharedScratch("attn.dout", total), out = s.sharedScratch("attn.out", total);
        FloatArray dq = s.sharedScratch("attn.dq", total), dk = s.sharedScratch("attn.dk", total), dv = s.sharedScratch("attn.dv", total);
        FloatArray dscores = s.sharedScratch("attn.dscores", bh * square);
        s.task("attn_split_bwd", AttentionKernels::splitForBackward, s.read(op.qkv()), w.q(), w.k(), w.v(), s.read(op.out()), out, s.gradRead(op.out()), dout,
                total, t, heads, dim, hd, op.scale());
        gemm(s, op.precision(), w.q(), false, w.k(), true, w.scores(), null, t, t, hd, false, bh, slab, slab, square);
        s.task("attn_exp", AttentionKernels::expRows, w.scores(), s.read(op.lse()), bh * square, t);
        gemm(s, op.precision(), dout, false, w.v(), true, dscores, null, t, t, hd, false, bh, slab, slab, square);     // dP = dO V^T
        gemm(s, op.precision(), w.scores(), true, dout, false, dv, null, t, hd, t, false, bh, square, slab, slab);     // dV = P^T dO
        String dscoresTask = s.task("attn_dscores", AttentionKernels::scoreGradRows, new KernelContext(), w.scores(), dscores, dout, out, t, hd);
        s.grid1(dscoresTask, (long) bh * t * RowKernels.GROUP, RowKernels.GROUP); // dS = P (dP - rowsum(dO O))
        gemm(s, op.precision(), dscores, false, w.k(), false, dq, null, t, hd, t, false, bh, square, slab, slab);      // dQ = dS K (times scale below)
        gemm(s, op.precision(), dscores, true, w.q(), false, dk, null, t, hd, t, false, bh, square, slab, slab);       // dK = dS^T (scale Q)
        s.task("attn_grad", AttentionKernels::gradientToQkv, dq, dk, dv, write ? s.gradWrite(op.qkv()) : s.gradUpdate(op.qkv()),
                total, t, heads, dim, hd, op.scale(), write ? 0 : 1);
    }
}
