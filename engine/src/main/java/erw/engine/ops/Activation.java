package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.FastMath;
import erw.engine.cpu.WorkerPool;
import java.util.List;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Pointwise nonlinearities: SiLU {@code x*sigmoid(x)} and GELU with the tanh approximation.
 * Vectorized with {@link FastMath}'s exp/tanh (the same bits as its scalar tail); loop ranges start at
 * multiples of {@link #GRAIN}, so the scalar tail is always the same elements whatever the
 * thread count (bit-identical results).
 */
public final class Activation extends Op {
    public enum Kind { SILU, GELU_TANH }

    private static final float SQRT_2_OVER_PI = 0.7978845608028654f;
    private static final float GELU_C = 0.044715f;

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int GRAIN = 4096;
    private final Kind kind;
    private final Tensor x, out;

    public Activation(String name, Kind kind, Tensor x, Tensor out) {
        super(name);
        this.kind = kind;
        this.x = x;
        this.out = out;
        if (out.size() != x.size()) throw shapeError(type(), name, "output size differs from input", x, out);
    }

    @Override public String type() { return kind == Kind.SILU ? "silu" : "gelu"; }
    @Override public List<Tensor> inputs() { return List.of(x); }
    @Override public List<Tensor> outputs() { return List.of(out); }

    // One small method per kind and direction: the FastMath vector calls must be inlined by C2
    // (a vector passed to a method that is not inlined is boxed), and one lambda holding both
    // kinds grew past the inlining budget, leaving SiLU allocating and ~8x slower.

    @Override
    public void forward(WorkerPool pool) {
        float[] xd = x.data(), od = out.data();
        if (kind == Kind.SILU) pool.parallelFor(x.size(), GRAIN, (lo, hi) -> siluForward(xd, od, lo, hi));
        else pool.parallelFor(x.size(), GRAIN, (lo, hi) -> geluForward(xd, od, lo, hi));
    }

    @Override
    public void backward(WorkerPool pool) {
        if (!x.requiresGrad()) return;
        float[] xd = x.data(), g = out.grad(), gx = x.grad();
        if (kind == Kind.SILU) pool.parallelFor(x.size(), GRAIN, (lo, hi) -> siluBackward(xd, g, gx, lo, hi));
        else pool.parallelFor(x.size(), GRAIN, (lo, hi) -> geluBackward(xd, g, gx, lo, hi));
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

    private static void siluBackward(float[] xd, float[] g, float[] gx, int lo, int hi) {
        int i = lo, ub = lo + S.loopBound(hi - lo);
        for (; i < ub; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, xd, i);
            FloatVector sg = FastMath.sigmoid(v);
            FloatVector d = v.mul(sg.neg().add(1f)).add(1f).mul(sg);
            FloatVector.fromArray(S, g, i).fma(d, FloatVector.fromArray(S, gx, i)).intoArray(gx, i);
        }
        for (; i < hi; i++) {
            float v = xd[i];
            float s = FastMath.sigmoid(v);
            gx[i] += g[i] * s * (1f + v * (1f - s));
        }
    }

    private static void geluBackward(float[] xd, float[] g, float[] gx, int lo, int hi) {
        int i = lo, ub = lo + S.loopBound(hi - lo);
        for (; i < ub; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, xd, i);
            FloatVector v2 = v.mul(v);
            FloatVector th = FastMath.tanh(v2.mul(v).mul(GELU_C).add(v).mul(SQRT_2_OVER_PI));
            FloatVector du = v2.mul(3f * GELU_C).add(1f).mul(SQRT_2_OVER_PI);
            FloatVector d = th.add(1f).mul(0.5f).add(v.mul(0.5f).mul(th.mul(th).neg().add(1f)).mul(du));
            FloatVector.fromArray(S, g, i).fma(d, FloatVector.fromArray(S, gx, i)).intoArray(gx, i);
        }
        for (; i < hi; i++) {
            float v = xd[i];
            float u = SQRT_2_OVER_PI * (v + GELU_C * v * v * v);
            float th = FastMath.tanh(u);
            float du = SQRT_2_OVER_PI * (1f + 3f * GELU_C * v * v);
            gx[i] += g[i] * (0.5f * (1f + th) + 0.5f * v * (1f - th * th) * du);
        }
    }
}
