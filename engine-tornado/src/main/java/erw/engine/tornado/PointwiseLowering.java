package erw.engine.tornado;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.tornado.kernels.PointwiseKernels;
import java.util.Set;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/** add, mul, scale, silu, gelu, gated_residual, modulate: @Parallel loops. */
final class PointwiseLowering implements OpLowering {
    @Override
    public Set<String> types() {
        return Set.of("add", "mul", "scale", "silu", "gelu", "gated_residual", "modulate");
    }

    @Override
    public void forward(Op op, OpFields f, TaskSink s) {
        switch (op.type()) {
            case "add", "mul" -> {
                Tensor a = f.tensor("a"), b = f.tensor("b"), out = f.tensor("out");
                FloatArray ad = s.read(a), bd = s.read(b), od = s.write(out);
                int n = a.size(), nb = b.size();
                if (op.type().equals("add")) s.task("add", (g, i) -> g.task(i, PointwiseKernels::add, ad, bd, od, n, nb));
                else s.task("mul", (g, i) -> g.task(i, PointwiseKernels::mul, ad, bd, od, n));
            }
            case "scale" -> {
                Tensor x = f.tensor("x"), factor = f.tensor("factor"), out = f.tensor("out");
                FloatArray xd = s.read(x), od = s.write(out), fd = factor == null ? s.ones() : s.read(factor);
                float alpha = f.real("alpha");
                int n = x.size();
                s.task("scale", (g, i) -> g.task(i, PointwiseKernels::scale, xd, od, fd, alpha, n, 0));
            }
            case "silu", "gelu" -> {
                Tensor x = f.tensor("x"), out = f.tensor("out");
                FloatArray xd = s.read(x), od = s.write(out);
                int n = x.size();
                if (op.type().equals("silu")) s.task("silu", (g, i) -> g.task(i, PointwiseKernels::silu, xd, od, n));
                else s.task("gelu", (g, i) -> g.task(i, PointwiseKernels::gelu, xd, od, n));
            }
            case "gated_residual" -> {
                Tensor x = f.tensor("x");
                FloatArray xd = s.read(x), gd = s.read(f.tensor("gate")), hd = s.read(f.tensor("h")), od = s.write(f.tensor("out"));
                int t = f.integer("t"), d = f.integer("d"), n = x.size();
                s.task("gated_residual", (g, i) -> g.task(i, PointwiseKernels::gatedResidual, xd, gd, hd, od, t, d, n));
            }
            default -> { // modulate
                Tensor x = f.tensor("x");
                FloatArray xd = s.read(x), sh = s.read(f.tensor("shift")), sc = s.read(f.tensor("scale")), od = s.write(f.tensor("out"));
                int t = f.integer("t"), d = f.integer("d"), n = x.size();
                s.task("modulate", (g, i) -> g.task(i, PointwiseKernels::modulate, xd, sh, sc, od, t, d, n));
            }
        }
    }

    @Override
    public void backward(Op op, OpFields f, TaskSink s) {
        switch (op.type()) {
            case "add", "mul" -> elementwiseBackward(op.type().equals("add"), f, s);
            case "scale" -> {
                Tensor x = f.tensor("x"), factor = f.tensor("factor"), out = f.tensor("out");
                if (!x.requiresGrad()) return;
                FloatArray go = s.gradRead(out), gx = s.gradUpdate(x), fd = factor == null ? s.ones() : s.read(factor);
                float alpha = f.real("alpha");
                int n = x.size();
                s.task("scale_bwd", (g, i) -> g.task(i, PointwiseKernels::scale, go, gx, fd, alpha, n, 1));
            }
            case "silu", "gelu" -> {
                Tensor x = f.tensor("x"), out = f.tensor("out");
                if (!x.requiresGrad()) return;
                FloatArray xd = s.read(x), go = s.gradRead(out), gx = s.gradUpdate(x);
                int n = x.size();
                if (op.type().equals("silu")) s.task("silu_bwd", (g, i) -> g.task(i, PointwiseKernels::siluBackward, xd, go, gx, n));
                else s.task("gelu_bwd", (g, i) -> g.task(i, PointwiseKernels::geluBackward, xd, go, gx, n));
            }
            case "gated_residual" -> gatedResidualBackward(f, s);
            default -> modulateBackward(f, s);
        }
    }

    private static void elementwiseBackward(boolean add, OpFields f, TaskSink s) {
        Tensor a = f.tensor("a"), b = f.tensor("b"), out = f.tensor("out");
        FloatArray go = s.gradRead(out);
        int n = a.size();
        if (a.requiresGrad()) {
            FloatArray ga = s.gradUpdate(a);
            if (add) s.task("add_bwd_a", (g, i) -> g.task(i, PointwiseKernels::accumulate, go, ga, n));
            else {
                FloatArray bd = s.read(b);
                s.task("mul_bwd_a", (g, i) -> g.task(i, PointwiseKernels::accumulateProduct, go, bd, ga, n));
            }
        }
        if (b.requiresGrad()) {
            FloatArray gb = s.gradUpdate(b);
            if (!add) {
                FloatArray ad = s.read(a);
                s.task("mul_bwd_b", (g, i) -> g.task(i, PointwiseKernels::accumulateProduct, go, ad, gb, n));
            } else if (b.size() == n) {
                s.task("add_bwd_b", (g, i) -> g.task(i, PointwiseKernels::accumulate, go, gb, n));
            } else {
                LinearAlgebraLowering.columnSums(s, go, gb, n / b.size(), b.size());
            }
        }
    }

    private static void gatedResidualBackward(OpFields f, TaskSink s) {
        Tensor x = f.tensor("x"), gate = f.tensor("gate"), h = f.tensor("h"), out = f.tensor("out");
        int n = f.integer("n"), t = f.integer("t"), d = f.integer("d"), size = x.size();
        FloatArray go = s.gradRead(out);
        if (x.requiresGrad()) {
            FloatArray gx = s.gradUpdate(x);
            s.task("gated_residual_bwd_x", (g, i) -> g.task(i, PointwiseKernels::accumulate, go, gx, size));
        }
        if (h.requiresGrad()) {
            FloatArray gd = s.read(gate), gh = s.gradUpdate(h);
            s.task("gated_residual_bwd_h", (g, i) -> g.task(i, PointwiseKernels::broadcastProductBackward, go, gd, gh, t, d, size));
        }
        if (gate.requiresGrad()) {
            FloatArray hd = s.read(h), gg = s.gradUpdate(gate);
            s.task("gated_residual_bwd_gate", (g, i) -> g.task(i, PointwiseKernels::tokenSums, go, hd, 1, gg, n, t, d));
        }
    }

    private static void modulateBackward(OpFields f, TaskSink s) {
        Tensor x = f.tensor("x"), shift = f.tensor("shift"), scale = f.tensor("scale"), out = f.tensor("out");
        int n = f.integer("n"), t = f.integer("t"), d = f.integer("d"), size = x.size();
        FloatArray go = s.gradRead(out);
        if (x.requiresGrad()) {
            FloatArray sc = s.read(scale), gx = s.gradUpdate(x);
            s.task("modulate_bwd_x", (g, i) -> g.task(i, PointwiseKernels::modulateBackwardX, go, sc, gx, t, d, size));
        }
        if (shift.requiresGrad()) {
            FloatArray gsh = s.gradUpdate(shift), none = s.dummy();
            s.task("modulate_bwd_shift", (g, i) -> g.task(i, PointwiseKernels::tokenSums, go, none, 0, gsh, n, t, d));
        }
        if (scale.requiresGrad()) {
            FloatArray xd = s.read(x), gsc = s.gradUpdate(scale);
            s.task("modulate_bwd_scale", (g, i) -> g.task(i, PointwiseKernels::tokenSums, go, xd, 1, gsc, n, t, d));
        }
    }
}
