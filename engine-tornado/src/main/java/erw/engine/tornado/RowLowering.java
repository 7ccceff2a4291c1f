package erw.engine.tornado;

import erw.engine.EngineException;
import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.ops.LayerNorm;
import erw.engine.ops.Softmax;
import erw.engine.ops.SoftmaxCrossEntropy;
import erw.engine.tornado.kernels.ReduceKernels;
import erw.engine.tornado.kernels.RowKernels;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * layernorm, softmax and softmax_cross_entropy: one work-group per row. LayerNorm's forward is one kernel that
 * also writes the op's saved mean and rstd, which its backward reads (resident buffers, like attention's saved
 * log-sum-exp); groupnorm's statistics live in scratch buffers of the graph that needs them.
 */
final class RowLowering {
    private RowLowering() {}

    /**
     * Mean and 1/sqrt(biased variance + eps) of each of {@code rows} consecutive runs of {@code width}
     * values, into a scratch buffer (2 per row): groupnorm's (sample, group) slabs.
     */
    static FloatArray rowStats(TaskSink s, String name, FloatArray x, int rows, int width, float eps) {
        FloatArray stats = s.scratch(2 * rows);
        KernelContext ctx = new KernelContext();
        String id = s.task(name, RowKernels::layerNormStats, ctx, x, stats, width, eps);
        s.grid1(id, (long) rows * RowKernels.GROUP, RowKernels.GROUP);
        return stats;
    }

    static void layerNorm(LayerNorm op, TaskSink s) {
        Tensor x = op.x(), w = op.weight(), b = op.bias();
        FloatArray xd = s.read(x);
        FloatArray wd = w == null ? s.dummy() : s.read(w), bd = b == null ? s.dummy() : s.read(b), od = s.write(op.out());
        int affine = w == null ? 0 : 1, d = op.d();
        KernelContext ctx = new KernelContext();
        String id = s.task("layernorm", RowKernels::layerNormForward, ctx, xd, wd, bd, od, s.write(op.mean()), s.write(op.rstd()), affine, d, op.eps());
        s.grid1(id, (long) op.rows() * RowKernels.GROUP, RowKernels.GROUP);
    }

    static void softmax(Softmax op, TaskSink s) {
        FloatArray xd = s.read(op.x()), od = s.write(op.out());
        int rows = op.rows(), c = op.c();
        KernelContext ctx = new KernelContext();
        String id = s.task("softmax", RowKernels::softmax, ctx, xd, od, c);
        s.grid1(id, (long) rows * RowKernels.GROUP, RowKernels.GROUP);
    }

    static void crossEntropy(SoftmaxCrossEntropy op, TaskSink s) {
        Tensor logits = op.logits(), labels = op.labels();
        int n = op.n(), k = op.k();
        checkLabels(op, s, labels, k);
        FloatArray ld = s.read(logits), yd = s.read(labels), od = s.write(op.out());
        FloatArray lse = s.scratch(n), loss = s.scratch(n);
        s.task("xent_rows", RowKernels::crossEntropyRows, ld, yd, lse, loss, n, k);
        LossLowering.reduce(s, loss, loss, n, ReduceKernels.MODE_SUM, od, 0, 1f / n, false);
    }

    /** Labels are host-written: check their range on the host, where the error can name them. */
    static void checkLabels(Op op, TaskSink s, Tensor labels, int k) {
        if (labels.kind() != Tensor.Kind.INPUT && labels.kind() != Tensor.Kind.SCALAR) return;
        s.hostCheck(() -> {
            float[] l = labels.data();
            for (int i = 0; i < l.length; i++) {
                float v = l[i];
                if (v != (int) v || v < 0 || v >= k) {
                    throw new EngineException(op.type() + " '" + op.name() + "': index " + v + " at position " + i + " of '" + labels.name() + "' is outside [0, " + k + ")");
                }
            }
        });
    }

    static void softmaxBackward(Softmax op, TaskSink s) {
        Tensor x = op.x(), out = op.out();
        if (!x.requiresGrad()) return;
        FloatArray yd = s.read(out), go = s.gradRead(out), gx = s.gradUpdate(x);
        int rows = op.rows(), c = op.c();
        KernelContext ctx = new KernelContext();
        String id = s.task("softmax_bwd", RowKernels::softmaxBackward, ctx, yd, go, gx, c);
        s.grid1(id, (long) rows * RowKernels.GROUP, RowKernels.GROUP);
    }

    static void crossEntropyBackward(SoftmaxCrossEntropy op, TaskSink s) {
        Tensor logits = op.logits(), labels = op.labels(), out = op.out();
        if (!logits.requiresGrad()) return;
        int n = op.n(), k = op.k();
        FloatArray ld = s.read(logits), yd = s.read(labels), go = s.gradRead(out), gl = s.gradUpdate(logits);
        FloatArray lse = s.scratch(n), loss = s.scratch(n);
        s.task("xent_rows", RowKernels::crossEntropyRows, ld, yd, lse, loss, n, k);
        s.task("xent_bwd", RowKernels::crossEntropyBackward, ld, yd, lse, go, gl, n, k);
    }

    static void layerNormBackward(LayerNorm op, TaskSink s) {
        Tensor x = op.x(), w = op.weight(), b = op.bias(), out = op.out();
        int rows = op.rows(), d = op.d();
        FloatArray xd = s.read(x), go = s.gradRead(out), mean = s.read(op.mean()), rstd = s.read(op.rstd());
        if (x.requiresGrad()) {
            FloatArray wd = w == null ? s.dummy() : s.read(w), gx = s.gradUpdate(x);
            int affine = w == null ? 0 : 1;
            KernelContext ctx = new KernelContext();
            String id = s.task("layernorm_bwd_x", RowKernels::layerNormBackwardInput, ctx, xd, mean, rstd, wd, go, gx, affine, d);
            s.grid1(id, (long) rows * RowKernels.GROUP, RowKernels.GROUP);
        }
        if (w != null && (w.requiresGrad() || b.requiresGrad())) {
            FloatArray gw = s.gradUpdateOrDummy(w), gb = s.gradUpdateOrDummy(b);
            int useW = w.requiresGrad() ? 1 : 0, useB = b.requiresGrad() ? 1 : 0;
            KernelContext ctx = new KernelContext();
            String id = s.task("layernorm_bwd_affine", RowKernels::layerNormBackwardAffine, ctx, xd, mean, rstd, go, gw, gb, useW, useB, rows, d);
            s.grid2(id, d, 16, 16, 16);
        }
    }
}
