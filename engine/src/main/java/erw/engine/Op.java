package erw.engine;

import erw.engine.cpu.WorkerPool;
import java.util.List;

/**
 * One recorded operation: its inputs and outputs, a CPU forward, and (for differentiable ops) the
 * vector-Jacobian product that reads the outputs' gradients and <em>accumulates</em> into the
 * inputs' gradients. Ops validate shapes when constructed, so a graph that records is a graph
 * that runs.
 */
public abstract class Op {
    protected final String name;

    protected Op(String name) {
        this.name = name;
    }

    /** The op's label in errors and profiles, e.g. "blocks.3.attn.qkv". */
    public final String name() {
        return name;
    }

    /** The catalogue entry, e.g. "matmul"; a backend maps it to its kernel. */
    public abstract String type();

    public abstract List<Tensor> inputs();

    public abstract List<Tensor> outputs();

    public abstract void forward(WorkerPool pool);

    /** Whether {@link #backward} propagates anything. */
    public boolean differentiable() {
        return true;
    }

    /** Accumulates input gradients from output gradients. */
    public void backward(WorkerPool pool) {
        throw new EngineException(type() + " '" + name + "' has no backward");
    }

    /** Floating-point operations of one forward run (for profiles; 0 if not counted). */
    public long flops() {
        return 0;
    }

    protected static EngineException shapeError(String type, String name, String what, Tensor... ts) {
        StringBuilder sb = new StringBuilder(type).append(" '").append(name).append("': ").append(what).append(" (");
        for (int i = 0; i < ts.length; i++) {
            if (i > 0) sb.append(", ");
            sb.append(ts[i].name()).append(' ').append(ts[i].shapeString());
        }
        return new EngineException(sb.append(')').toString());
    }

    @Override
    public String toString() {
        return type() + " '" + name + "' " + inputs() + " -> " + outputs();
    }
}
