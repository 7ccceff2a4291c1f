package erw.engine.tornado;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.tornado.kernels.LossKernels;
import erw.engine.tornado.kernels.PointwiseKernels;
import erw.engine.tornado.kernels.ReduceKernels;
import java.util.List;
import java.util.Set;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/** Losses and reductions to a scalar: mse, cosine_align, ntxent_align, sum, mean, l2norm. */
final class LossLowering implements OpLowering {
    @Override
    public Set<String> types() {
        return Set.of("mse", "cosine_align", "ntxent_align", "sum", "mean", "l2norm");
    }

    /** out[idx] (+)= scale * reduction of x (and y) by one 256-wide work-group. */
    static void reduce(TaskSink s, FloatArray x, FloatArray y, int n, int mode, FloatArray out, int idx, float scale, boolean accumulate) {
        KernelContext ctx = new KernelContext();
        int acc = accumulate ? 1 : 0;
        String id = s.task("reduce", (g, i) -> g.task(i, ReduceKernels::reduce, ctx, x, y, n, mode, out, idx, scale, acc));
        s.grid1(id, ReduceKernels.GROUP, ReduceKernels.GROUP);
    }

    @Override
    public void forward(Op op, OpFields f, TaskSink s) {
        switch (op.type()) {
            case "mse" -> {
                Tensor p = f.tensor("pred"), q = f.tensor("target");
                int n = p.size();
                reduce(s, s.read(p), s.read(q), n, ReduceKernels.MODE_SQUARED_DIFF, s.write(f.tensor("out")), 0, 1f / n, false);
            }
            case "cosine_align" -> {
                int rows = f.integer("rows");
                FloatArray[] cn = rowCosine(f, s);
                reduce(s, cn[0], cn[0], rows, ReduceKernels.MODE_SUM, s.write(f.tensor("out")), 0, -1f / rows, false);
            }
            case "ntxent_align" -> {
                FloatArray[] nt = ntxent(f, s);
                int n = f.integer("n"), t = f.integer("t");
                reduce(s, nt[2], nt[2], n * t, ReduceKernels.MODE_SUM, s.write(f.tensor("out")), 0, 1f / ((float) n * t), false);
            }
            default -> { // sum, mean, l2norm
                List<Tensor> xs = f.tensors("xs");
                FloatArray out = s.write(f.tensor("out"));
                String kind = f.kind("kind");
                int total = 0;
                for (Tensor x : xs) total += x.size();
                int mode = kind.equals("L2NORM") ? ReduceKernels.MODE_SQUARES : ReduceKernels.MODE_SUM;
                float scale = kind.equals("MEAN") ? 1f / total : 1f;
                for (int k = 0; k < xs.size(); k++) {
                    FloatArray x = s.read(xs.get(k));
                    reduce(s, x, x, xs.get(k).size(), mode, out, 0, scale, k > 0);
                }
                if (kind.equals("L2NORM")) s.task("sqrt", (g, i) -> g.task(i, ReduceKernels::sqrtAt, out, 0));
            }
        }
    }

    /** {cosines (rows), norms (2 per row)} of the token rows of z and y. */
    private static FloatArray[] rowCosine(OpFields f, TaskSink s) {
        Tensor z = f.tensor("z"), y = f.tensor("y");
        int rows = z.rows(), width = z.cols();
        FloatArray zd = s.read(z), yd = s.read(y), cos = s.scratch(rows), norms = s.scratch(2 * rows);
        s.task("row_cosine", (g, i) -> g.task(i, LossKernels::rowCosine, zd, yd, cos, norms, rows, width));
        return new FloatArray[]{cos, norms};
    }

    /** {row norms, logits, per-row loss, lse} of NT-Xent. */
    private static FloatArray[] ntxent(OpFields f, TaskSink s) {
        Tensor z = f.tensor("z"), y = f.tensor("y");
        int n = f.integer("n"), t = f.integer("t"), width = f.integer("width"), sym = f.flag("symmetric") ? 1 : 0;
        float invTau = 1f / f.real("tau");
        FloatArray norms = rowCosine(f, s)[1], zd = s.read(z), yd = s.read(y);
        FloatArray logits = s.scratch(t * n * n), lse = s.scratch(2 * t * n), loss = s.scratch(t * n);
        s.task("ntxent_logits", (g, i) -> g.task(i, LossKernels::ntxentLogits, zd, yd, norms, logits, n, t, width, invTau));
        s.task("ntxent_rows", (g, i) -> g.task(i, LossKernels::ntxentRows, logits, lse, loss, n, t, sym));
        return new FloatArray[]{norms, logits, loss, lse};
    }

    @Override
    public void backward(Op op, OpFields f, TaskSink s) {
        switch (op.type()) {
            case "mse" -> {
                Tensor p = f.tensor("pred"), q = f.tensor("target"), out = f.tensor("out");
                FloatArray pd = s.read(p), qd = s.read(q), go = s.gradRead(out);
                FloatArray gp = s.gradUpdateOrDummy(p), gq = s.gradUpdateOrDummy(q);
                int up = p.requiresGrad() ? 1 : 0, uq = q.requiresGrad() ? 1 : 0, n = p.size();
                s.task("mse_bwd", (g, i) -> g.task(i, PointwiseKernels::mseBackward, pd, qd, go, gp, gq, up, uq, n));
            }
            case "cosine_align" -> {
                Tensor z = f.tensor("z"), y = f.tensor("y"), out = f.tensor("out");
                if (!z.requiresGrad()) return;
                FloatArray[] cn = rowCosine(f, s);
                FloatArray zd = s.read(z), yd = s.read(y), go = s.gradRead(out), gz = s.gradUpdate(z);
                int rows = z.rows(), width = z.cols();
                s.task("cosine_bwd", (g, i) -> g.task(i, LossKernels::cosineBackward, zd, yd, cn[0], cn[1], go, gz, rows, width));
            }
            case "ntxent_align" -> {
                Tensor z = f.tensor("z"), y = f.tensor("y"), out = f.tensor("out");
                if (!z.requiresGrad()) return;
                FloatArray[] nt = ntxent(f, s);
                FloatArray zd = s.read(z), yd = s.read(y), go = s.gradRead(out), gz = s.gradUpdate(z);
                int n = f.integer("n"), t = f.integer("t"), width = f.integer("width"), sym = f.flag("symmetric") ? 1 : 0;
                float invTau = 1f / f.real("tau");
                s.task("ntxent_bwd", (g, i) -> g.task(i, LossKernels::ntxentBackward, zd, yd, nt[0], nt[1], nt[3], go, gz, n, t, width, invTau, sym));
            }
            default -> {
                List<Tensor> xs = f.tensors("xs");
                Tensor out = f.tensor("out");
                String kind = f.kind("kind");
                int mode = kind.equals("SUM") ? 0 : kind.equals("MEAN") ? 1 : 2;
                int total = 0;
                for (Tensor x : xs) total += x.size();
                int tot = total;
                FloatArray ov = s.read(out), og = s.gradRead(out);
                for (Tensor x : xs) {
                    if (!x.requiresGrad()) continue;
                    FloatArray xd = s.read(x), gx = s.gradUpdate(x);
                    int n = x.size();
                    s.task("reduction_bwd", (g, i) -> g.task(i, PointwiseKernels::reductionBackward, xd, gx, ov, og, mode, tot, n));
                }
            }
        }
    }
}
