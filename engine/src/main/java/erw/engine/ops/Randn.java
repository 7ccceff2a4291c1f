package erw.engine.ops;

import static erw.engine.ops.Checks.shapeError;

import erw.engine.Op;
import erw.engine.Tensor;
import java.util.List;

/**
 * Fills a tensor with standard normals from Philox keyed by (seed, stream, counter): the counter is
 * read at run time from a scalar tensor (the step), and each run draws element i from block
 * {@code counter * 2^32 + i/4}. Same seed, stream and step: same numbers, on any backend.
 *
 * <p>{@code offset} (a multiple of 4) starts the tensor at element {@code offset} of that stream:
 * a data-parallel rank draws exactly its slice of the noise one process would draw for the whole
 * batch.
 */
public record Randn(String name, Tensor out, long seed, long stream, Tensor counter, long offset) implements Op {
    public Randn {
        if (counter.size() != 1) throw shapeError("randn", name, "counter must be a scalar", counter);
        if (offset < 0 || offset % 4 != 0 || offset / 4 >= 1L << 32) throw shapeError("randn", name, "offset " + offset + " must be a multiple of 4 in [0, 2^34)", out);
    }

    /** From element 0 of the stream. */
    public Randn(String name, Tensor out, long seed, long stream, Tensor counter) {
        this(name, out, seed, stream, counter, 0);
    }

    @Override public String type() { return "randn"; }
    @Override public List<Tensor> inputs() { return List.of(counter); }
    @Override public List<Tensor> outputs() { return List.of(out); }
    @Override public boolean differentiable() { return false; }
}
