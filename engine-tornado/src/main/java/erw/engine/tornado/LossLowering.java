package erw.engine.tornado;

import erw.engine.Tensor;
import erw.engine.ops.CosineAlignLoss;
import erw.engine.ops.L2Norm;
import erw.engine.ops.Mean;
import erw.engine.ops.MseLoss;
import erw.engine.ops.NtXentLoss;
import erw.engine.ops.Sum;
import erw.engine.tornado.kernels.LossKernels;
import erw.engine.tornado.kernels.PointwiseKernels;
import erw.engine.tornado.kernels.ReduceKernels;
import erw.engine.tornado.kernels.RowKernels;
import java.util.List;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/** Losses and reductions to a scalar: mse, cosine_align, ntxent_align, sum, mean, l2norm. */
final class LossLowering {
    private LossLowering() {}

    /** The reductions, as the mode numbers of {@link PointwiseKernels#reductionBackward}. */
    private static final int SUM = 0, MEAN = 1, L2NORM = 2;

    /** out[idx] (+)= scale * reduction of x (and y) by one 256-wide work-group. */
    static void reduce(TaskSink s, FloatArray x, FloatArray y, int n, int mode, FloatArray out, int idx, float scale, boolean accumulate) {
        KernelContext ctx = new KernelContext();
        int acc = accumulate ? 1 : 0;
        String id = s.task("reduce", ReduceKernels::reduce, ctx, x, y, n, mode, out, idx, scale, acc);
        s.grid1(id, ReduceKernels.GROUP, ReduceKernels.GROUP);
    }

    static void mse(MseLoss op, TaskSink s) {
        Tensor p = op.pred(), q = op.target();
        int n = p.size();
        reduce(s, s.read(p), s.read(q), n, ReduceKernels.MODE_SQUARED_DIFF, s.write(op.out()), 0, 1f / n, false);
    }

    static void cosine(CosineAlignLoss op, TaskSink s) {
        int rows = op.rows();
        FloatArray[] cn = rowCosine(op.z(), op.y(), s);
        FloatArray terms = cn[0];
        if (op.weights() != null) {
            // REED's time weights: row r counts w[r / rowsPerWeight] times (same reduction, same scale).
            FloatArray w = s.read(op.weights());
            terms = s.scratch(rows);
            s.task("cosine_weight_rows", LossKernels::weightRows, cn[0], w, terms, rows, op.rowsPerWeight());
        }
        reduce(s, terms, terms, rows, ReduceKernels.MODE_SUM, s.write(op.out()), 0, -1f / rows, false);
    }

    static void ntxent(NtXentLoss op, TaskSink s) {
        FloatArray[] nt = ntxentStats(op, s);
        int n = op.n(), t = op.t();
        reduce(s, nt[2], nt[2], n * t, ReduceKernels.MODE_SUM, s.write(op.out()), 0, 1f / ((float) n * t), false);
    }

    static void sum(Sum op, TaskSink s) {
        reduction(op.inputs(), op.out(), SUM, s);
    }

    static void mean(Mean op, TaskSink s) {
        reduction(op.inputs(), op.out(), MEAN, s);
    }

    static void l2norm(L2Norm op, TaskSink s) {
        reduction(op.xs(), op.out(), L2NORM, s);
    }

    private static void reduction(List<Tensor> xs, Tensor outTensor, int kind, TaskSink s) {
        FloatArray out = s.write(outTensor);
        int total = 0;
        for (Tensor x : xs) total += x.size();
        int mode = kind == L2NORM ? ReduceKernels.MODE_SQUARES : ReduceKernels.MODE_SUM;
        float scale = kind == MEAN ? 1f / total : 1f;
        for (int k = 0; k < xs.size(); k++) {
            FloatArray x = s.read(xs.get(k));
            reduce(s, x, x, xs.get(k).size(), mode, out, 0, scale, k > 0);
        }
        if (kind == L2NORM) s.task("sqrt", ReduceKernels::sqrtAt, out, 0);
    }

    /** {cosines (rows), norms (2 per row)} of the token rows of z and y. */
    private static FloatArray[] rowCosine(Tensor z, Tensor y, TaskSink s) {
        int rows = z.rows(), width = z.cols();
        FloatArray zd = s.read(z), yd = s.read(y), cos = s.scratch(rows), norms = s.scratch(2 * rows);
        String id = s.task("row_cosine", LossKernels::rowCosine, new KernelContext(), zd, yd, cos, norms, width);
        s.grid1(id, (long) rows * RowKernels.GROUP, RowKernels.GROUP);
        return new FloatArray[]{cos, norms};
    }

    /** {row norms, logits, per-row loss, lse} of NT-Xent. */
    private static FloatArray[] ntxentStats(NtXentLoss op, TaskSink s) {
        Tensor z = op.z(), y = op.y();
        int n = op.n(), t = op.t(), width = op.width(), sym = op.symmetric() ? 1 : 0;
        float invTau = 1f / op.tau();
        FloatArray norms = rowCosine(z, y, s)[1], zd = s.read(z), yd = s.read(y);
        FloatArray logits = s.scratch(t * n * n), lse = s.scratch(2 * t * n), loss = s.scratch(t * n);
        s.task("ntxent_logits", LossKernels::ntxentLogits, zd, yd, norms, logits, n, t, width, invTau);
        s.task("ntxent_rows", LossKernels::ntxentRows, logits, lse, loss, n, t, sym);
        return new FloatArray[]{norms, logits, loss, lse};
    }

    static void mseBackward(MseLoss op, TaskSink s) {
        Tensor p = op.pred(), q = op.target();
        FloatArray pd = s.read(p), qd = s.read(q), go = s.gradRead(op.out());
        FloatArray gp = s.gradUpdateOrDummy(p), gq = s.gradUpdateOrDummy(q);
        int up = p.requiresGrad() ? 1 : 0, uq = q.requiresGrad() ? 1 : 0, n = p.size();
        s.task("mse_bwd", PointwiseKernels::mseBackward, pd, qd, go, gp, gq, up, uq, n);
    }

    static void cosineBackward(CosineAlignLoss op, TaskSink s) {
        Tensor z = op.z(), y = op.y();
        if (!z.requiresGrad()) return;
        FloatArray[] cn = rowCosine(z, y, s);
        FloatArray zd = s.read(z), yd = s.read(y), go = s.gradRead(op.out()), gz = s.gradUpdate(z);
        int rows = z.rows(), width = z.cols();
        FloatArray cos = cn[0], norms = cn[1];
        if (op.weights() == null) {
            s.task("cosine_bwd", LossKernels::cosineBackward, zd, yd, cos, norms, go, gz, rows, width);
        } else {
            FloatArray w = s.read(op.weights());
            s.task("cosine_bwd_weighted", LossKernels::cosineBackwardWeighted, zd, yd, cos, norms, go, w, gz, rows, width, op.rowsPerWeight());
        }
    }

    static void ntxentBackward(NtXentLoss op, TaskSink s) {
        Tensor z = op.z(), y = op.y();
        if (!z.requiresGrad()) return;
        FloatArray[] nt = ntxentStats(op, s);
        FloatArray zd = s.read(z), yd = s.read(y), go = s.gradRead(op.out()), gz = s.gradUpdate(z);
        int n = op.n(), t = op.t(), width = op.width(), sym = op.symmetric() ? 1 : 0;
        float invTau = 1f / op.tau();
        FloatArray norms = nt[0], logits = nt[1], lse = nt[3];
        s.task("ntxent_bwd", LossKernels::ntxentBackward, zd, yd, norms, logits, lse, go, gz, n, t, width, invTau, sym);
    }

    static void sumBackward(Sum op, TaskSink s) {
        reductionBackward(op.inputs(), op.out(), SUM, s);
    }

    static void meanBackward(Mean op, TaskSink s) {
        reductionBackward(op.inputs(), op.out(), MEAN, s);
    }

    static void l2normBackward(L2Norm op, TaskSink s) {
        reductionBackward(op.xs(), op.out(), L2NORM, s);
    }

    private static void reductionBackward(List<Tensor> xs, Tensor out, int mode, TaskSink s) {
        int total = 0;
        for (Tensor x : xs) total += x.size();
        int tot = total;
        FloatArray ov = s.read(out), og = s.gradRead(out);
        for (Tensor x : xs) {
            if (!x.requiresGrad()) continue;
            FloatArray xd = s.read(x), gx = s.gradUpdate(x);
            int n = x.size();
            s.task("reduction_bwd", PointwiseKernels::reductionBackward, xd, gx, ov, og, mode, tot, n);
        }
    }
}
