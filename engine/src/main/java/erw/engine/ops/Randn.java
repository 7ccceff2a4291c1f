package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/**
 * Fills a tensor with standard normals from Philox keyed by (seed, stream, counter): the counter is
 * read at run time from a scalar tensor (the step), and each run draws element i from block
 * {@code counter * 2^32 + i/4}. Same seed, stream and step: same numbers, on any backend.
 */
public record Randn(String name, Tensor out, long seed, long stream, Tensor counter) implements Op {
    public Randn {
        if (counter.size() != 1) throw shapeError("randn", name, "counter must be a scalar", counter);
    }

    @Override public String type() { return "randn"; }
    @Override public List<Tensor> inputs() { return List.of(counter); }
    @Override public List<Tensor> outputs() { return List.of(out); }
    @Override public boolean differentiable() { return false; }
}
