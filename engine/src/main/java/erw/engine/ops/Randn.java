package erw.engine.ops;

import erw.engine.Op;
import erw.engine.Tensor;
import erw.engine.cpu.Philox;
import erw.engine.cpu.WorkerPool;
import java.util.List;

/**
 * Fills a tensor with standard normals from Philox keyed by (seed, stream, counter): the counter is
 * read at run time from a scalar tensor (the step), and each run draws element i from block
 * {@code counter * 2^32 + i/4}. Same seed, stream and step: same numbers, on any backend.
 */
public final class Randn extends Op {
    private final Tensor out, counter;
    private final long seed, stream;

    public Randn(String name, Tensor out, long seed, long stream, Tensor counter) {
        super(name);
        this.out = out;
        this.seed = seed;
        this.stream = stream;
        this.counter = counter;
        if (counter.size() != 1) throw shapeError(type(), name, "counter must be a scalar", counter);
    }

    @Override public String type() { return "randn"; }
    @Override public List<Tensor> inputs() { return List.of(counter); }
    @Override public List<Tensor> outputs() { return List.of(out); }
    @Override public boolean differentiable() { return false; }
    @Override public void backward(WorkerPool pool) { }

    @Override
    public void forward(WorkerPool pool) {
        long c = (long) counter.data()[0];
        Philox.normal(pool, seed, stream, c << 32, out.data(), 0, out.size());
    }
}
