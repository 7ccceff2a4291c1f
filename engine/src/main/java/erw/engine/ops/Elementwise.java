package erw.engine.ops;

import erw.engine.EngineException;
import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.Reduce;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/**
 * Binary elementwise ops: {@code add} (b may be broadcast: its size divides a's, repeated over the
 * leading rows, as a bias or a position table) and {@code mul} (same shape).
 */
public final class Elementwise extends Op {
    public enum Kind { ADD, MUL }

    private final Kind kind;
    private final Tensor a, b, out;

    public Elementwise(String name, Kind kind, Tensor a, Tensor b, Tensor out) {
        super(name);
        this.kind = kind;
        this.a = a;
        this.b = b;
        this.out = out;
        if (out.size() != a.size()) throw shapeError(type(), name, "output size differs from input", a, out);
        if (kind == Kind.MUL && b.size() != a.size()) throw shapeError(type(), name, "operands must have the same size", a, b);
        if (kind == Kind.ADD && (a.size() % b.size() != 0)) throw shapeError(type(), name, "second operand must have the first's size or divide it (broadcast)", a, b);
    }

    @Override public String type() { return kind == Kind.ADD ? "add" : "mul"; }
    @Override public List<Tensor> inputs() { return List.of(a, b); }
    @Override public List<Tensor> outputs() { return List.of(out); }

    @Override
    public void forward(WorkerPool pool) {
        float[] ad = a.data(), bd = b.data(), od = out.data();
        int nb = b.size();
        pool.parallelFor(a.size(), 4096, (lo, hi) -> {
            if (kind == Kind.MUL) {
                for (int i = lo; i < hi; i++) od[i] = ad[i] * bd[i];
            } else if (nb == ad.length) {
                for (int i = lo; i < hi; i++) od[i] = ad[i] + bd[i];
            } else {
                for (int i = lo; i < hi; i++) od[i] = ad[i] + bd[i % nb];
            }
        });
    }

    @Override
    public void backward(WorkerPool pool) {
        float[] g = out.grad();
        int n = a.size();
        if (a.requiresGrad()) {
            float[] ga = a.grad(), bd = b.data();
            pool.parallelFor(n, 4096, (lo, hi) -> {
                if (kind == Kind.ADD) for (int i = lo; i < hi; i++) ga[i] += g[i];
                else for (int i = lo; i < hi; i++) ga[i] += g[i] * bd[i];
            });
        }
        if (b.requiresGrad()) {
            float[] gb = b.grad(), ad = a.data();
            if (kind == Kind.MUL) {
                pool.parallelFor(n, 4096, (lo, hi) -> {
                    for (int i = lo; i < hi; i++) gb[i] += g[i] * ad[i];
                });
            } else if (b.size() == n) {
                pool.parallelFor(n, 4096, (lo, hi) -> {
                    for (int i = lo; i < hi; i++) gb[i] += g[i];
                });
            } else {
                Reduce.addColumnSums(pool, g, 0, n / b.size(), b.size(), gb, 0);
            }
        }
    }

    static void requireSame(String type, String name, Tensor a, Tensor b) {
        if (a.size() != b.size()) throw new EngineException(type + " '" + name + "': sizes differ: " + a + " vs " + b);
    }
}
