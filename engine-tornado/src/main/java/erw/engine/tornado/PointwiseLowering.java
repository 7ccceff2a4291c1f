package erw.engine.tornado;

import erw.engine.Tensor;
import erw.engine.ops.Add;
import erw.engine.ops.GatedResidual;
import erw.engine.ops.Gelu;
import erw.engine.ops.Modulate;
import erw.engine.ops.Mul;
import erw.engine.ops.Scale;
import erw.engine.ops.Silu;
import erw.engine.tornado.kernels.PointwiseKernels;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/** add, mul, scale, silu, gelu, gated_residual, modulate: @Parallel loops. */
final class PointwiseLowering {
    private PointwiseLowering() {}

    static void add(Add op, TaskSink s) {
        FloatArray ad = s.read(op.a()), bd = s.read(op.b()), od = s.write(op.out());
        int n = op.a().size(), nb = op.b().size();
        s.task("add", PointwiseKernels::add, ad, bd, od, n, nb);
    }

    static void mul(Mul op, TaskSink s) {
        FloatArray ad = s.read(op.a()), bd = s.read(op.b()), od = s.write(op.out());
        int n = op.a().size();
        s.task("mul", PointwiseKernels::mul, ad, bd, od, n);
    }

    static void scale(Scale op, TaskSink s) {
        Tensor x = op.x(), factor = op.factor();
        FloatArray xd = s.read(x), od = s.write(op.out()), fd = factor == null ? s.ones() : s.read(factor);
        float alpha = op.alpha();
        int n = x.size();
        s.task("scale", PointwiseKernels::scale, xd, od, fd, alpha, n, 0);
    }

    static void silu(Silu op, TaskSink s) {
        FloatArray xd = s.read(op.x()), od = s.write(op.out());
        int n = op.x().size();
        s.task("silu", PointwiseKernels::silu, xd, od, n);
    }

    static void gelu(Gelu op, TaskSink s) {
        FloatArray xd = s.read(op.x()), od = s.write(op.out());
        int n = op.x().size();
        s.task("gelu", PointwiseKernels::gelu, xd, od, n);
    }

    static void gatedResidual(GatedResidual op, TaskSink s) {
        FloatArray xd = s.read(op.x()), gd = s.read(op.gate()), hd = s.read(op.h()), od = s.write(op.out());
        int t = op.t(), d = op.d(), n = op.x().size();
        s.task("gated_residual", PointwiseKernels::gatedResidual, xd, gd, hd, od, t, d, n);
    }

    static void modulate(Modulate op, TaskSink s) {
        FloatArray xd = s.read(op.x()), sh = s.read(op.shift()), sc = s.read(op.scale()), od = s.write(op.out());
        int t = op.t(), d = op.d(), n = op.x().size();
        s.task("modulate", PointwiseKernels::modulate, xd, sh, sc, od, t, d, n);
    }

    static void scaleBackward(Scale op, TaskSink s) {
        Tensor x = op.x(), factor = op.factor();
        if (!x.requiresGrad()) return;
        FloatArray go = s.gradRead(op.out()), gx = s.gradUpdate(x), fd = factor == null ? s.ones() : s.read(factor);
        float alpha = op.alpha();
        int n = x.size();
        s.task("scale_bwd", PointwiseKernels::scale, go, gx, fd, alpha, n, 1);
    }

    /** {@code write}: the step writes x's gradient whole (its first write) instead of adding to it. */
    static void siluBackward(Silu op, boolean write, TaskSink s) {
        Tensor x = op.x();
        if (!x.requiresGrad()) return;
        FloatArray xd = s.read(x), go = s.gradRead(op.out()), gx = write ? s.gradWrite(x) : s.gradUpdate(x);
        int n = x.size();
        s.task("silu_bwd", PointwiseKernels::siluBackward, xd, go, gx, n, write ? 0 : 1);
    }

    /** {@code write}: the step writes x's gradient whole (its first write) instead of adding to it. */
    static void geluBackward(Gelu op, boolean write, TaskSink s) {
        Tensor x = op.x();
        if (!x.requiresGrad()) return;
        FloatArray xd = s.read(x), go = s.gradRead(op.out()), gx = write ? s.gradWrite(x) : s.gradUpdate(x);
        int n = x.size();
        s.task("gelu_bwd", PointwiseKernels::geluBackward, xd, go, gx, n, write ? 0 : 1);
    }

    static void addBackward(Add op, TaskSink s) {
        elementwiseBackward(true, op.a(), op.b(), op.out(), s);
    }

    static void mulBackward(Mul op, TaskSink s) {
        elementwiseBackward(false, op.a(), op.b(), op.out(), s);
    }

    private static void elementwiseBackward(boolean add, Tensor a, Tensor b, Tensor out, TaskSink s) {
        FloatArray go = s.gradRead(out);
        int n = a.size();
        if (a.requiresGrad()) {
            FloatArray ga = s.gradUpdate(a);
            if (add) s.task("add_bwd_a", PointwiseKernels::accumulate, go, ga, n);
            else {
                FloatArray bd = s.read(b);
                s.task("mul_bwd_a", PointwiseKernels::accumulateProduct, go, bd, ga, n);
            }
        }
        if (b.requiresGrad()) {
            FloatArray gb = s.gradUpdate(b);
            if (!add) {
                FloatArray ad = s.read(a);
                s.task("mul_bwd_b", PointwiseKernels::accumulateProduct, go, ad, gb, n);
            } else if (b.size() == n) {
                s.task("add_bwd_b", PointwiseKernels::accumulate, go, gb, n);
            } else {
                LinearAlgebraLowering.columnSums(s, go, gb, n / b.size(), b.size());
            }
        }
    }

    /** {@code writeX}/{@code writeH}: the step writes that input's gradient whole (its first write) instead of adding to it. */
    static void gatedResidualBackward(GatedResidual op, boolean writeX, boolean writeH, boolean writeGate, TaskSink s) {
        Tensor x = op.x(), gate = op.gate(), h = op.h(), out = op.out();
        int n = op.n(), t = op.t(), d = op.d(), size = x.size();
        FloatArray go = s.gradRead(out);
        if (x.requiresGrad()) {
            if (writeX) s.task("gated_residual_bwd_x", PointwiseKernels::assign, go, s.gradWrite(x), size);
            else s.task("gated_residual_bwd_x", PointwiseKernels::accumulate, go, s.gradUpdate(x), size);
        }
        if (h.requiresGrad()) {
            FloatArray gd = s.read(gate), gh = writeH ? s.gradWrite(h) : s.gradUpdate(h);
            s.task("gated_residual_bwd_h", PointwiseKernels::broadcastProductBackward, go, gd, gh, t, d, size, writeH ? 0 : 1);
        }
        if (gate.requiresGrad()) {
            FloatArray hd = s.read(h), gg = writeGate ? s.gradWrite(gate) : s.gradUpdate(gate);
            s.task("gated_residual_bwd_gate", PointwiseKernels::tokenSums, go, hd, 1, gg, n, t, d, writeGate ? 0 : 1);
        }
    }

    /** {@code writeX}, {@code writeShift}, {@code writeScale}: the step writes that gradient whole (its first write) instead of adding to it. */
    static void modulateBackward(Modulate op, boolean writeX, boolean writeShift, boolean writeScale, TaskSink s) {
        Tensor x = op.x(), shift = op.shift(), scale = op.scale(), out = op.out();
        int n = op.n(), t = op.t(), d = op.d(), size = x.size();
        FloatArray go = s.gradRead(out);
        if (x.requiresGrad()) {
            FloatArray sc = s.read(scale), gx = writeX ? s.gradWrite(x) : s.gradUpdate(x);
            s.task("modulate_bwd_x", PointwiseKernels::modulateBackwardX, go, sc, gx, t, d, size, writeX ? 0 : 1);
        }
        if (shift.requiresGrad()) {
            FloatArray gsh = writeShift ? s.gradWrite(shift) : s.gradUpdate(shift), none = s.dummy();
            s.task("modulate_bwd_shift", PointwiseKernels::tokenSums, go, none, 0, gsh, n, t, d, writeShift ? 0 : 1);
        }
        if (scale.requiresGrad()) {
            FloatArray xd = s.read(x), gsc = writeScale ? s.gradWrite(scale) : s.gradUpdate(scale);
            s.task("modulate_bwd_scale", PointwiseKernels::tokenSums, go, xd, 1, gsc, n, t, d, writeScale ? 0 : 1);
        }
    }
}
