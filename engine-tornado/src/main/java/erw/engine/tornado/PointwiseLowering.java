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

    /**
     * One pass over the output gradient (a work-item per (sample, column), its tokens in order) for all three gradients;
     * {@code writeX}/{@code writeH}/{@code writeGate}: the step writes that gradient whole (its first write) instead of
     * adding to it.
     */
    static void gatedResidualBackward(GatedResidual op, boolean writeX, boolean writeH, boolean writeGate, TaskSink s) {
        Tensor x = op.x(), gate = op.gate(), h = op.h(), out = op.out();
        boolean nx = x.requiresGrad(), nh = h.requiresGrad(), ng = gate.requiresGrad();
        if (!nx && !nh && !ng) return;
        FloatArray go = s.gradRead(out), gd = s.read(gate), hd = ng ? s.read(h) : s.dummy();
        FloatArray gx = !nx ? s.dummy() : writeX ? s.gradWrite(x) : s.gradUpdate(x);
        FloatArray gh = !nh ? s.dummy() : writeH ? s.gradWrite(h) : s.gradUpdate(h);
        FloatArray gg = !ng ? s.dummy() : writeGate ? s.gradWrite(gate) : s.gradUpdate(gate);
        s.task("gated_residual_bwd", PointwiseKernels::gatedResidualBackward, go, gd, hd, gx, gh, gg, flag(nx), flag(nx && !writeX), flag(nh),
                flag(nh && !writeH), flag(ng), flag(ng && !writeGate), op.n(), op.t(), op.d());
    }

    /**
     * One pass over the output gradient (a work-item per (sample, column), its tokens in order) for x's, shift's and
     * scale's gradients; {@code writeX}, {@code writeShift}, {@code writeScale}: the step writes that gradient whole (its
     * first write) instead of adding to it.
     */
    static void modulateBackward(Modulate op, boolean writeX, boolean writeShift, boolean writeScale, TaskSink s) {
        Tensor x = op.x(), shift = op.shift(), scale = op.scale(), out = op.out();
        boolean nx = x.requiresGrad(), nsh = shift.requiresGrad(), nsc = scale.requiresGrad();
        if (!nx && !nsh && !nsc) return;
        FloatArray go = s.gradRead(out), xd = nsc ? s.read(x) : s.dummy(), sc = nx ? s.read(scale) : s.dummy();
        FloatArray gx = !nx ? s.dummy() : writeX ? s.gradWrite(x) : s.gradUpdate(x);
        FloatArray gsh = !nsh ? s.dummy() : writeShift ? s.gradWrite(shift) : s.gradUpdate(shift);
        FloatArray gsc = !nsc ? s.dummy() : writeScale ? s.gradWrite(scale) : s.gradUpdate(scale);
        s.task("modulate_bwd", PointwiseKernels::modulateBackward, go, xd, sc, gx, gsh, gsc, flag(nx), flag(nx && !writeX), flag(nsh),
                flag(nsh && !writeShift), flag(nsc), flag(nsc && !writeScale), op.n(), op.t(), op.d());
    }

    private static int flag(boolean b) {
        return b ? 1 : 0;
    }
}
