package erw.engine.cpu;

import erw.engine.Tensor;
import erw.engine.host.WorkerPool;
import erw.engine.ops.Add;
import erw.engine.ops.GatedResidual;
import erw.engine.ops.Gelu;
import erw.engine.ops.Modulate;
import erw.engine.ops.Mul;
import erw.engine.ops.Scale;
import erw.engine.ops.Silu;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * CPU kernels of the pointwise ops (add, mul, scale, silu, gelu, gated_residual, modulate), forward
 * and backward side by side. The activations are vectorized with {@link FastMath}'s exp/tanh (the same
 * bits as its scalar tail); loop ranges start at multiples of {@link #GRAIN}, so the scalar tail is
 * always the same elements whatever the thread count (bit-identical results).
 */
final class PointwiseKernels {
    private PointwiseKernels() {}

    private static final float SQRT_2_OVER_PI = 0.7978845608028654f;
    private static final float GELU_C = 0.044715f;
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int GRAIN = 4096;

    // ---- add, mul (b may be broadcast for add: its size divides a's) ------------------------------

    static void addForward(Add op, WorkerPool pool) {
        Tensor a = op.a(), b = op.b();
        float[] ad = a.data(), bd = b.data(), od = op.out().data();
        int nb = b.size();
        pool.parallelFor(a.size(), 4096, (lo, hi) -> {
            if (nb == ad.length) {
                for (int i = lo; i < hi; i++) od[i] = ad[i] + bd[i];
            } else {
                for (int i = lo; i < hi; i++) od[i] = ad[i] + bd[i % nb];
            }
        });
    }

    static void addBackward(Add op, WorkerPool pool) {
        Tensor a = op.a(), b = op.b();
        float[] g = op.out().grad();
        int n = a.size();
        if (a.requiresGrad()) {
            float[] ga = a.grad();
            pool.parallelFor(n, 4096, (lo, hi) -> {
                for (int i = lo; i < hi; i++) ga[i] += g[i];
            });
        }
        if (b.requiresGrad()) {
            float[] gb = b.grad();
            if (b.size() == n) {
                pool.parallelFor(n, 4096, (lo, hi) -> {
                    for (int i = lo; i < hi; i++) gb[i] += g[i];
                });
            } else {
                Reduce.addColumnSums(pool, g, 0, n / b.size(), b.size(), gb, 0);
            }
        }
    }

    static void mulForward(Mul op, WorkerPool pool) {
        Tensor a = op.a(), b = op.b();
        float[] ad = a.data(), bd = b.data(), od = op.out().data();
        pool.parallelFor(a.size(), 4096, (lo, hi) -> {
            for (int i = lo; i < hi; i++) od[i] = ad[i] * bd[i];
        });
    }

    static void mulBackward(Mul op, WorkerPool pool) {
        Tensor a = op.a(), b = op.b();
        float[] g = op.out().grad();
        int n = a.size();
        if (a.requiresGrad()) {
            float[] ga = a.grad(), bd = b.data();
            pool.parallelFor(n, 4096, (lo, hi) -> {
                for (int i = lo; i < hi; i++) ga[i] += g[i] * bd[i];
            });
        }
        if (b.requiresGrad()) {
            float[] gb = b.grad(), ad = a.data();
            pool.parallelFor(n, 4096, (lo, hi) -> {
                for (int i = lo; i < hi; i++) gb[i] += g[i] * ad[i];
            });
        }
    }

    // ---- scale ---------------------------------------------------------------------------------

    private static float coefficient(Scale op) {
        return op.factor() == null ? op.alpha() : op.alpha() * op.factor().data()[0];
    }

    static void scaleForward(Scale op, WorkerPool pool) {
        float s = coefficient(op);
        float[] xd = op.x().data(), od = op.out().data();
        pool.parallelFor(op.x().size(), 4096, (lo, hi) -> {
            for (int i = lo; i < hi; i++) od[i] = s * xd[i];
        });
    }

    static void scaleBackward(Scale op, WorkerPool pool) {
        Tensor x = op.x();
        if (!x.requiresGrad()) return;
        float s = coefficient(op);
        float[] g = op.out().grad(), gx = x.grad();
        pool.parallelFor(x.size(), 4096, (lo, hi) -> {
            for (int i = lo; i < hi; i++) gx[i] += s * g[i];
        });
    }

    // ---- silu, gelu ----------------------------------------------------------------------------
    // One small method per kind and direction: the FastMath vector calls must be inlined by C2
    // (a vector passed to a method that is not inlined is boxed), and one lambda holding both
    // kinds grew past the inlining budget, leaving SiLU allocating and ~8x slower.

    static void siluForward(Silu op, WorkerPool pool) {
        float[] xd = op.x().data(), od = op.out().data();
        pool.parallelFor(op.x().size(), GRAIN, (lo, hi) -> siluForward(xd, od, lo, hi));
    }

    /** {@code write}: the step writes x's gradient whole (its first write) instead of adding to it; the same bits as adding to zeros. */
    static void siluBackward(Silu op, boolean write, WorkerPool pool) {
        Tensor x = op.x();
        if (!x.requiresGrad()) return;
        float[] xd = x.data(), g = op.out().grad(), gx = x.grad();
        pool.parallelFor(x.size(), GRAIN, (lo, hi) -> siluBackward(xd, g, gx, write, lo, hi));
    }

    static void geluForward(Gelu op, WorkerPool pool) {
        float[] xd = op.x().data(), od = op.out().data();
        pool.parallelFor(op.x().size(), GRAIN, (lo, hi) -> geluForward(xd, od, lo, hi));
    }

    /** {@code write}: the step writes x's gradient whole (its first write) instead of adding to it; the same bits as adding to zeros. */
    static void geluBackward(Gelu op, boolean write, WorkerPool pool) {
        Tensor x = op.x();
        if (!x.requiresGrad()) return;
        float[] xd = x.data(), g = op.out().grad(), gx = x.grad();
        pool.parallelFor(x.size(), GRAIN, (lo, hi) -> geluBackward(xd, g, gx, write, lo, hi));
    }

    private static void siluForward(float[] xd, float[] od, int lo, int hi) {
        int i = lo, ub = lo + S.loopBound(hi - lo);
        for (; i < ub; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, xd, i);
            v.mul(FastMath.sigmoid(v)).intoArray(od, i);
        }
        for (; i < hi; i++) {
            float v = xd[i];
            od[i] = v * FastMath.sigmoid(v);
        }
    }

    private static void geluForward(float[] xd, float[] od, int lo, int hi) {
        int i = lo, ub = lo + S.loopBound(hi - lo);
        for (; i < ub; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, xd, i);
            FloatVector u = v.mul(v).mul(v).mul(GELU_C).add(v).mul(SQRT_2_OVER_PI);
            v.mul(0.5f).mul(FastMath.tanh(u).add(1f)).intoArray(od, i);
        }
        for (; i < hi; i++) {
            float v = xd[i];
            float u = SQRT_2_OVER_PI * (v + GELU_C * v * v * v);
            od[i] = 0.5f * v * (1f + FastMath.tanh(u));
        }
    }

    private static void siluBackward(float[] xd, float[] g, float[] gx, boolean write, int lo, int hi) {
        int i = lo, ub = lo + S.loopBound(hi - lo);
        float[] gxIn = write ? Vec.ZERO : gx; // gx, or +0 when written whole (see Vec.ZERO)
        int xs = write ? 0 : 1;
        for (; i < ub; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, xd, i);
            FloatVector sg = FastMath.sigmoid(v);
            FloatVector d = v.mul(sg.neg().add(1f)).add(1f).mul(sg);
            FloatVector.fromArray(S, g, i).fma(d, FloatVector.fromArray(S, gxIn, i * xs)).intoArray(gx, i);
        }
        for (; i < hi; i++) {
            float v = xd[i];
            float s = FastMath.sigmoid(v);
            gx[i] = (write ? 0f : gx[i]) + g[i] * s * (1f + v * (1f - s));
        }
    }

    private static void geluBackward(float[] xd, float[] g, float[] gx, boolean write, int lo, int hi) {
        int i = lo, ub = lo + S.loopBound(hi - lo);
        float[] gxIn = write ? Vec.ZERO : gx; // gx, or +0 when written whole (see Vec.ZERO)
        int xs = write ? 0 : 1;
        for (; i < ub; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, xd, i);
            FloatVector v2 = v.mul(v);
            FloatVector th = FastMath.tanh(v2.mul(v).mul(GELU_C).add(v).mul(SQRT_2_OVER_PI));
            FloatVector du = v2.mul(3f * GELU_C).add(1f).mul(SQRT_2_OVER_PI);
            FloatVector d = th.add(1f).mul(0.5f).add(v.mul(0.5f).mul(th.mul(th).neg().add(1f)).mul(du));
            FloatVector.fromArray(S, g, i).fma(d, FloatVector.fromArray(S, gxIn, i * xs)).intoArray(gx, i);
        }
        for (; i < hi; i++) {
            float v = xd[i];
            float u = SQRT_2_OVER_PI * (v + GELU_C * v * v * v);
            float th = FastMath.tanh(u);
            float du = SQRT_2_OVER_PI * (1f + 3f * GELU_C * v * v);
            gx[i] = (write ? 0f : gx[i]) + g[i] * (0.5f * (1f + th) + 0.5f * v * (1f - th * th) * du);
        }
    }

    // ---- gated_residual, modulate --------------------------------------------------------------

    static void gatedResidualForward(GatedResidual op, WorkerPool pool) {
        int n = op.n(), t = op.t(), d = op.d();
        float[] xd = op.x().data(), gd = op.gate().data(), hd = op.h().data(), od = op.out().data();
        pool.parallelFor(n * t, 16, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int s = (r / t) * d, o = r * d;
                for (int i = 0; i < d; i++) od[o + i] = xd[o + i] + gd[s + i] * hd[o + i];
            }
        });
    }

    /**
     * {@code writeX}/{@code writeH}/{@code writeGate}: the step writes that input's gradient whole (its first write)
     * instead of adding to it, as a sum with zero (the same bits); the gate's gradient sums over a sample's tokens,
     * starting from zero at its first token then.
     */
    static void gatedResidualBackward(GatedResidual op, boolean writeX, boolean writeH, boolean writeGate, WorkerPool pool) {
        Tensor x = op.x(), gate = op.gate(), h = op.h();
        int n = op.n(), t = op.t(), d = op.d();
        float[] gd = gate.data(), hd = h.data(), g = op.out().grad();
        float[] gx = x.requiresGrad() ? x.grad() : null;
        float[] gh = h.requiresGrad() ? h.grad() : null;
        float[] gg = gate.requiresGrad() ? gate.grad() : null;
        pool.parallelFor(n, (lo, hi) -> {
            for (int b = lo; b < hi; b++) {
                int s = b * d;
                for (int r = b * t; r < (b + 1) * t; r++) {
                    int o = r * d, i = 0;
                    boolean first = writeGate && r == b * t; // the sum over the sample's tokens starts from zero
                    // the scalar loop's roundings: a product, then a sum (no fused multiply-add); a gradient written
                    // whole adds to Vec.ZERO (read with stride 0) instead (see Vec.ZERO)
                    float[] gxIn = writeX ? Vec.ZERO : gx, ghIn = writeH ? Vec.ZERO : gh, ggIn = first ? Vec.ZERO : gg;
                    int xs = writeX ? 0 : 1, hs = writeH ? 0 : 1, gs = first ? 0 : 1;
                    for (int ub = S.loopBound(d); i < ub; i += S.length()) {
                        FloatVector gi = FloatVector.fromArray(S, g, o + i);
                        if (gx != null) FloatVector.fromArray(S, gxIn, (o + i) * xs).add(gi).intoArray(gx, o + i);
                        if (gh != null) FloatVector.fromArray(S, ghIn, (o + i) * hs).add(gi.mul(FloatVector.fromArray(S, gd, s + i))).intoArray(gh, o + i);
                        if (gg != null) FloatVector.fromArray(S, ggIn, (s + i) * gs).add(gi.mul(FloatVector.fromArray(S, hd, o + i))).intoArray(gg, s + i);
                    }
                    for (; i < d; i++) {
                        float gi = g[o + i];
                        if (gx != null) gx[o + i] = (writeX ? 0f : gx[o + i]) + gi;
                        if (gh != null) gh[o + i] = (writeH ? 0f : gh[o + i]) + gi * gd[s + i];
                        if (gg != null) gg[s + i] = (first ? 0f : gg[s + i]) + gi * hd[o + i];
                    }
                }
            }
        });
    }

    static void modulateForward(Modulate op, WorkerPool pool) {
        int n = op.n(), t = op.t(), d = op.d();
        float[] xd = op.x().data(), sh = op.shift().data(), sc = op.scale().data(), od = op.out().data();
        pool.parallelFor(n * t, 16, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int s = (r / t) * d, o = r * d;
                for (int i = 0; i < d; i++) od[o + i] = xd[o + i] * (1f + sc[s + i]) + sh[s + i];
            }
        });
    }

    /**
     * {@code writeX}, {@code writeShift}, {@code writeScale}: the step writes that gradient whole (its first write)
     * instead of adding to it, as a sum with zero (the same bits); the shift and scale gradients sum over a sample's
     * tokens, starting from zero at its first token then.
     */
    static void modulateBackward(Modulate op, boolean writeX, boolean writeShift, boolean writeScale, WorkerPool pool) {
        Tensor x = op.x(), shift = op.shift(), scale = op.scale();
        int n = op.n(), t = op.t(), d = op.d();
        float[] xd = x.data(), sc = scale.data(), g = op.out().grad();
        float[] gx = x.requiresGrad() ? x.grad() : null;
        float[] gsh = shift.requiresGrad() ? shift.grad() : null;
        float[] gsc = scale.requiresGrad() ? scale.grad() : null;
        pool.parallelFor(n, (lo, hi) -> {
            for (int b = lo; b < hi; b++) {
                int s = b * d;
                for (int r = b * t; r < (b + 1) * t; r++) {
                    int o = r * d, i = 0;
                    boolean firstShift = writeShift && r == b * t, firstScale = writeScale && r == b * t; // sums over the sample's tokens
                    // the scalar loop's roundings: 1 + scale, a product, then a sum (no fused multiply-add); a gradient
                    // written whole adds to Vec.ZERO (read with stride 0) instead (see Vec.ZERO)
                    float[] gxIn = writeX ? Vec.ZERO : gx, shIn = firstShift ? Vec.ZERO : gsh, scIn = firstScale ? Vec.ZERO : gsc;
                    int xs = writeX ? 0 : 1, shs = firstShift ? 0 : 1, scs = firstScale ? 0 : 1;
                    for (int ub = S.loopBound(d); i < ub; i += S.length()) {
                        FloatVector gi = FloatVector.fromArray(S, g, o + i);
                        if (gx != null) {
                            FloatVector prod = gi.mul(FloatVector.fromArray(S, sc, s + i).add(1f));
                            FloatVector.fromArray(S, gxIn, (o + i) * xs).add(prod).intoArray(gx, o + i);
                        }
                        if (gsh != null) FloatVector.fromArray(S, shIn, (s + i) * shs).add(gi).intoArray(gsh, s + i);
                        if (gsc != null) FloatVector.fromArray(S, scIn, (s + i) * scs).add(gi.mul(FloatVector.fromArray(S, xd, o + i))).intoArray(gsc, s + i);
                    }
                    for (; i < d; i++) {
                        float gi = g[o + i];
                        if (gx != null) gx[o + i] = (writeX ? 0f : gx[o + i]) + gi * (1f + sc[s + i]);
                        if (gsh != null) gsh[s + i] = (firstShift ? 0f : gsh[s + i]) + gi;
                        if (gsc != null) gsc[s + i] = (firstScale ? 0f : gsc[s + i]) + gi * xd[o + i];
                    }
                }
            }
        });
    }
}
