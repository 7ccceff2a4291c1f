package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.Reduce;
import erw.engine.cpu.WorkerPool;
import java.util.ArrayList;
import java.util.List;

/**
 * Reductions to a one-element output: {@code sum} and {@code mean} of one tensor, and the global
 * {@code l2norm} sqrt(sum of squares) over several tensors (the gradient-norm shape). Sums are
 * blocked and in double, so they are deterministic.
 */
public final class Reduction extends Op {
    public enum Kind { SUM, MEAN, L2NORM }

    private final Kind kind;
    private final List<Tensor> xs;
    private final Tensor out;

    public Reduction(String name, Kind kind, List<Tensor> xs, Tensor out) {
        super(name);
        this.kind = kind;
        this.xs = List.copyOf(xs);
        this.out = out;
        if (xs.isEmpty()) throw new erw.engine.EngineException(type() + " '" + name + "': no inputs");
        if (kind != Kind.L2NORM && xs.size() != 1) throw shapeError(type(), name, "takes exactly one input", xs.toArray(new Tensor[0]));
        if (out.size() != 1) throw shapeError(type(), name, "output must be a scalar", out);
    }

    @Override public String type() { return kind.name().toLowerCase(); }
    @Override public List<Tensor> inputs() { return xs; }
    @Override public List<Tensor> outputs() { return List.of(out); }

    private int total() {
        int n = 0;
        for (Tensor x : xs) n += x.size();
        return n;
    }

    @Override
    public void forward(WorkerPool pool) {
        double s = 0;
        for (Tensor x : xs) {
            float[] d = x.data();
            s += kind == Kind.L2NORM ? Reduce.sumSquares(pool, d) : Reduce.sum(pool, d.length, (lo, hi) -> {
                double acc = 0;
                for (int i = lo; i < hi; i++) acc += d[i];
                return acc;
            });
        }
        out.data()[0] = (float) switch (kind) {
            case SUM -> s;
            case MEAN -> s / total();
            case L2NORM -> Math.sqrt(s);
        };
    }

    @Override
    public void backward(WorkerPool pool) {
        float g = out.grad()[0];
        float k = switch (kind) {
            case SUM -> g;
            case MEAN -> g / total();
            case L2NORM -> out.data()[0] > 0 ? g / out.data()[0] : 0f;
        };
        for (Tensor x : xs) {
            if (!x.requiresGrad()) continue;
            float[] d = x.data(), gx = x.grad();
            pool.parallelFor(d.length, 4096, (lo, hi) -> {
                if (kind == Kind.L2NORM) for (int i = lo; i < hi; i++) gx[i] += k * d[i];
                else for (int i = lo; i < hi; i++) gx[i] += k;
            });
        }
    }

}
