package erw.engine.tornado;

import erw.engine.EngineException;
import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.tornado.kernels.ReduceKernels;
import erw.engine.tornado.kernels.RowKernels;
import java.util.Set;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * layernorm, softmax and softmax_cross_entropy: one work-group per row. Row statistics live in
 * scratch buffers of the graph that needs them; the backward recomputes them rather than carrying
 * state between graphs.
 */
final class RowLowering implements OpLowering {
    @Override
    public Set<String> types() {
        return Set.of("layernorm", "softmax", "softmax_cross_entropy");
    }

    private static FloatArray layerNormStats(OpFields f, TaskSink s, FloatArray x) {
        int rows = f.integer("rows"), d = f.integer("d");
        float eps = f.real("eps");
        FloatArray stats = s.scratch(2 * rows);
        KernelContext ctx = new KernelContext();
        String id = s.task("layernorm_stats", (g, i) -> g.task(i, RowKernels::layerNormStats, ctx, x, stats, d, eps));
        s.grid1(id, (long) rows * RowKernels.GROUP, RowKernels.GROUP);
        return stats;
    }

    @Override
    public void forward(Op op, OpFields f, TaskSink s) {
        switch (op.type()) {
            case "layernorm" -> {
                Tensor x = f.tensor("x"), w = f.tensor("weight"), b = f.tensor("bias"), out = f.tensor("out");
                FloatArray xd = s.read(x);
                FloatArray stats = layerNormStats(f, s, xd);
                FloatArray wd = w == null ? s.dummy() : s.read(w), bd = b == null ? s.dummy() : s.read(b), od = s.write(out);
                int affine = w == null ? 0 : 1, d = f.integer("d"), n = x.size();
                s.task("layernorm_apply", (g, i) -> g.task(i, RowKernels::layerNormApply, xd, stats, wd, bd, od, affine, d, n));
            }
            case "softmax" -> {
                Tensor x = f.tensor("x"), out = f.tensor("out");
                FloatArray xd = s.read(x), od = s.write(out);
                int rows = f.integer("rows"), c = f.integer("c");
                KernelContext ctx = new KernelContext();
                String id = s.task("softmax", (g, i) -> g.task(i, RowKernels::softmax, ctx, xd, od, c));
                s.grid1(id, (long) rows * RowKernels.GROUP, RowKernels.GROUP);
            }
            default -> {
                Tensor logits = f.tensor("logits"), labels = f.tensor("labels"), out = f.tensor("out");
                int n = f.integer("n"), k = f.integer("k");
                checkLabels(op, s, labels, k);
                FloatArray ld = s.read(logits), yd = s.read(labels), od = s.write(out);
                FloatArray lse = s.scratch(n), loss = s.scratch(n);
                s.task("xent_rows", (g, i) -> g.task(i, RowKernels::crossEntropyRows, ld, yd, lse, loss, n, k));
                LossLowering.reduce(s, loss, loss, n, ReduceKernels.MODE_SUM, od, 0, 1f / n, false);
            }
        }
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

    @Override
    public void backward(Op op, OpFields f, TaskSink s) {
        switch (op.type()) {
            case "layernorm" -> layerNormBackward(f, s);
            case "softmax" -> {
                Tensor x = f.tensor("x"), out = f.tensor("out");
                if (!x.requiresGrad()) return;
                FloatArray yd = s.read(out), go = s.gradRead(out), gx = s.gradUpdate(x);
                int rows = f.integer("rows"), c = f.integer("c");
                KernelContext ctx = new KernelContext();
                String id = s.task("softmax_bwd", (g, i) -> g.task(i, RowKernels::softmaxBackward, ctx, yd, go, gx, c));
                s.grid1(id, (long) rows * RowKernels.GROUP, RowKernels.GROUP);
            }
            default -> {
                Tensor logits = f.tensor("logits"), labels = f.tensor("labels"), out = f.tensor("out");
                if (!logits.requiresGrad()) return;
                int n = f.integer("n"), k = f.integer("k");
                FloatArray ld = s.read(logits), yd = s.read(labels), go = s.gradRead(out), gl = s.gradUpdate(logits);
                FloatArray lse = s.scratch(n), loss = s.scratch(n);
                s.task("xent_rows", (g, i) -> g.task(i, RowKernels::crossEntropyRows, ld, yd, lse, loss, n, k));
                s.task("xent_bwd", (g, i) -> g.task(i, RowKernels::crossEntropyBackward, ld, yd, lse, go, gl, n, k));
            }
        }
    }

    private static void layerNormBackward(OpFields f, TaskSink s) {
        Tensor x = f.tensor("x"), w = f.tensor("weight"), b = f.tensor("bias"), out = f.tensor("out");
        int rows = f.integer("rows"), d = f.integer("d");
        FloatArray xd = s.read(x), go = s.gradRead(out);
        FloatArray stats = layerNormStats(f, s, xd);
        if (x.requiresGrad()) {
            FloatArray wd = w == null ? s.dummy() : s.read(w), gx = s.gradUpdate(x);
            int affine = w == null ? 0 : 1;
            KernelContext ctx = new KernelContext();
            String id = s.task("layernorm_bwd_x", (g, i) -> g.task(i, RowKernels::layerNormBackwardInput, ctx, xd, stats, wd, go, gx, affine, d));
            s.grid1(id, (long) rows * RowKernels.GROUP, RowKernels.GROUP);
        }
        if (w != null && (w.requiresGrad() || b.requiresGrad())) {
            FloatArray gw = s.gradUpdateOrDummy(w), gb = s.gradUpdateOrDummy(b);
            int useW = w.requiresGrad() ? 1 : 0, useB = b.requiresGrad() ? 1 : 0;
            KernelContext ctx = new KernelContext();
            String id = s.task("layernorm_bwd_affine", (g, i) -> g.task(i, RowKernels::layerNormBackwardAffine, ctx, xd, stats, go, gw, gb, useW, useB, rows, d));
            s.grid2(id, d, 16, 16, 16);
        }
    }
}
